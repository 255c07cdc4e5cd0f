"""The API server's side: read a token's ``amr``, check what a request needs, and
answer with an RFC 9470 step-up challenge.

Everything here is pure. The token's signature, issuer, audience and expiry are the
JWT library's business: these functions read a payload that has already been
verified, and trust nothing else about it. Work is bounded by ``max_entries``, not by
the size of what the token carries.
"""

from __future__ import annotations

import enum
import itertools
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import ClassVar, Final

import attrs

from mfa_amr import rfc8176
from mfa_amr._claims import to_now, unix_seconds
from mfa_amr._methods import (
    DEFAULT_CATALOG,
    METHOD_MAX_LENGTH,
    Factor,
    MethodSpec,
    validate_method,
)
from mfa_amr._policy import AAL, AmrStyle, Policy, _level_of
from mfa_amr.exceptions import (
    AmrParseError,
    ChallengeParseError,
    InvalidInputError,
    InvalidMethodError,
    StepUpRequired,
)

__all__ = [
    "MAX_TIMESTAMP",
    "Evaluation",
    "ParsedMethod",
    "StepUpChallenge",
    "evaluate",
    "parse_amr",
    "require",
]

MAX_TIMESTAMP: Final = 253_402_300_799
"""9999-12-31T23:59:59Z: the last Unix second a timestamp, ``auth_time`` or
``max_age`` may name; anything later is refused as malformed, so every value read
converts to a ``datetime`` and prints in a few digits."""

DEFAULT_MAX_ENTRIES: Final = 64

_DEFAULT_NAMES: Final = frozenset(spec.name for spec in DEFAULT_CATALOG)
_MISSING: Final = object()
_AAL_BY_VALUE: Final[Mapping[str, AAL]] = MappingProxyType(
    {level.value: level for level in AAL}
)


# -- the amr claim --------------------------------------------------------------------


def _timestamp_validator(_i: object, _a: object, value: int | None) -> None:
    if value is not None and not (type(value) is int and 0 <= value <= MAX_TIMESTAMP):
        raise InvalidInputError(
            f"timestamp must be None or whole Unix seconds (int) from 0 to "
            f"{MAX_TIMESTAMP}, got {_shown_number(value)}"
        )


