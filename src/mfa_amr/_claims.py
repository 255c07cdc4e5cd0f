"""Frozen value objects: one row of the table, one element of an ``amr`` claim."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Final

import attrs

from mfa_amr._methods import validate_method
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError

UTC: Final = timezone.utc
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
    Unix seconds (``int`` or ``float``)."""
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


def _id(value: object) -> uuid.UUID:
    return to_uuid(value, "id")


def _session_id(value: object) -> uuid.UUID:
    return to_uuid(value, "session_id")


def _created_at(value: object) -> datetime:
    return to_utc(value, "created_at")


def _updated_at(value: object) -> datetime:
    return to_utc(value, "updated_at")


@attrs.frozen
class AMRClaim:
    """One row of ``auth.mfa_amr_claims``: a method a session proved.

    ``created_at`` is when the session first proved the method, ``updated_at`` the
    last time it did. Both are timezone-aware and normalised to UTC.

    Raises:
        InvalidClaimError: a field is not a UUID, a datetime is naive, or
            ``created_at`` is after ``updated_at``.
        InvalidMethodError: the method breaks the name syntax.
    """

    id: uuid.UUID = attrs.field(converter=_id)
    session_id: uuid.UUID = attrs.field(converter=_session_id)
    authentication_method: str = attrs.field(converter=validate_method)
    created_at: datetime = attrs.field(converter=_created_at)
    updated_at: datetime = attrs.field(converter=_updated_at)

    def __attrs_post_init__(self) -> None:
        if self.created_at > self.updated_at:
            raise InvalidClaimError(
                f"created_at ({self.created_at.isoformat()}) is after "
                f"updated_at ({self.updated_at.isoformat()})"
            )

    @property
    def method(self) -> str:
        """Short for ``authentication_method``."""
        return self.authentication_method

    @classmethod
    def _unchecked(
        cls,
        id: uuid.UUID,
        session_id: uuid.UUID,
        authentication_method: str,
        created_at: datetime,
        updated_at: datetime,
    ) -> AMRClaim:
        """Build a claim from values a store already trusts (its own rows), skipping
        validation. Datetimes must already be aware UTC."""
        self = object.__new__(cls)
        # The slot descriptors' setters directly: a store builds thousands of claims
        # per claims_many, and object.__setattr__ looks each name up again.
        _set_id(self, id)
        _set_session_id(self, session_id)
        _set_method(self, authentication_method)
        _set_created_at(self, created_at)
        _set_updated_at(self, updated_at)
        return self


_set_id, _set_session_id, _set_method, _set_created_at, _set_updated_at = (
    AMRClaim.__dict__[field.name].__set__ for field in attrs.fields(AMRClaim)
)


def _timestamp_validator(_i: object, _a: object, value: int) -> None:
    if type(value) is not int or value < 0:
        raise InvalidClaimError(
            f"timestamp must be non-negative whole Unix seconds (int), got {value!r}"
        )


def _provider_validator(_i: object, _a: object, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidClaimError(
            f"provider must be a non-empty string or None, got {value!r}"
        )


@attrs.frozen
class AMREntry:
    """One element of a token's ``amr`` claim, Supabase shape."""

    method: str = attrs.field(converter=validate_method)
    timestamp: int = attrs.field(validator=_timestamp_validator)
    provider: str | None = attrs.field(default=None, validator=_provider_validator)

    @classmethod
    def _unchecked(cls, method: str, timestamp: int, provider: str | None) -> AMREntry:
        """Build an entry from a claim's values, which are as valid as the claim."""
        self = object.__new__(cls)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "provider", provider)
        return self

    def to_dict(self) -> dict[str, str | int]:
        """The JSON-ready object: ``method`` and ``timestamp``, and ``provider`` only
        when set."""
        out: dict[str, str | int] = {"method": self.method, "timestamp": self.timestamp}
        if self.provider is not None:
            out["provider"] = self.provider
        return out
