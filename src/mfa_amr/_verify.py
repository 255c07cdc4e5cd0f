"""The API server's side: read a token's ``amr``, ``aal``, ``acr`` and
``auth_time``, and check what a request needs (:class:`Requirement`), answering
with an RFC 9470 step-up challenge.

Everything here is pure. The token's signature, issuer, audience and expiry are the
JWT library's business: these functions read a payload that has already been
verified, and trust nothing else about it. Work is bounded by ``max_entries``, not by
the size of what the token carries.

Reading has two paths that give the same result for every input (a property test
runs both): a fast one for the plain, well-formed JSON a token decodes to, which
builds no validated objects and no messages, and the careful one, which decides
every error and its message. Whatever the fast path does not recognise goes to the
careful path.
"""

from __future__ import annotations

import enum
import itertools
import math
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final, Literal, TypeAlias

import attrs

from mfa_amr import rfc8176
from mfa_amr._challenge import StepUpChallenge, StepUpRequired
from mfa_amr._claims import AmrStyle, check_timestamp, to_provider
from mfa_amr._errors import AmrParseError, InvalidInputError, InvalidMethodError
from mfa_amr._grammar import (
    DEFAULT_MAX_ENTRIES,
    MAX_TIMESTAMP,
    METHOD_MAX_LENGTH,
    check_max_age,
    json_kind,
    provider_problem,
    timestamp_problem,
    to_now,
    to_skew,
    unix_seconds,
    validate_method,
)
from mfa_amr._levels import AAL, PolicyTerms, level_of, windows
from mfa_amr._methods import DEFAULT_CATALOG, REGISTRY_SPECS, evidence, is_known

__all__ = [
    "PHISHING_RESISTANT",
    "PHISHING_RESISTANT_HARDWARE",
    "Evaluation",
    "ParsedMethod",
    "Requirement",
    "evaluate",
    "parse_amr",
]

PHISHING_RESISTANT: Final = "phr"
"""The OpenID EAP ``acr`` value for phishing-resistant authentication."""
PHISHING_RESISTANT_HARDWARE: Final = "phrh"
"""The OpenID EAP ``acr`` value for phishing-resistant authentication with a
hardware-protected key."""

PhishingResistance: TypeAlias = bool | Literal["hardware"]

_DEFAULT_NAMES: Final = frozenset(spec.name for spec in DEFAULT_CATALOG)
_MISSING: Final = object()
_CLAIMED_AAL: Final[Mapping[str, AAL]] = {level.value: level for level in AAL}
_SUPABASE: Final = AmrStyle.SUPABASE
_RFC8176: Final = AmrStyle.RFC8176
_AAL1: Final = AAL.AAL1


# -- the amr claim --------------------------------------------------------------------


def _optional_timestamp(_i: object, attribute: object, value: int | None) -> None:
    if value is not None:
        check_timestamp(_i, attribute, value)


@attrs.frozen
class ParsedMethod:
    """One entry of a token's ``amr``, as read.

    Attributes:
        method: a method name (Supabase shape) or an RFC 8176 value (string shape),
            exactly as the token spells it. A name another writer stored outside
            the method syntax (``TOTP``, ``sso:okta``) is read as it is, as an
            unknown method, unless the policy is strict; building a
            ``ParsedMethod`` yourself checks the syntax.
        timestamp: Unix seconds of the method's last use; ``None`` for a string
            entry, which carries no time (none is invented).
        provider: the entry's ``provider`` (an SSO provider id), or ``None``
            (``""`` in a token means none, as Supabase writes it).
    """

    method: str = attrs.field(converter=validate_method)
    timestamp: int | None = attrs.field(default=None, validator=_optional_timestamp)
    provider: str | None = attrs.field(default=None, converter=to_provider)


_set_method, _set_timestamp, _set_provider = (
    ParsedMethod.__dict__[field.name].__set__ for field in attrs.fields(ParsedMethod)
)


def _parsed(method: str, timestamp: int | None, provider: str | None) -> ParsedMethod:
    """A ParsedMethod of values the reader has checked (provider already ``None``
    for none): the converters would only check them again."""
    entry = object.__new__(ParsedMethod)
    _set_method(entry, method)
    _set_timestamp(entry, timestamp)
    _set_provider(entry, provider)
    return entry