def _provider_validator(_i: object, _a: object, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInputError(
            f"provider must be a non-empty string or None, got {value!r}"
        )


@attrs.frozen
class ParsedMethod:
    """One entry of a token's ``amr``, as read.

    Attributes:
        method: a method name (Supabase shape) or an RFC 8176 value (string shape),
            exactly as the token spells it.
        timestamp: Unix seconds of the method's last use; ``None`` for a string
            entry, which carries no time (none is invented).
        provider: the entry's ``provider`` (an SSO provider id), or ``None``.
    """

    method: str = attrs.field(converter=validate_method)
    timestamp: int | None = attrs.field(default=None, validator=_timestamp_validator)
    provider: str | None = attrs.field(default=None, validator=_provider_validator)


def _shown_number(value: object) -> str:
    """``repr`` of a number short enough to print (a 5000-digit int cannot be)."""
    if isinstance(value, (int, float)) and -(10**15) < value < 10**15:
        return repr(value)
    return _kind(value)


def _kind(value: object) -> str:
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


def _method(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise AmrParseError(
            f"{where}: expected a method name (a string), got {_kind(value)}"
        )
    # Length first: the name syntax check then never reads more than 64 characters.
    if len(value) > METHOD_MAX_LENGTH:
        raise AmrParseError(
            f"{where}: a method name of {len(value)} characters; "
            f"at most {METHOD_MAX_LENGTH} are accepted"
        )
    try:
        return validate_method(value)
    except InvalidMethodError as exc:
        raise AmrParseError(f"{where}: {exc}") from None


def _unix_seconds(value: object, where: str, *, whole: bool) -> int:
    """Read a NumericDate. ``whole``: only an int will do (an ``amr`` timestamp);
    otherwise a finite float is floored too (``auth_time``, RFC 7519)."""
    if isinstance(value, bool):
        raise AmrParseError(f"{where}: expected Unix seconds, got a boolean")
    if isinstance(value, float):
        if whole:
            raise AmrParseError(
                f"{where}: expected whole Unix seconds (an integer), got {value!r}"
            )
        if not math.isfinite(value):
            raise AmrParseError(f"{where}: expected finite Unix seconds, got {value!r}")
        value = math.floor(value)
    if not isinstance(value, int):
        raise AmrParseError(f"{where}: expected Unix seconds, got {_kind(value)}")
    if value < 0:
        raise AmrParseError(f"{where}: Unix seconds must not be negative")
    if value > MAX_TIMESTAMP:
        raise AmrParseError(f"{where}: Unix seconds after the year 9999")
    return int(value)


def _entry(item: Mapping[object, object], where: str) -> ParsedMethod:
    """One Supabase-shape object; keys other than the three are never looked at."""
    method = item.get("method", _MISSING)
    if method is _MISSING:
        raise AmrParseError(f"{where}.method: missing")
    name = _method(method, f"{where}.method")
    timestamp = item.get("timestamp")
    if timestamp is None:
        raise AmrParseError(
            f"{where}.timestamp: missing; an object entry needs whole Unix seconds"
        )
    seconds = _unix_seconds(timestamp, f"{where}.timestamp", whole=True)
    provider = item.get("provider")
    if provider is not None and (not isinstance(provider, str) or not provider):
        raise AmrParseError(
            f"{where}.provider: expected a non-empty string, got {_kind(provider)}"
        )
    return ParsedMethod(name, seconds, provider)


def _parse(
    value: object, *, strict: bool, max_entries: int, known: Collection[str]
) -> tuple[tuple[ParsedMethod, ...], AmrStyle | None]:
    """The entries of an ``amr`` and its shape (``None`` when empty)."""
    if type(max_entries) is not int or max_entries < 0:
        raise InvalidInputError(
            f"max_entries must be a non-negative int, got {max_entries!r}"
        )
    items: Sequence[object]
    if isinstance(value, str):
        if strict:
            raise AmrParseError(
                "amr: a single string, not a list; accepted only with strict=False"
            )
        items = (value,)
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise AmrParseError(
            f"amr: expected a list of objects or of strings, got {_kind(value)}"
        )
    if len(items) > max_entries:
        raise AmrParseError(
            f"amr: {len(items)} entries; at most {max_entries} are accepted"
        )
    style: AmrStyle | None = None
    out: list[ParsedMethod] = []
    # islice: the bound holds even for a sequence whose len() is not the truth.
    for index, item in enumerate(itertools.islice(items, max_entries)):
        where = f"amr[{index}]" if items is value else "amr"
        if isinstance(item, str):
            item_style, parsed = AmrStyle.RFC8176, ParsedMethod(_method(item, where))
        elif isinstance(item, Mapping):
            item_style, parsed = AmrStyle.SUPABASE, _entry(item, where)
        else:
            raise AmrParseError(
                f"{where}: expected an object or a string, got {_kind(item)}"
            )
        if style is None:
            style = item_style
        elif item_style is not style:
            found = (
                "a string among objects"
                if isinstance(item, str)
                else ("an object among strings")
            )
            raise AmrParseError(
                f"{where}: {found}; an amr is all objects (Supabase) or all strings "
                "(RFC 8176)"
            )
        if strict and not (
            rfc8176.is_registered(parsed.method) or parsed.method in known
        ):
            raise AmrParseError(
                f"{where}: {parsed.method!r} is neither a registered RFC 8176 value "
                "nor a method of the catalog (strict)"
            )
        out.append(parsed)
    return tuple(out), style


def parse_amr(
    value: object,
    *,
    strict: bool = False,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    policy: Policy | None = None,
) -> tuple[ParsedMethod, ...]:
    """Read a token's ``amr`` claim.

    Two shapes are accepted, never mixed: Supabase's objects (``method``, integer
    ``timestamp``, optional ``provider``; other keys ignored) and RFC 8176's strings
    (``timestamp`` is then ``None``). With ``strict=False`` a single string is read
    as a one-element list, as some identity providers send it.

    Args:
        value: the ``amr`` value of a decoded token payload.
        strict: also refuse entries that are neither registered RFC 8176 values nor
            methods of the catalog, and a bare string.
        max_entries: refuse an ``amr`` with more entries, before reading any.
        policy: whose catalog ``strict`` checks against; the default catalog when
            left out.

    Raises:
        AmrParseError: the claim is malformed; the message says what and where
            (``"amr[3].timestamp: ..."``).
    """
    known = _DEFAULT_NAMES if policy is None else policy.methods
    return _parse(value, strict=strict, max_entries=max_entries, known=known)[0]


# -- what a token proves --------------------------------------------------------------

_K, _P, _I = Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE
_REGISTRY_FACTORS: Final[Mapping[str, Factor]] = MappingProxyType(
    {
        rfc8176.PWD: _K,
        rfc8176.PIN: _K,
        rfc8176.OTP: _P,
        rfc8176.SMS: _P,
        rfc8176.TEL: _P,
        rfc8176.SWK: _P,
        rfc8176.POP: _P,
        rfc8176.HWK: _P,
        rfc8176.SC: _P,
        rfc8176.FACE: _I,
        rfc8176.FPT: _I,
        rfc8176.IRIS: _I,
        rfc8176.RETINA: _I,
        rfc8176.VBM: _I,
    }
)
"""The factor kind each registered value proves. ``kba`` (NIST: never raises a
level), ``user`` (presence, not verification), ``geo``, ``rba``, ``mca`` and ``wia``
prove none."""

_REGISTRY_SPECS: Final[Mapping[str, MethodSpec]] = MappingProxyType(
    {
        **{
            value: MethodSpec(
                value,
                factor,
                hardware_bound=value in (rfc8176.HWK, rfc8176.SC),
                description=rfc8176.REGISTRY[value],
            )
            for value, factor in _REGISTRY_FACTORS.items()
        },
        # `mfa` asserts two factor kinds without naming them: what counts is
        # multi_factor, the two kinds listed only satisfy MethodSpec's invariant.
        rfc8176.MFA: MethodSpec(
            rfc8176.MFA,
            (_K, _P),
            multi_factor=True,
            description=rfc8176.REGISTRY[rfc8176.MFA],
        ),
    }
)
"""What each counted registered value is worth, as a spec the level rule reads."""


@attrs.frozen
class Evaluation:
    """What a decoded token payload proves, under one policy at one instant.

    Attributes:
        methods: the ``amr`` entries, in the token's order; empty without ``amr``.
        style: the shape of the ``amr``; ``None`` when absent or empty.
        aal: the level the token claims in ``aal``; ``None`` when absent or not
            one of ``"aal1"``, ``"aal2"``, ``"aal3"``.
        amr_aal: the level the policy computes from the ``amr`` alone.
        auth_time: the token's ``auth_time`` in whole Unix seconds, or ``None``.
    """

    methods: tuple[ParsedMethod, ...]
    style: AmrStyle | None
    aal: AAL | None
    amr_aal: AAL
    auth_time: int | None

    @property
    def effective_aal(self) -> AAL | None:
        """The lower of ``aal`` and ``amr_aal``: what a level requirement is
        checked against; ``None`` when the token claims no level."""
        return None if self.aal is None else min(self.aal, self.amr_aal)


def _fresh(
    timed: list[tuple[int | None, MethodSpec]], now: int, window: timedelta | None
) -> list[MethodSpec]:
    """The specs still within ``window`` at ``now``; without a time, none is."""
    if window is None:
        return [spec for _, spec in timed]
    limit = window.total_seconds()
    return [spec for at, spec in timed if at is not None and now - at <= limit]


def _amr_level(
    policy: Policy,
    methods: tuple[ParsedMethod, ...],
    style: AmrStyle | None,
    auth_time: int | None,
    now: int,
) -> AAL:
    """The policy's level rule over a token's entries.

    Supabase-shape entries are catalog methods timed by their own timestamps, read
    as ``Policy._level`` reads claims. String entries are registered values timed by
    ``auth_time``; they reach aal2 with ``mfa`` or two factor kinds under either
    rule, aal3 (NIST rule only) with ``hwk`` or ``sc`` among two kinds.
    """
    if style is AmrStyle.RFC8176:
        registry = _REGISTRY_SPECS
        timed = [
            (auth_time, registry[m.method]) for m in methods if m.method in registry
        ]
    else:
        catalog = policy.methods
        timed = [
            (m.timestamp, catalog[m.method]) for m in methods if m.method in catalog
        ]
    return _level_of(
        policy.rule,
        _fresh(timed, now, policy.aal2_max_age),
        _fresh(timed, now, policy.aal3_max_age),
        by_factors=style is AmrStyle.RFC8176,
    )


def _now_seconds(now: datetime | float | None) -> int:
    return unix_seconds(to_now(now))


def _evaluate(policy: Policy, payload: object, now: int) -> Evaluation:
    if not isinstance(payload, Mapping):
        raise AmrParseError(
            f"payload: expected a decoded token (a JSON object), got {_kind(payload)}"
        )
    amr = payload.get("amr")
    methods: tuple[ParsedMethod, ...] = ()
    style: AmrStyle | None = None
    if amr is not None:
        methods, style = _parse(
            amr,
            strict=policy.strict,
            max_entries=DEFAULT_MAX_ENTRIES,
            known=policy.methods,
        )
    claimed = payload.get("aal")
    aal = _AAL_BY_VALUE.get(claimed) if type(claimed) is str else None
    raw_auth_time = payload.get("auth_time")
    auth_time = (
        None
        if raw_auth_time is None
        else _unix_seconds(raw_auth_time, "auth_time", whole=False)
    )
    return Evaluation(
        methods=methods,
        style=style,
        aal=aal,
        amr_aal=_amr_level(policy, methods, style, auth_time, now),
        auth_time=auth_time,
    )


def evaluate(
    policy: Policy, payload: object, *, now: datetime | float | None = None
) -> Evaluation:
    """What a decoded token payload proves under ``policy`` (``Policy.evaluate``).

    Raises:
        AmrParseError: the payload is not a JSON object, or its ``amr`` or
            ``auth_time`` is malformed.
    """
    return _evaluate(policy, payload, _now_seconds(now))


# -- requirements ---------------------------------------------------------------------


def _wanted_methods(methods: Iterable[str]) -> frozenset[str]:
    if isinstance(methods, (str, enum.Enum)):
        raise InvalidInputError(
            f"methods must be a collection of names such as {{'otp', 'hwk'}}, "
            f"not the single name {str(methods)!r}"
        )
    wanted = frozenset(validate_method(m) for m in methods)
    if not wanted:
        raise InvalidInputError(
            "methods must name at least one method: an empty set is never met"
        )
    return wanted


def _check_max_age(value: object) -> None:
    if value is not None and not (type(value) is int and 0 <= value <= MAX_TIMESTAMP):
        raise InvalidInputError(
            f"max_age must be None or whole seconds (int) from 0 to {MAX_TIMESTAMP}, "
            f"got {_shown_number(value)}"
        )


def _satisfies(policy: Policy, method: ParsedMethod, wanted: frozenset[str]) -> bool:
    """The method is wanted by its own name or by an RFC 8176 value the catalog
    maps it to: ``{"otp"}`` takes ``totp``, ``{"totp"}`` does not take ``otp``."""
    if method.method in wanted:
        return True
    spec = policy.methods.get(method.method)
    return spec is not None and not wanted.isdisjoint(spec.rfc8176)


def _shortfalls(
    policy: Policy,
    ev: Evaluation,
    at: int,
    demanded: AAL | None,
    wanted: frozenset[str] | None,
    max_age: int | None,
    skew: float,
) -> list[str]:
    """Each requirement the evaluated token does not meet, in words."""
    out: list[str] = []
    times = [m.timestamp for m in ev.methods if m.timestamp is not None]
    if ev.auth_time is not None:
        times.append(ev.auth_time)
    if times and max(times) - at > skew:
        out.append(
            f"the token's time of authentication is {max(times) - at} s in the "
            f"future, more than the {skew:g} s of clock skew allowed"
        )

    if demanded is not None:
        needs = f"this request needs {demanded}"
        if ev.aal is None:
            out.append(f"{needs} but the token claims no aal")
        elif ev.aal < demanded:
            out.append(f"{needs} but the token is {ev.aal}")
        elif ev.amr_aal < demanded:
            out.append(
                f"{needs} but the token's amr supports only {ev.amr_aal} "
                f"(it claims {ev.aal})"
            )

    candidates = ev.methods
    if wanted is not None:
        candidates = tuple(m for m in ev.methods if _satisfies(policy, m, wanted))
        if not candidates:
            out.append(
                f"this request needs {' or '.join(sorted(wanted))} and the "
                "token's amr has none of that"
            )
            return out  # max_age is not judged over methods that are not there

    if max_age is not None:
        # Entries without a timestamp (RFC 8176 strings) are as old as auth_time;
        # so is a token without amr.
        stamps = [m.timestamp for m in candidates] or [None]
        known = [ev.auth_time if s is None else s for s in stamps]
        newest = max((s for s in known if s is not None), default=None)
        needs = f"this request needs an authentication in the last {max_age} s"
        if newest is None:
            out.append(
                f"{needs} and the token gives no time for it "
                "(no amr timestamp, no auth_time)"
            )
        elif at - newest > max_age:
            out.append(f"{needs} and the last was {at - newest} s ago")
    return out


def require(
    policy: Policy,
    payload: object,
    *,
    aal: AAL | str | None = None,
    methods: Iterable[str] | None = None,
    max_age: int | None = None,
    now: datetime | float | None = None,
    skew: float = 60,
) -> None:
    """Check a decoded token payload against what a request needs
    (``Policy.require``); every requirement left out holds.

    Raises:
        StepUpRequired: a requirement is not met; the description names each, and
            ``acr_values`` the demanded level and those above it.
        AmrParseError: the payload or its ``amr`` is malformed.
        InvalidInputError: an argument is (``InvalidAALError`` for ``aal``).
    """
    demanded = None if aal is None else AAL.of(aal)
    wanted = None if methods is None else _wanted_methods(methods)
    _check_max_age(max_age)
    if (
        isinstance(skew, bool)
        or not isinstance(skew, (int, float))
        or not 0 <= skew < math.inf
    ):
        raise InvalidInputError(f"skew must be non-negative seconds, got {skew!r}")
    at = _now_seconds(now)
    ev = _evaluate(policy, payload, at)
    if demanded is None and wanted is None and max_age is None:
        return
    shortfalls = _shortfalls(policy, ev, at, demanded, wanted, max_age, skew)
    if shortfalls:
        text = "; ".join(shortfalls)
        raise StepUpRequired(
            text[0].upper() + text[1:],
            acr_values=(
                ()
                if demanded is None
                else tuple(policy.acr_for(level) for level in AAL if level >= demanded)
            ),
            max_age=max_age,
        )


# -- RFC 9470 challenges --------------------------------------------------------------

INSUFFICIENT_USER_AUTHENTICATION: Final = "insufficient_user_authentication"

# RFC 6749's NQCHAR without the space: what one space-separated acr value may hold.
_ACR_VALUE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_PARAM_START: Final = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*(?=[\"!#$%&'*+\-.^_`|~0-9A-Za-z])"
)
_DIGITS: Final = re.compile(r"[0-9]{1,20}")


def _header_text(value: object) -> str:
    """``value`` as text a header can carry: printable ASCII. Accents are dropped
    (``é`` becomes ``e``), whitespace and control characters become spaces,
    invisible formatting characters go, anything else becomes ``?``."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"a challenge's description must be a str, got {type(value).__name__}"
        )
    if value.isascii() and value.isprintable():
        return str.__str__(value)
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", value):
        if " " <= c <= "~":
            out.append(c)
        elif c.isspace() or unicodedata.category(c) == "Cc":
            out.append(" ")
        elif not (unicodedata.combining(c) or unicodedata.category(c) == "Cf"):
            out.append("?")
    return "".join(out)


def _acr_values(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInputError(
            f"acr_values must be a sequence of acr values, not the string {value!r}"
        )
    values = tuple(value)
    for v in values:
        if not isinstance(v, str) or _ACR_VALUE.fullmatch(v) is None:
            raise InvalidInputError(
                f"{v!r} cannot be sent as an acr value: use printable ASCII without "
                "spaces, quotes or backslashes"
            )
    return tuple(str.__str__(v) for v in values)


def _max_age_validator(_i: object, _a: object, value: int | None) -> None:
    _check_max_age(value)


def _quoted(text: str) -> str:
    """An RFC 9110 quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(header: str, pos: int) -> str:
    return repr(header[pos : pos + 30] + ("..." if len(header) > pos + 30 else ""))


def _read_quoted(header: str, start: int) -> tuple[str, int]:
    """The text of the quoted-string opening at ``start``, and the position after
    it."""
    out: list[str] = []
    pos = start + 1
    while pos < len(header):
        c = header[pos]
        if c == '"':
            return "".join(out), pos + 1
        if c == "\\":
            pos += 1
            if pos == len(header):
                break
            c = header[pos]
        if (c < " " and c != "\t") or c == "\x7f":
            raise ChallengeParseError(
                f"a control character (U+{ord(c):04X}) at position {pos} inside a "
                "quoted-string: such a character must not appear, even escaped"
            )
        out.append(c)
        pos += 1
    raise ChallengeParseError(
        f"the quoted-string opening at position {start} is not closed: "
        f"{_shown(header, start)}"
    )


def _skip_ows(header: str, pos: int) -> int:
    while pos < len(header) and header[pos] in " \t":
        pos += 1
    return pos


def _read_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """Every challenge of a ``WWW-Authenticate`` value (RFC 9110, section 11.6.1):
    its scheme and its parameters, names lowercased; a token68 is skipped."""
    challenges: list[tuple[str, dict[str, str]]] = []
    params: dict[str, str] | None = None  # the current challenge's
    pos, end = 0, len(header)
    while True:
        pos = _skip_ows(header, pos)
        while pos < end and header[pos] == ",":
            pos = _skip_ows(header, pos + 1)
        if pos == end:
            return challenges
        # After a comma, `name=` continues the current challenge; a bare token
        # starts the next one.
        param = None if params is None else _PARAM_START.match(header, pos)
        if params is None or param is None:
            scheme = _TOKEN.match(header, pos)
            if scheme is None:
                raise ChallengeParseError(
                    f"expected an auth-scheme such as Bearer at position {pos}: "
                    f"{_shown(header, pos)}"
                )
            params = {}
            challenges.append((scheme.group().lower(), params))
            pos = scheme.end()
            if pos < end and header[pos] not in " \t,":
                raise ChallengeParseError(
                    f"expected a space after the auth-scheme at position {pos}: "
                    f"{_shown(header, pos)}"
                )
            pos = _skip_ows(header, pos)
            if pos == end or header[pos] == ",":
                continue
            param = _PARAM_START.match(header, pos)
            if param is None:
                token68 = _TOKEN68.match(header, pos)
                after = end if token68 is None else _skip_ows(header, token68.end())
                if token68 is None or (after < end and header[after] != ","):
                    raise ChallengeParseError(
                        f"expected name=value at position {pos}: {_shown(header, pos)}"
                    )
                params, pos = None, after
                continue
        name = param.group(1).lower()
        pos = param.end()
        if header[pos] == '"':
            value, pos = _read_quoted(header, pos)
        else:
            token = _TOKEN.match(header, pos)
            if token is None:  # unreachable: _PARAM_START looked ahead for one
                raise ChallengeParseError(f"expected a value at position {pos}")
            value, pos = token.group(), token.end()
        if name in params:
            raise ChallengeParseError(
                f"the parameter {name!r} appears twice in one challenge"
            )
        params[name] = value
        pos = _skip_ows(header, pos)
        if pos < end and header[pos] != ",":
            raise ChallengeParseError(
                f"expected ',' after the value of {name!r} at position {pos}: "
                f"{_shown(header, pos)}"
            )


@attrs.frozen
class StepUpChallenge:
    """An RFC 9470 step-up challenge: what the resource server asks the client to
    come back with.

    Build one to render it, or read one from a response with :meth:`parse`.

    Attributes:
        error: always ``"insufficient_user_authentication"``.
        description: for people; kept to printable ASCII so that any HTTP stack can
            send it (other characters are replaced: see the docs).
        acr_values: ``acr`` values any one of which would do, preferred first.
        max_age: the most seconds since the last authentication the request allows.

    Raises:
        InvalidInputError: an ``acr`` value with spaces, quotes, backslashes or
            non-ASCII, or a ``max_age`` that is not an int from 0 to
            ``MAX_TIMESTAMP``.
    """

    error: ClassVar[str] = INSUFFICIENT_USER_AUTHENTICATION

    description: str = attrs.field(default="", converter=_header_text)
    acr_values: tuple[str, ...] = attrs.field(default=(), converter=_acr_values)
    max_age: int | None = attrs.field(default=None, validator=_max_age_validator)

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` value: ``Bearer
        error="insufficient_user_authentication", error_description="...",
        acr_values="...", max_age=N``, leaving out what is empty."""
        parts = [f"error={_quoted(self.error)}"]
        if self.description:
            parts.append(f"error_description={_quoted(self.description)}")
        if self.acr_values:
            parts.append(f"acr_values={_quoted(' '.join(self.acr_values))}")
        if self.max_age is not None:
            parts.append(f"max_age={self.max_age}")
        return "Bearer " + ", ".join(parts)

    def authorization_params(self) -> dict[str, str]:
        """The parameters to add to the next authorization request, as RFC 9470
        asks of a client: ``acr_values`` and ``max_age`` when present."""
        out: dict[str, str] = {}
        if self.acr_values:
            out["acr_values"] = " ".join(self.acr_values)
        if self.max_age is not None:
            out["max_age"] = str(self.max_age)
        return out

    @classmethod
    def parse(cls, header: str) -> StepUpChallenge:
        """Read the step-up challenge in a ``WWW-Authenticate`` value.

        Tolerates what RFC 9110 allows: any order of parameters, spaces around
        ``=`` and ``,``, the scheme and parameter names in any case, a value as a
        token or a quoted-string, other challenges and parameters beside it.

        Raises:
            ChallengeParseError: the value is malformed (an unclosed or badly
                escaped quoted-string, a parameter given twice, ...), or holds no
                Bearer challenge with ``error="insufficient_user_authentication"``.
        """
        if not isinstance(header, str):
            raise ChallengeParseError(
                f"a WWW-Authenticate value must be a str, got {type(header).__name__}"
            )
        bearer = [p for scheme, p in _read_challenges(header) if scheme == "bearer"]
        if not bearer:
            raise ChallengeParseError(f"no Bearer challenge in {_shown(header, 0)}")
        for params in bearer:
            if params.get("error") == INSUFFICIENT_USER_AUTHENTICATION:
                break
        else:
            errors = [repr(p["error"][:40]) for p in bearer if "error" in p]
            raise ChallengeParseError(
                "not a step-up challenge: the Bearer challenge's error is "
                f"{errors[0] if errors else 'missing'}, not "
                f"{INSUFFICIENT_USER_AUTHENTICATION!r}"
            )
        max_age = params.get("max_age")
        if max_age is not None and _DIGITS.fullmatch(max_age) is None:
            raise ChallengeParseError(
                f"max_age must be whole seconds (digits), got {max_age[:30]!r}"
            )
        acr_values = params.get("acr_values", "").replace("\t", " ").split(" ")
        try:
            return cls(
                params.get("error_description", ""),
                tuple(v for v in acr_values if v),
                None if max_age is None else int(max_age),
            )
        except InvalidInputError as exc:
            raise ChallengeParseError(f"not a valid step-up challenge: {exc}") from None
