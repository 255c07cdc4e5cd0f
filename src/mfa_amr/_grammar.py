"""Every syntax rule and bound of mfa_amr, once: method names, ``acr`` values, the
RFC 9110 tokens of a ``WWW-Authenticate`` header, Unix seconds, providers; and the
conversions of ids and times that every layer above shares.

Each rule has one home here and one error class where it is enforced: the value
objects raise :class:`~mfa_amr.exceptions.InvalidClaimError` (or
:class:`~mfa_amr.exceptions.InvalidMethodError` for a name), and the token reader
raises :class:`~mfa_amr.exceptions.AmrParseError` with the same words, prefixed by
where in the token the value was.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from mfa_amr._errors import InvalidClaimError, InvalidInputError, InvalidMethodError

__all__ = [
    "ACCEPTED_FORM",
    "ACR_VALUE",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_SKEW",
    "EPOCH",
    "MAX_TIMESTAMP",
    "METHOD_CHARACTER",
    "METHOD_MAX_LENGTH",
    "TOKEN",
    "TOKEN68",
    "UTC",
    "check_max_age",
    "is_acr_value",
    "is_valid_method",
    "json_kind",
    "provider_or_none",
    "provider_problem",
    "shown_number",
    "timestamp_problem",
    "to_now",
    "to_skew",
    "to_utc",
    "to_uuid",
    "unix_seconds",
    "validate_method",
]

# -- method names ---------------------------------------------------------------------

METHOD_MAX_LENGTH: Final = 64
"""The longest method name accepted, in characters."""

ACCEPTED_FORM: Final = (
    f"1 to {METHOD_MAX_LENGTH} characters of lowercase ASCII letters, digits, "
    "'/', '_', '-' or '.'"
)
METHOD_CHARACTER: Final = r"[a-z0-9/_.\-]"
"""One character of a method name, as a bracket expression that Python's ``re`` and
PostgreSQL's regular expressions read alike (``mfa-amr doctor`` checks stored names
with it)."""
# fullmatch, and an explicit class of ASCII code points: no case folding, no Unicode
# look-alikes, no trailing newline slipping past a `$`.
_METHOD: Final = re.compile(rf"{METHOD_CHARACTER}{{1,{METHOD_MAX_LENGTH}}}")


def is_valid_method(value: object) -> bool:
    """Tell whether ``value`` is a string of the accepted method syntax."""
    return isinstance(value, str) and _METHOD.fullmatch(value) is not None


def validate_method(value: object) -> str:
    """Return ``value`` as a plain ``str`` if it is a valid method name; an enum
    member (``AuthenticationMethod.TOTP``) gives its value.

    Raises:
        InvalidMethodError: not a string, or not of the accepted form. Nothing is
            normalised: ``"TOTP"`` is refused, not lowercased.
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str):
        raise InvalidMethodError(
            f"a method name must be a str, not {type(value).__name__}: "
            f"use {ACCEPTED_FORM}"
        )
    if _METHOD.fullmatch(value) is None:
        hint = ""
        folded = value.strip().lower()
        if folded != value and _METHOD.fullmatch(folded) is not None:
            hint = f", such as {folded!r}"
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidMethodError(
            f"{shown!r} is not a canonical method name: use {ACCEPTED_FORM}{hint}"
        )
    # str.__str__, not str(): a str subclass may override __str__ to return another
    # spelling than the one just checked.
    return str.__str__(value)


# -- acr values and the tokens of an HTTP header --------------------------------------

ACR_VALUE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
"""One ``acr`` value as a challenge's ``acr_values`` can carry it: RFC 6749's
NQCHAR (printable ASCII but ``"`` and ``\\``) without the space that separates the
values."""

TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An RFC 9110 ``token`` (an auth-scheme, a parameter name, an unquoted value)."""

TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""An RFC 9110 ``token68`` (the credentials-like form of a challenge)."""


def is_acr_value(value: object) -> bool:
    """Tell whether ``value`` can be sent as one ``acr`` value."""
    return isinstance(value, str) and ACR_VALUE.fullmatch(value) is not None


# -- the values of a token's amr ------------------------------------------------------

MAX_TIMESTAMP: Final = 253_402_300_799
"""9999-12-31T23:59:59Z: the last Unix second a timestamp, ``auth_time`` or
``max_age`` may name; anything later is refused, so every value converts to a
``datetime`` and prints in a few digits."""

DEFAULT_MAX_ENTRIES: Final = 64
"""How many entries :func:`~mfa_amr.parse_amr` reads at most, unless told."""

DEFAULT_SKEW: Final = 60
"""Seconds a time may lie in the future and still be trusted for freshness (clock
drift between servers): the default of a policy, a requirement and a store."""


def json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words; never its (unbounded) contents."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def shown_number(value: object) -> str:
    """``repr`` of a number short enough to print (a 5000-digit int cannot be)."""
    if isinstance(value, (int, float)) and -(10**15) < value < 10**15:
        return repr(value)
    return json_kind(value)