# A string entry of a registered value is always the same immutable value: shared,
# not built for every token (the set is the registry's, so it cannot grow).
_REGISTERED_ENTRIES: Final[Mapping[str, ParsedMethod]] = {
    value: _parsed(value, None, None) for value in rfc8176.REGISTRY
}


def _method(value: object, where: str, strict: bool) -> str:
    if not isinstance(value, str):
        raise AmrParseError(
            f"{where}: expected a method name (a string), got {json_kind(value)}"
        )
    if strict:
        # Length first: the name syntax check then never reads more than 64
        # characters.
        if len(value) > METHOD_MAX_LENGTH:
            raise AmrParseError(
                f"{where}: a method name of {len(value)} characters; "
                f"at most {METHOD_MAX_LENGTH} are accepted (strict)"
            )
        try:
            validate_method(value)
        except InvalidMethodError as exc:
            raise AmrParseError(f"{where}: {exc} (strict)") from None
    # str.__str__: a str subclass's __str__ may spell it otherwise.
    return str.__str__(value)


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


def _entry(item: Mapping[object, object], where: str, strict: bool) -> ParsedMethod:
    """One Supabase-shape object; keys other than the three are never looked at."""
    method = item.get("method", _MISSING)
    if method is _MISSING:
        raise AmrParseError(f"{where}.method: missing")
    name = _method(method, f"{where}.method", strict)
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
    return _parsed(name, seconds, str.__str__(provider) if provider else None)


def _careful(
    value: object, *, strict: bool, max_entries: int, known: Collection[str]
) -> tuple[tuple[ParsedMethod, ...], AmrStyle | None]:
    """The entries of an ``amr`` and its shape, every fault named with its place."""
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
            item_style = _RFC8176
            parsed = _parsed(_method(item, where, strict), None, None)
        elif isinstance(item, Mapping):
            item_style, parsed = _SUPABASE, _entry(item, where, strict)
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
                else "an object among strings"
            )
            raise AmrParseError(
                f"{where}: {found}; an amr is all objects (Supabase) or all strings "
                "(RFC 8176)"
            )
        if strict and not is_known(parsed.method, known):
            raise AmrParseError(
                f"{where}: {parsed.method!r} is neither a registered RFC 8176 value "
                "nor a method of the catalog (strict)"
            )
        out.append(parsed)
    return tuple(out), style


def _fast(
    value: object, strict: bool, max_entries: int, known: Collection[str]
) -> tuple[tuple[ParsedMethod, ...], AmrStyle | None] | None:
    """The careful path's answer for a plain, well-formed list, or ``None`` to send
    the input there: no message is built and nothing is checked twice."""
    if type(value) is not list or len(value) > max_entries:
        return None
    if not value:
        return (), None
    out = []
    if type(value[0]) is str:
        registered = _REGISTERED_ENTRIES
        for item in value:
            if type(item) is not str or (strict and not is_known(item, known)):
                return None
            entry = registered.get(item)
            out.append(_parsed(item, None, None) if entry is None else entry)
        return tuple(out), _RFC8176
    for item in value:
        if type(item) is not dict:
            return None
        method = item.get("method")
        timestamp = item.get("timestamp")
        provider = item.get("provider")
        if (
            type(method) is not str
            or type(timestamp) is not int
            or not 0 <= timestamp <= MAX_TIMESTAMP
            or (provider is not None and type(provider) is not str)
            or (strict and not is_known(method, known))
        ):
            return None
        out.append(_parsed(method, timestamp, provider or None))
    return tuple(out), _SUPABASE


def _parse(
    value: object, *, strict: bool, max_entries: int, known: Collection[str]
) -> tuple[tuple[ParsedMethod, ...], AmrStyle | None]:
    """The entries of an ``amr`` and its shape (``None`` when empty)."""
    if type(max_entries) is not int or max_entries < 0:
        raise InvalidInputError(
            f"max_entries must be a non-negative int, got {max_entries!r}"
        )
    read = _fast(value, strict, max_entries, known)
    if read is None:
        read = _careful(value, strict=strict, max_entries=max_entries, known=known)
    return read


