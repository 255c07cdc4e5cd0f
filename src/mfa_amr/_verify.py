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
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from mfa_amr import rfc8176
from mfa_amr._challenge import StepUpRequired
from mfa_amr._claims import AmrStyle, check_provider, check_timestamp
from mfa_amr._errors import AmrParseError, InvalidInputError, InvalidMethodError
from mfa_amr._grammar import (
    DEFAULT_MAX_ENTRIES,
    METHOD_MAX_LENGTH,
    check_max_age,
    json_kind,
    provider_problem,
    timestamp_problem,
    to_now,
    unix_seconds,
    validate_method,
)
from mfa_amr._levels import AAL, PolicyTerms, level_of
from mfa_amr._methods import DEFAULT_CATALOG, REGISTRY_SPECS, MethodSpec

__all__ = [
    "Evaluation",
    "ParsedMethod",
    "evaluate",
    "parse_amr",
    "require",
]

_DEFAULT_NAMES: Final = frozenset(spec.name for spec in DEFAULT_CATALOG)
_MISSING: Final = object()
_CLAIMED_AAL: Final[Mapping[str, AAL]] = {level.value: level for level in AAL}


# -- the amr claim --------------------------------------------------------------------


def _optional_timestamp(_i: object, attribute: object, value: int | None) -> None:
    if value is not None:
        check_timestamp(_i, attribute, value)


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
    timestamp: int | None = attrs.field(default=None, validator=_optional_timestamp)
    provider: str | None = attrs.field(default=None, validator=check_provider)


def _method(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise AmrParseError(
            f"{where}: expected a method name (a string), got {json_kind(value)}"
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


def _timestamp(value: object, where: str) -> int:
    problem = timestamp_problem(value)
    if problem is not None:
        raise AmrParseError(f"{where}: {problem}")
    return value  # type: ignore[return-value]  # timestamp_problem said: an int


def _auth_time(value: object) -> int:
    """Read ``auth_time``, a NumericDate (RFC 7519): a finite float is floored."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AmrParseError(
                f"auth_time: expected finite Unix seconds, got {value!r}"
            )
        value = math.floor(value)
    return _timestamp(value, "auth_time")


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
    seconds = _timestamp(timestamp, f"{where}.timestamp")
    provider = item.get("provider")
    problem = provider_problem(provider)
    if problem is not None:
        raise AmrParseError(f"{where}.provider: {problem}")
    return ParsedMethod(name, seconds, provider)  # type: ignore[arg-type]


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
            f"amr: expected a list of objects or of strings, got {json_kind(value)}"
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
                f"{where}: expected an object or a string, got {json_kind(item)}"
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
    policy: PolicyTerms | None = None,
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
    policy: PolicyTerms,
    methods: tuple[ParsedMethod, ...],
    style: AmrStyle | None,
    auth_time: int | None,
    now: int,
) -> AAL:
    """The policy's level rule over a token's entries.

    Supabase-shape entries are catalog methods timed by their own timestamps, read
    as the issuing side reads claims. String entries are registered values timed by
    ``auth_time``; they reach aal2 with ``mfa`` or two factor kinds under either
    rule, aal3 (NIST rule only) with ``hwk`` or ``sc`` among two kinds.
    """
    if style is AmrStyle.RFC8176:
        registry = REGISTRY_SPECS
        timed = [
            (auth_time, registry[m.method]) for m in methods if m.method in registry
        ]
    else:
        catalog = policy.methods
        timed = [
            (m.timestamp, catalog[m.method]) for m in methods if m.method in catalog
        ]
    return level_of(
        policy.rule,
        _fresh(timed, now, policy.aal2_max_age),
        _fresh(timed, now, policy.aal3_max_age),
        by_factors=style is AmrStyle.RFC8176,
    )


def _now_seconds(now: datetime | float | None) -> int:
    return unix_seconds(to_now(now))


def _evaluate(policy: PolicyTerms, payload: object, now: int) -> Evaluation:
    if not isinstance(payload, Mapping):
        raise AmrParseError(
            f"payload: expected a decoded token (a JSON object), got {json_kind(payload)}"
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
    aal = _CLAIMED_AAL.get(claimed) if type(claimed) is str else None
    raw_auth_time = payload.get("auth_time")
    auth_time = None if raw_auth_time is None else _auth_time(raw_auth_time)
    return Evaluation(
        methods=methods,
        style=style,
        aal=aal,
        amr_aal=_amr_level(policy, methods, style, auth_time, now),
        auth_time=auth_time,
    )


def evaluate(
    policy: PolicyTerms, payload: object, *, now: datetime | float | None = None
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


def _satisfies(
    policy: PolicyTerms, method: ParsedMethod, wanted: frozenset[str]
) -> bool:
    """The method is wanted by its own name or by an RFC 8176 value the catalog
    maps it to: ``{"otp"}`` takes ``totp``, ``{"totp"}`` does not take ``otp``."""
    if method.method in wanted:
        return True
    spec = policy.methods.get(method.method)
    return spec is not None and not wanted.isdisjoint(spec.rfc8176)


def _shortfalls(
    policy: PolicyTerms,
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
    policy: PolicyTerms,
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
    check_max_age(max_age)
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
                else tuple(
                    policy.acr_values[level] for level in AAL if level >= demanded
                )
            ),
            max_age=max_age,
        )