def timestamp_problem(value: object) -> str | None:
    """What keeps ``value`` from being an entry's timestamp (whole Unix seconds, an
    ``int`` from 0 to :data:`MAX_TIMESTAMP`), in words; ``None`` if nothing does."""
    if type(value) is int:
        if value < 0:
            return "Unix seconds must not be negative"
        if value > MAX_TIMESTAMP:
            return "Unix seconds after the year 9999"
        return None
    if isinstance(value, float):
        return f"expected whole Unix seconds (an integer), got {shown_number(value)}"
    return f"expected whole Unix seconds (an integer), got {json_kind(value)}"


def provider_problem(value: object) -> str | None:
    """What keeps ``value`` from being an entry's provider (a string; ``None`` or
    ``""`` for none, as Supabase leaves the key out for an empty one), in words;
    ``None`` if nothing does."""
    if value is None or isinstance(value, str):
        return None
    return f"expected a string, got {json_kind(value)}"


def provider_or_none(value: str | None) -> str | None:
    """A provider as an entry keeps it: ``None`` for none, ``""`` included."""
    return value or None


# Beyond this a number of seconds names no clock drift (and timedelta overflows not
# far past it): a century.
_MAX_SKEW_SECONDS: Final = 100 * 366 * 86_400


def to_skew(value: object, meaning: str) -> timedelta:
    """Return a ``skew=`` argument as a ``timedelta``: a ``timedelta`` or seconds (an
    ``int`` or a finite ``float``, at most a century), not negative.

    Raises:
        InvalidInputError: anything else; ``meaning`` says what the skew is for.
    """
    skew: timedelta | None = None
    if isinstance(value, timedelta):
        skew = value
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= _MAX_SKEW_SECONDS
    ):
        skew = timedelta(seconds=value)
    if skew is None or skew < timedelta(0):
        raise InvalidInputError(
            f"skew must be a non-negative timedelta or number of seconds ({meaning}), "
            f"got {value!r}"
        )
    return skew


# -- ids and times --------------------------------------------------------------------

UTC: Final = UTC
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_uuid(value: object, what: str = "session_id") -> uuid.UUID:
    """Return ``value`` as a UUID; accepts a ``UUID`` or its string form.

    Raises:
        InvalidClaimError: anything else, naming ``what``.
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise InvalidClaimError(
        f"{what} must be a UUID or its string form "
        f"('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'), got {shown}"
    )


def to_utc(value: object, what: str = "datetime") -> datetime:
    """Return an aware ``datetime`` converted to UTC.

    Raises:
        InvalidClaimError: not a datetime, a naive one (its zone would be a guess), or
            one before the Unix epoch (a token's timestamps cannot express it).
    """
    if not isinstance(value, datetime):
        raise InvalidClaimError(
            f"{what} must be a timezone-aware datetime, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidClaimError(
            f"{what} must be timezone-aware, got naive {value.isoformat()}: "
            "pass e.g. datetime.now(timezone.utc)"
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # an offset that pushes year 9999 past the range
        raise InvalidClaimError(
            f"{what} is out of range once converted to UTC: {value.isoformat()}"
        ) from exc
    if value < EPOCH:
        # Tokens carry whole non-negative Unix seconds: a claim dated earlier could
        # be rendered but never read back.
        raise InvalidClaimError(
            f"{what} must be at or after 1970-01-01T00:00:00Z (Unix time 0), "
            f"got {value.isoformat()}"
        )
    return value


def to_now(value: object) -> datetime:
    """Read a ``now`` argument: ``None`` (the current time), an aware datetime, or
    Unix seconds (``int`` or ``float``).

    Raises:
        InvalidInputError: anything else, or seconds that name no instant.
        InvalidClaimError: a naive or pre-1970 datetime.
    """
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return to_utc(value, "now")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not value >= 0:  # also refuses NaN
            raise InvalidInputError(
                f"now={value!r} is not a usable Unix time: use seconds since 1970, >= 0"
            )
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInputError(f"now={value!r} is not a usable Unix time") from exc
    raise InvalidInputError(
        "now must be None, a timezone-aware datetime or Unix seconds, "
        f"got {type(value).__name__}"
    )


def unix_seconds(value: datetime) -> int:
    """Whole Unix seconds of an aware datetime, floored (as Go's ``Time.Unix``)."""
    # days and seconds of the difference, rather than `// timedelta(seconds=1)`:
    # the same floor (seconds is in [0, 86400)), at half the cost on the render path.
    delta = value - EPOCH
    return delta.days * 86_400 + delta.seconds


def check_max_age(value: object) -> int | None:
    """Return ``value`` if it is a ``max_age``: ``None`` or whole seconds (an ``int``)
    from 0 to :data:`MAX_TIMESTAMP`.

    Raises:
        InvalidInputError: anything else.
    """
    if value is None or (type(value) is int and 0 <= value <= MAX_TIMESTAMP):
        return value
    raise InvalidInputError(
        f"max_age must be None or whole seconds (int) from 0 to {MAX_TIMESTAMP}, "
        f"got {shown_number(value)}"
    )