def parse_amr(
    value: object,
    *,
    strict: bool = False,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    policy: PolicyTerms | None = None,
) -> tuple[ParsedMethod, ...]:
    """Read a token's ``amr`` claim.

    Two shapes are accepted, never mixed: Supabase's objects (``method``, integer
    ``timestamp``, optional ``provider``; other keys ignored; a ``provider`` of
    ``""`` is none) and RFC 8176's strings (``timestamp`` is then ``None``). With
    ``strict=False`` a single string is read as a one-element list, as some
    identity providers send it, and a method name outside the syntax (another
    writer's ``TOTP``) is read as it is: an unknown method, counted toward nothing.

    Args:
        value: the ``amr`` value of a decoded token payload.
        strict: also refuse a name outside the method syntax, entries that are
            neither registered RFC 8176 values nor methods of the catalog, and a
            bare string.
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
        aal: the level the token claims: its ``aal`` claim, or, when it has none,
            its ``acr`` through the policy's :attr:`~mfa_amr.Policy.acr_values`;
            ``None`` when neither names a level (an ``acr`` the mapping does not
            know claims nothing).
        amr_aal: the level the policy computes from the ``amr`` alone.
        auth_time: the token's ``auth_time`` in whole Unix seconds, or ``None``.
        acr: the token's ``acr`` claim as it is, or ``None``.
    """

    methods: tuple[ParsedMethod, ...]
    style: AmrStyle | None
    aal: AAL | None
    amr_aal: AAL
    auth_time: int | None
    acr: str | None = None

    @property
    def effective_aal(self) -> AAL | None:
        """The lower of ``aal`` and ``amr_aal``: what a level requirement is
        checked against; ``None`` when the token claims no level."""
        return None if self.aal is None else min(self.aal, self.amr_aal)


(
    _set_ev_methods,
    _set_ev_style,
    _set_ev_aal,
    _set_ev_amr_aal,
    _set_ev_auth_time,
    _set_ev_acr,
) = (Evaluation.__dict__[field.name].__set__ for field in attrs.fields(Evaluation))


def _evaluation(
    methods: tuple[ParsedMethod, ...],
    style: AmrStyle | None,
    aal: AAL | None,
    amr_aal: AAL,
    auth_time: int | None,
    acr: str | None,
) -> Evaluation:
    """An Evaluation of values this module computed, without attrs' frozen
    ``__init__``: this is every request's path."""
    ev = object.__new__(Evaluation)
    _set_ev_methods(ev, methods)
    _set_ev_style(ev, style)
    _set_ev_aal(ev, aal)
    _set_ev_amr_aal(ev, amr_aal)
    _set_ev_auth_time(ev, auth_time)
    _set_ev_acr(ev, acr)
    return ev


def _now_seconds(now: datetime | float | None) -> int:
    if now is None:
        return int(time.time())  # the clock, read once; floored as unix_seconds
    if type(now) is int and 0 <= now <= MAX_TIMESTAMP:
        return now
    return unix_seconds(to_now(now))


class _Judge:
    """A policy's terms made ready for reading tokens, at one clock skew: what every
    request's evaluation reads, looked up once (a requirement keeps one)."""

    __slots__ = (
        "aal_for_acr",
        "catalog",
        "rule",
        "skew",
        "strict",
        "window2",
        "window3",
    )

    def __init__(self, policy: PolicyTerms, skew: float) -> None:
        self.catalog = policy.methods
        self.rule = policy.rule
        self.strict = policy.strict
        self.window2, self.window3 = windows(policy)
        self.skew = skew
        self.aal_for_acr = policy.aal_for_acr

    def evaluate(self, payload: object, now: int) -> Evaluation:
        """What ``payload`` proves at ``now`` (whole Unix seconds)."""
        if type(payload) is not dict and not isinstance(payload, Mapping):
            raise AmrParseError(
                "payload: expected a decoded token (a JSON object), got "
                f"{json_kind(payload)}"
            )
        raw_auth_time = payload.get("auth_time")
        auth_time = None if raw_auth_time is None else _auth_time(raw_auth_time)
        amr = payload.get("amr")
        methods: tuple[ParsedMethod, ...] = ()
        style: AmrStyle | None = None
        if amr is not None:
            methods, style = _parse(
                amr,
                strict=self.strict,
                max_entries=DEFAULT_MAX_ENTRIES,
                known=self.catalog,
            )
        raw_acr = payload.get("acr")
        acr = str.__str__(raw_acr) if isinstance(raw_acr, str) else None
        claimed = payload.get("aal")
        if claimed is not None:  # a token with both is read by its aal
            aal = (
                _CLAIMED_AAL.get(str.__str__(claimed))
                if isinstance(claimed, str)
                else None
            )
        else:
            aal = None if acr is None else self.aal_for_acr(acr)
        return _evaluation(
            methods,
            style,
            aal,
            self.level(methods, style, auth_time, now),
            auth_time,
            acr,
        )

    def level(
        self,
        methods: tuple[ParsedMethod, ...],
        style: AmrStyle | None,
        auth_time: int | None,
        now: int,
    ) -> AAL:
        """The policy's level rule over a token's entries, at ``now``.

        Supabase-shape entries are catalog methods timed by their own timestamps,
        judged as the issuing side judges claims. String entries are registered
        values timed by ``auth_time``; they reach aal2 with ``mfa`` or two factor
        kinds under either rule, aal3 (NIST rule only) with ``hwk`` or ``sc`` among
        two kinds.
        """
        if not methods:
            return _AAL1
        if style is _RFC8176:
            registry = REGISTRY_SPECS
            timed = [
                (auth_time, spec) for m in methods if (spec := registry.get(m.method))
            ]
        else:
            catalog = self.catalog
            timed = [
                (m.timestamp, spec) for m in methods if (spec := catalog.get(m.method))
            ]
        proof = evidence(timed, now, self.window2, self.window3, self.skew)
        return level_of(self.rule, proof, by_factors=style is _RFC8176)


def evaluate(
    policy: PolicyTerms, payload: object, *, now: datetime | float | None = None
) -> Evaluation:
    """What a decoded token payload proves under ``policy`` (``Policy.evaluate``).

    Raises:
        AmrParseError: the payload is not a JSON object, or its ``amr`` or
            ``auth_time`` is malformed.
    """
    judge = _Judge(policy, policy.skew.total_seconds())
    return judge.evaluate(payload, _now_seconds(now))


# -- requirements ---------------------------------------------------------------------


def _to_aal(value: AAL | str | None) -> AAL | None:
    return None if value is None else AAL.of(value)


def _to_methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, (str, enum.Enum)):
        raise InvalidInputError(
            f"methods must be a collection of names such as {{'otp', 'hwk'}}, "
            f"not the single name {str(methods)!r}"
        )
    try:
        names = list(methods)
    except TypeError:
        raise InvalidInputError(
            f"methods must be a collection of names, got {type(methods).__name__}"
        ) from None
    wanted = frozenset(validate_method(m) for m in names)
    if not wanted:
        raise InvalidInputError(
            "methods must name at least one method: an empty set is never met"
        )
    return wanted


def _to_skew(value: timedelta | float) -> float:
    return to_skew(value, "how far in the future a time may lie").total_seconds()


def _check_max_age(_i: object, _a: object, value: int | None) -> None:
    check_max_age(value)


def _check_phishing_resistance(_i: object, _a: object, value: object) -> None:
    if value is not True and value is not False and value != "hardware":
        raise InvalidInputError(
            f"phishing_resistant must be True, False or 'hardware', got {value!r}"
        )


def _policy_skew(requirement: Requirement) -> float:
    return requirement.policy.skew.total_seconds()


def _joined(words: Iterable[str]) -> str:
    return " or ".join(sorted(words))


@attrs.frozen
class Requirement:
    """What a request needs of its token, checked once, as a value.

    Build it with :meth:`Policy.requirement <mfa_amr.Policy.requirement>` where the
    route is defined; every argument is checked then. :meth:`check` judges a
    decoded, already verified token payload and returns its
    :class:`Evaluation`, or raises :class:`~mfa_amr.StepUpRequired` carrying
    :attr:`challenge`'s ``acr_values`` and ``max_age``.

    Attributes:
        policy: whose rule, catalog, windows and ``acr`` names judge the token.
        aal: the least level, or ``None``.
        methods: names any one of which will do, or ``None``.
        max_age: the most seconds since the newest authentication, or ``None``.
        phishing_resistant: ``True``, ``"hardware"``, or ``False``.
        skew: seconds a time may lie in the future and still prove freshness
            (given in seconds or as a ``timedelta``).
    """

    policy: PolicyTerms = attrs.field(repr=False)
    aal: AAL | None = attrs.field(default=None, converter=_to_aal, kw_only=True)
    methods: frozenset[str] | None = attrs.field(
        default=None, converter=_to_methods, kw_only=True
    )
    max_age: int | None = attrs.field(
        default=None, validator=_check_max_age, kw_only=True
    )
    phishing_resistant: PhishingResistance = attrs.field(
        default=False, validator=_check_phishing_resistance, kw_only=True
    )
    skew: float = attrs.field(
        default=attrs.Factory(_policy_skew, takes_self=True),
        converter=_to_skew,
        kw_only=True,
    )
    _acr_values: tuple[str, ...] = attrs.field(
        init=False, repr=False, eq=False, hash=False
    )
    _empty: bool = attrs.field(init=False, repr=False, eq=False, hash=False)
    _judge: _Judge = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        # RFC 9470's acr_values are alternatives, any one of which would do: the
        # EAP values when phishing resistance is needed (a level cannot be asked
        # beside them), else the demanded level and every level above it.
        if self.phishing_resistant == "hardware":
            acr: tuple[str, ...] = (PHISHING_RESISTANT_HARDWARE,)
        elif self.phishing_resistant:
            acr = (PHISHING_RESISTANT, PHISHING_RESISTANT_HARDWARE)
        elif self.aal is not None:
            names = self.policy.acr_values
            acr = tuple(names[level] for level in AAL if level >= self.aal)
        else:
            acr = ()
        StepUpChallenge(acr_values=acr)  # every challenge it sends can be sent
        object.__setattr__(self, "_acr_values", acr)
        object.__setattr__(self, "_judge", _Judge(self.policy, self.skew))
        object.__setattr__(
            self,
            "_empty",
            self.aal is None
            and self.methods is None
            and self.max_age is None
            and not self.phishing_resistant,
        )

    @property
    def challenge(self) -> StepUpChallenge:
        """The challenge this requirement answers with, described by what it needs
        (a refusal's own challenge says what was missing instead)."""
        return StepUpChallenge(
            _capitalised("; ".join(self._needs()) or "this request needs nothing"),
            self._acr_values,
            self.max_age,
        )

    def check(
        self, payload: Mapping[str, object], *, now: datetime | float | None = None
    ) -> Evaluation:
        """Judge a decoded, already verified token payload at ``now`` (an aware
        datetime or Unix seconds; the clock when left out) and return its
        :class:`Evaluation`.

        Raises:
            StepUpRequired: a requirement is not met; the description names each.
            AmrParseError: the payload, its ``amr`` or its ``auth_time`` is
                malformed: an invalid token, not a reason to sign in again.
            InvalidInputError: ``now`` is not a usable instant.
        """
        at = _now_seconds(now)
        ev = self._judge.evaluate(payload, at)
        if self._empty or self._met(ev, at):
            return ev
        # Not met: refused, whatever the words (fail closed).
        raise StepUpRequired(
            _capitalised("; ".join(self._shortfalls(ev, at))),
            acr_values=self._acr_values,
            max_age=self.max_age,
        )

    # -- internals ----------------------------------------------------------------

    def _needs(self) -> list[str]:
        """What the requirement needs, in words, one item per requirement given."""
        return [
            need
            for need in (
                self._need_phishing_resistance(),
                self._need_aal(),
                self._need_methods(),
                self._need_max_age(),
            )
            if need
        ]

    def _need_phishing_resistance(self) -> str:
        if not self.phishing_resistant:
            return ""
        hardware = self.phishing_resistant == "hardware"
        return "this request needs a phishing-resistant sign-in" + (
            " with a hardware-bound key" if hardware else ""
        )

    def _need_aal(self) -> str:
        return "" if self.aal is None else f"this request needs {self.aal}"

    def _need_methods(self) -> str:
        return (
            ""
            if self.methods is None
            else f"this request needs {_joined(self.methods)}"
        )

    def _need_max_age(self) -> str:
        if self.max_age is None:
            return ""
        return f"this request needs an authentication in the last {self.max_age} s"

    def _met(self, ev: Evaluation, at: int) -> bool:
        """Whether every requirement holds: the request's path, which builds no
        words; a refusal is explained by :meth:`_shortfalls`."""
        demanded = self.aal
        if demanded is not None and (
            ev.aal is None or ev.aal < demanded or ev.amr_aal < demanded
        ):
            return False
        if self.phishing_resistant and not self._phishing_resistant(ev):
            return False
        if self.methods is None and self.max_age is None:
            return True
        candidates = self._candidates(ev)
        if self.methods is not None and not candidates:
            return False
        return self.max_age is None or not self._too_old(ev, candidates, at)

    def _candidates(self, ev: Evaluation) -> list[ParsedMethod]:
        """The entries ``max_age`` is judged over: those that meet ``methods``, or
        without it every entry that counts (a catalog method, or a string entry)."""
        if self.methods is not None:
            return self._matches(ev, self.methods)
        if ev.style is _SUPABASE:
            catalog = self.policy.methods
            return [m for m in ev.methods if m.method in catalog]
        return list(ev.methods)

    def _matches(self, ev: Evaluation, wanted: frozenset[str]) -> list[ParsedMethod]:
        """The entries that meet ``wanted``: by their own name, or (Supabase shape)
        by a value the catalog maps them to. A string entry is a registered value:
        only that value can meet a name, since the token names no method."""
        if ev.style is _RFC8176:
            return [m for m in ev.methods if m.method in wanted]
        catalog = self.policy.methods
        out = []
        for m in ev.methods:
            spec = catalog.get(m.method)
            if m.method in wanted or (
                spec is not None and not wanted.isdisjoint(spec.rfc8176)
            ):
                out.append(m)
        return out

    def _phishing_resistant(self, ev: Evaluation) -> bool:
        """Whether the token shows the phishing resistance required: its ``acr``
        says so with the EAP values, or (Supabase shape) an entry's catalog method
        is phishing-resistant (hardware-bound, for ``"hardware"``). RFC 8176 has
        no value that says it."""
        hardware = self.phishing_resistant == "hardware"
        if ev.acr == PHISHING_RESISTANT_HARDWARE or (
            ev.acr == PHISHING_RESISTANT and not hardware
        ):
            return True
        if ev.style is not _SUPABASE:
            return False
        catalog = self.policy.methods
        for m in ev.methods:
            spec = catalog.get(m.method)
            if spec is not None and (
                spec.hardware_bound if hardware else spec.phishing_resistant
            ):
                return True
        return False

    def _shortfalls(self, ev: Evaluation, at: int) -> list[str]:
        """Each requirement the evaluated token does not meet, in words."""
        out: list[str] = []
        if self.phishing_resistant and not self._phishing_resistant(ev):
            out.append(f"{self._need_phishing_resistance()} and the token shows none")

        demanded = self.aal
        if demanded is not None:
            if ev.aal is None:
                out.append(
                    f"{self._need_aal()} but the token claims no level (no aal, and "
                    "no acr this policy maps to a level)"
                )
            elif ev.aal < demanded:
                out.append(f"{self._need_aal()} but the token is {ev.aal}")
            elif ev.amr_aal < demanded:
                out.append(
                    f"{self._need_aal()} but the token's amr supports only "
                    f"{ev.amr_aal} (it claims {ev.aal})"
                )

        candidates = self._candidates(ev)
        if self.methods is not None and not candidates:
            out.append(f"{self._need_methods()} and the token's amr has none of that")
            return out  # max_age is not judged over methods that are not there

        if self.max_age is not None:
            too_old = self._too_old(ev, candidates, at)
            if too_old:
                out.append(f"{self._need_max_age()} and {too_old}")
        return out

    def _too_old(self, ev: Evaluation, candidates: list[ParsedMethod], at: int) -> str:
        """What keeps the candidates from meeting ``max_age``, in words (``""`` when
        nothing does): their times (string entries and a token without amr:
        ``auth_time``); a time beyond ``skew`` proves nothing."""
        assert self.max_age is not None
        if ev.style is _SUPABASE:
            times = [m.timestamp for m in candidates if m.timestamp is not None]
        else:
            times = [] if ev.auth_time is None else [ev.auth_time]
        trusted = [t for t in times if t - at <= self.skew]
        if trusted:
            newest = max(trusted)
            if at - newest > self.max_age:
                return f"the last was {at - newest} s ago"
            return ""
        if times:
            return (
                f"the token's last authentication is {min(times) - at} s in the "
                f"future, beyond the {self.skew:g} s of clock skew allowed"
            )
        return (
            "the token gives no time for it (no amr timestamp of a catalog method, "
            "no auth_time)"
        )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
