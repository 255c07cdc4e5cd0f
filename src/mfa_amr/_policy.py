"""Policy, Assessment, AAL: what a session's claims are worth, and its ``amr``.

Everything here is pure: no I/O, and the result never depends on the order of the
claims given.
"""

from __future__ import annotations

import enum
import functools
import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, overload

import attrs

from mfa_amr import rfc8176
from mfa_amr._claims import EPOCH, AMRClaim, AMREntry, to_now, to_uuid, unix_seconds
from mfa_amr._methods import (
    DEFAULT_CATALOG,
    AuthenticationMethod,
    MethodSpec,
    validate_method,
)
from mfa_amr.exceptions import (
    InvalidAALError,
    InvalidClaimError,
    InvalidInputError,
    UnrecordableMethodError,
)

if TYPE_CHECKING:
    from mfa_amr._verify import Evaluation

__all__ = ["AAL", "AmrStyle", "Assessment", "LevelRule", "Policy"]


@functools.total_ordering
class AAL(enum.Enum):
    """Authenticator assurance level, ordered ``AAL1 < AAL2 < AAL3``.

    ``.value`` is the string of the token's ``aal`` claim.
    """

    AAL1 = "aal1"
    AAL2 = "aal2"
    AAL3 = "aal3"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AAL):
            return NotImplemented
        return self.value < other.value

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, value: AAL | str) -> AAL:
        """Return ``value`` as an ``AAL``; accepts the level or its claim string.

        Raises:
            InvalidAALError: anything but ``"aal1"``, ``"aal2"``, ``"aal3"``.
        """
        if isinstance(value, AAL):
            return value
        if isinstance(value, str):
            for level in cls:
                if level.value == value:
                    return level
        raise InvalidAALError(
            f"{value!r} is not an assurance level: use 'aal1', 'aal2' or 'aal3'"
        )


class AmrStyle(str, enum.Enum):
    """The two shapes of a token's ``amr`` claim."""

    SUPABASE = "supabase"
    """Objects ``{"method", "timestamp"[, "provider"]}``, as Supabase Auth issues."""
    RFC8176 = "rfc8176"
    """Strings from the RFC 8176 registry, as OpenID Connect expects."""

    def __str__(self) -> str:
        return self.value


class LevelRule(str, enum.Enum):
    """How a policy turns claims into a level."""

    SUPABASE = "supabase"
    """aal2 exactly when a method Supabase counts (``totp``, ``mfa/phone``,
    ``mfa/webauthn``) has a claim; otherwise aal1."""
    NIST = "nist"
    """aal2 for two distinct factor kinds or one multi-factor authenticator; aal3 when
    a hardware-bound key is one of them."""


@attrs.frozen
class Assessment:
    """What a session's claims prove, under one policy at one instant.

    Attributes:
        aal: the level the session has now.
        next_aal: the level it can reach (aal2 when the user has a verified factor
            and the session is below it), as Supabase clients compute ``nextLevel``.
        entries: one per method, most recent first, ties broken by method name.
        amr_values: RFC 8176 values: unique, most recent first, derived ``mfa`` last.
        auth_time: Unix seconds of the earliest claim's ``created_at``; ``None``
            without claims.
    """

    aal: AAL
    next_aal: AAL
    entries: tuple[AMREntry, ...]
    amr_values: tuple[str, ...]
    auth_time: int | None


def _to_catalog(
    value: Mapping[str, MethodSpec] | Iterable[MethodSpec],
) -> Mapping[str, MethodSpec]:
    specs = value.values() if isinstance(value, Mapping) else value
    catalog: dict[str, MethodSpec] = {}
    for spec in specs:
        if not isinstance(spec, MethodSpec):
            raise InvalidInputError(
                f"a policy's methods must be MethodSpec values, got {spec!r}"
            )
        catalog[spec.name] = spec
    return MappingProxyType(catalog)


def _to_window(value: timedelta | float | None) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidInputError(
            f"a freshness window must be a positive timedelta, seconds, or None; "
            f"got {value!r}"
        )
    return value


_DEFAULT_ACR: Final[Mapping[AAL, str]] = MappingProxyType(
    {level: level.value for level in AAL}
)


# RFC 6749's NQSCHAR without the space that separates values in ``acr_values``.
_ACR_VALUE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _to_acr(value: Mapping[AAL | str, str]) -> Mapping[AAL, str]:
    acr: dict[AAL, str] = {}
    for level, name in value.items():
        if not isinstance(name, str) or _ACR_VALUE.fullmatch(name) is None:
            raise InvalidInputError(
                "an acr value must be a non-empty string of printable ASCII without "
                f"spaces, quotes or backslashes (RFC 9470 acr_values), got {name!r}"
            )
        acr[AAL.of(level)] = name
    if set(acr) != set(AAL) or len(set(acr.values())) != len(acr):
        raise InvalidInputError(
            "acr_values must give each of aal1, aal2, aal3 a distinct value"
        )
    return MappingProxyType(acr)


_NO_PROVIDERS: Final[Mapping[str, str]] = MappingProxyType({})
# Module constants: reading an enum member off its class costs ~0.2 us on 3.11, a
# measurable share of rendering a small session (benchmarks/render.py).
_SUPABASE_STYLE: Final = AmrStyle.SUPABASE
_RFC8176_STYLE: Final = AmrStyle.RFC8176


@attrs.frozen
class Policy:
    """Decides what claims are worth and how the ``amr`` claim is written.

    Build one with :meth:`supabase` (the default, Supabase Auth's exact behaviour) or
    :meth:`nist` (factor-based levels with freshness windows), then adjust it with
    :meth:`with_method` or ``attrs.evolve``.

    Attributes:
        rule: how claims become a level.
        methods: the catalog, by method name.
        strict: refuse to record method names the catalog does not know.
        aal2_max_age: a claim counts toward aal2 only this long after its
            ``updated_at``; ``None``: forever.
        aal3_max_age: the same for aal3.
        acr_values: the ``acr`` value that names each level in step-up challenges.
    """

    rule: LevelRule = attrs.field(converter=LevelRule)
    methods: Mapping[str, MethodSpec] = attrs.field(
        converter=_to_catalog, hash=False, repr=lambda m: f"<{len(m)} methods>"
    )
    strict: bool = attrs.field(default=False, kw_only=True)
    aal2_max_age: timedelta | None = attrs.field(
        default=None, converter=_to_window, kw_only=True
    )
    aal3_max_age: timedelta | None = attrs.field(
        default=None, converter=_to_window, kw_only=True
    )
    acr_values: Mapping[AAL, str] = attrs.field(
        default=_DEFAULT_ACR, converter=_to_acr, hash=False, kw_only=True
    )

    @classmethod
    def supabase(cls, *, strict: bool = False) -> Policy:
        """Supabase Auth exactly: aal2 while a ``totp``, ``mfa/phone`` or
        ``mfa/webauthn`` claim exists, however old; a passkey alone is aal1."""
        return cls(LevelRule.SUPABASE, DEFAULT_CATALOG, strict=strict)

    @classmethod
    def nist(cls, *, strict: bool = False) -> Policy:
        """NIST SP 800-63B: two distinct fresh factor kinds (or one multi-factor
        authenticator) for aal2, a hardware-bound key plus a second factor for aal3;
        claims count for 12 hours after their ``updated_at``."""
        twelve_hours = timedelta(hours=12)
        return cls(
            LevelRule.NIST,
            DEFAULT_CATALOG,
            strict=strict,
            aal2_max_age=twelve_hours,
            aal3_max_age=twelve_hours,
        )

    def with_method(self, spec: MethodSpec) -> Policy:
        """Return a copy of the policy with ``spec`` added, or replacing the spec of
        the same name."""
        if not isinstance(spec, MethodSpec):
            raise InvalidInputError(f"with_method takes a MethodSpec, got {spec!r}")
        return attrs.evolve(self, methods={**self.methods, spec.name: spec})

    def spec(self, method: str) -> MethodSpec | None:
        """The catalog's spec for ``method``, or ``None`` if it is unknown."""
        return self.methods.get(method)

    def check_recordable(self, method: str | AuthenticationMethod) -> str:
        """Return ``method`` as a plain string if a store may record it.

        Raises:
            InvalidMethodError: the name breaks the syntax.
            UnrecordableMethodError: ``token_refresh`` (never a login method), a
                catalog method marked not recordable, or an unknown name under a
                strict policy.
        """
        name = validate_method(method)
        spec = self.methods.get(name)
        if name == AuthenticationMethod.TOKEN_REFRESH.value or (
            spec is not None and not spec.recordable
        ):
            raise UnrecordableMethodError(
                f"{name!r} is not a login method and cannot be recorded: record the "
                "method the user proved (such as 'password' or 'totp')"
            )
        if spec is None and self.strict:
            raise UnrecordableMethodError(
                f"{name!r} is not in this strict policy's catalog: use one of "
                f"{', '.join(sorted(n for n, s in self.methods.items() if s.recordable))}"
                ", or add it with policy.with_method(MethodSpec(...))"
            )
        return name

    def acr_for(self, level: AAL | str) -> str:
        """The ``acr`` value naming ``level`` (default: the level's own name)."""
        return self.acr_values[AAL.of(level)]

    def aal_for_acr(self, acr: str) -> AAL | None:
        """The level an ``acr`` value names under this policy, or ``None``."""
        for level, name in self.acr_values.items():
            if name == acr:
                return level
        return None

    # -- reading tokens (mfa_amr._verify; imported there, which imports this) -----

    def evaluate(
        self, payload: Mapping[str, object], *, now: datetime | float | None = None
    ) -> Evaluation:
        """What a decoded (already verified) token payload proves: its ``amr``
        entries, the ``aal`` it claims, the level this policy computes from its
        ``amr`` at ``now``, and its ``auth_time``.

        The ``amr`` is read as :func:`~mfa_amr.parse_amr` reads it, strictly when
        the policy is strict.

        Raises:
            AmrParseError: the payload is not an object, or its ``amr`` or
                ``auth_time`` is malformed.
        """
        from mfa_amr._verify import evaluate

        return evaluate(self, payload, now=now)

    def require(
        self,
        payload: Mapping[str, object],
        *,
        aal: AAL | str | None = None,
        methods: Iterable[str] | None = None,
        max_age: int | None = None,
        now: datetime | float | None = None,
        skew: float = 60,
    ) -> None:
        """Return ``None`` if a decoded token payload meets every requirement
        given; otherwise raise :class:`~mfa_amr.StepUpRequired`.

        Args:
            payload: the decoded, already verified token payload.
            aal: the least level: met by the lower of the token's ``aal`` claim and
                the level this policy computes from its ``amr``; never met without
                an ``aal`` claim.
            methods: names any one of which will do, catalog names or RFC 8176
                values: a token's method meets it by its own name or by a value
                the catalog maps it to (``{"otp"}`` takes ``totp``; ``{"totp"}``
                does not take a sign-in ``otp``).
            max_age: the most seconds since the newest use of a method that meets
                ``methods`` (of any method, without ``methods``); entries without
                a timestamp use ``auth_time``; with neither, it is not met.
            now: the instant of the check: an aware datetime or Unix seconds.
            skew: seconds a timestamp may lie in the future; beyond it, no
                requirement is met.

        Raises:
            StepUpRequired: a requirement is not met; ``acr_values`` names the
                demanded level and those above it, in this policy's ``acr``
                values.
            AmrParseError: the payload or its ``amr`` is malformed.
            InvalidInputError: an argument is invalid.
        """
        from mfa_amr._verify import require

        require(
            self,
            payload,
            aal=aal,
            methods=methods,
            max_age=max_age,
            now=now,
            skew=skew,
        )

    # -- assessment ---------------------------------------------------------------

    def assess(
        self,
        claims: Iterable[AMRClaim],
        *,
        now: datetime | float | None = None,
        verified_factors: Collection[object] = (),
        providers: Mapping[str, str] = _NO_PROVIDERS,
    ) -> Assessment:
        """Assess one session's claims.

        Args:
            claims: the session's claims, in any order.
            now: the instant of the assessment: an aware datetime or Unix seconds;
                the current time when left out.
            verified_factors: the user's verified MFA factors (anything: only their
                presence matters), for ``next_aal``.
            providers: the provider id to show in a method's entry, by method
                (e.g. ``{"sso/saml": "<sso provider id>"}``).

        Raises:
            InvalidClaimError: the claims belong to more than one session.
        """
        at = to_now(now)
        claims = tuple(claims)
        latest = _latest_per_method(claims, None)
        aal = self._level(latest, at)
        next_aal = max(aal, AAL.AAL2) if verified_factors else aal
        # Entries are built unchecked, as render_amr builds its dicts: a claim's name
        # is as valid as the claim (a store returns another system's rows as they
        # are), and one set of claims must get one verdict from every function.
        entries = tuple(
            AMREntry._unchecked(
                c.authentication_method,
                ts,
                _provider(providers, c.authentication_method),
            )
            for ts, c in latest
        )
        return Assessment(
            aal=aal,
            next_aal=next_aal,
            entries=entries,
            amr_values=tuple(self._rfc_values(latest, at)),
            auth_time=_auth_time(claims) if latest else None,
        )

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: Literal[AmrStyle.SUPABASE] = ...,
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[dict[str, str | int]]: ...

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: Literal[AmrStyle.RFC8176],
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[str]: ...

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle,
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[dict[str, str | int]] | list[str]: ...

    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle = AmrStyle.SUPABASE,
        now: datetime | float | None = None,
        providers: Mapping[str, str] = _NO_PROVIDERS,
    ) -> list[dict[str, str | int]] | list[str]:
        """The JSON-ready ``amr`` claim of one session's claims.

        ``AmrStyle.SUPABASE`` gives Supabase's objects, most recent first, ties by
        method name, unknown methods listed unchanged; ``AmrStyle.RFC8176`` gives
        registered strings only, ``mfa`` last when the counted claims prove two
        factor kinds. ``now`` matters only to a policy with freshness windows.

        Raises:
            InvalidClaimError: the claims belong to more than one session.
            InvalidInputError: ``style`` is not an ``AmrStyle``.
        """
        latest = _latest_per_method(claims, None)
        return self._render(latest, style, self._resolve_now(now), providers)

    def token_claims(
        self,
        session_id: uuid.UUID | str,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle = AmrStyle.SUPABASE,
        now: datetime | float | None = None,
        providers: Mapping[str, str] = _NO_PROVIDERS,
    ) -> dict[str, object]:
        """The ``aal``, ``amr`` and ``session_id`` claims to merge into a JWT payload.

        ``amr`` is left out when the session has no claims, as Supabase does.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID, or a claim belongs to
                another session.
        """
        sid = to_uuid(session_id, "session_id")
        latest = _latest_per_method(claims, sid)
        at = self._resolve_now(now)
        out: dict[str, object] = {"aal": self._level(latest, at).value}
        if latest:
            out["amr"] = self._render(latest, style, at, providers)
        out["session_id"] = str(sid)
        return out

    # -- internals ----------------------------------------------------------------

    def _resolve_now(self, now: datetime | float | None) -> datetime | None:
        """``now`` as a datetime when given or when freshness needs it; the clock is
        not read for a policy without windows."""
        if now is None and self.aal2_max_age is None and self.aal3_max_age is None:
            return None
        return to_now(now)

    def _render(
        self,
        latest: list[tuple[int, AMRClaim]],
        style: AmrStyle,
        now: datetime | None,
        providers: Mapping[str, str],
    ) -> list[dict[str, str | int]] | list[str]:
        if style is _SUPABASE_STYLE:
            out: list[dict[str, str | int]] = []
            for ts, c in latest:
                entry: dict[str, str | int] = {
                    "method": c.authentication_method,
                    "timestamp": ts,
                }
                provider = _provider(providers, c.authentication_method)
                if provider is not None:
                    entry["provider"] = provider
                out.append(entry)
            return out
        if style is _RFC8176_STYLE:
            return self._rfc_values(latest, now)
        raise InvalidInputError(
            f"style must be AmrStyle.SUPABASE or AmrStyle.RFC8176, got {style!r}"
        )

    def _counted(
        self,
        latest: list[tuple[int, AMRClaim]],
        now: datetime | None,
        window: timedelta | None,
    ) -> list[MethodSpec]:
        """Specs of the known claims still fresh within ``window`` at ``now``."""
        specs = []
        for _, c in latest:
            spec = self.methods.get(c.authentication_method)
            if spec is None:
                continue
            if window is not None and now is not None and now - c.updated_at > window:
                continue
            specs.append(spec)
        return specs

    def _level(self, latest: list[tuple[int, AMRClaim]], now: datetime | None) -> AAL:
        fresh2 = self._counted(latest, now, self.aal2_max_age)
        if self.rule is LevelRule.SUPABASE:
            return _level_of(self.rule, fresh2, [])
        return _level_of(
            self.rule, fresh2, self._counted(latest, now, self.aal3_max_age)
        )

    def _rfc_values(
        self, latest: list[tuple[int, AMRClaim]], now: datetime | None
    ) -> list[str]:
        seen: dict[str, None] = {}
        known: list[MethodSpec] = []
        for _, c in latest:
            spec = self.methods.get(c.authentication_method)
            if spec is not None:
                known.append(spec)
                for value in spec.rfc8176:
                    seen.setdefault(value)
        # without a window (or a `now`) every known claim counts: no second pass
        if self.aal2_max_age is not None and now is not None:
            known = self._counted(latest, now, self.aal2_max_age)
        if _proves_mfa(known):
            seen.setdefault(rfc8176.MFA)
        return list(seen)


def _provider(providers: Mapping[str, str], method: str) -> str | None:
    """The provider id to show in ``method``'s entry, checked as AMREntry checks it."""
    provider = providers.get(method)
    if provider is not None and (not isinstance(provider, str) or not provider):
        raise InvalidClaimError(
            f"provider must be a non-empty string or None, got {provider!r}"
        )
    return provider


def _level_of(
    rule: LevelRule,
    fresh2: list[MethodSpec],
    fresh3: list[MethodSpec],
    *,
    by_factors: bool = False,
) -> AAL:
    """A level rule over the specs still fresh for aal2 and for aal3.

    ``by_factors`` judges by factor kinds under the Supabase rule too: for evidence
    that names no Supabase method (an RFC 8176 string ``amr``).
    """
    if rule is LevelRule.SUPABASE and not by_factors:
        return AAL.AAL2 if any(s.supabase_aal2 for s in fresh2) else AAL.AAL1
    if not _proves_mfa(fresh2):
        return AAL.AAL1
    if (
        rule is LevelRule.NIST
        and _proves_mfa(fresh3)
        and any(s.hardware_bound for s in fresh3)
    ):
        return AAL.AAL3
    return AAL.AAL2


def _proves_mfa(specs: list[MethodSpec]) -> bool:
    """Two distinct counted factor kinds among ``specs``, or one multi-factor
    method."""
    bits = 0
    for spec in specs:
        if spec.multi_factor:
            return True
        bits |= spec._factor_bits
    return bits & (bits - 1) != 0  # more than one bit set


def _latest_per_method(
    claims: Iterable[AMRClaim], session_id: uuid.UUID | None
) -> list[tuple[int, AMRClaim]]:
    """One claim per method (the most recently updated), as ``(unix seconds,
    claim)`` sorted most recent first, ties by method name in code-point order."""
    by_method: dict[str, AMRClaim] = {}
    # UUID.__eq__ is Python code; comparing the 128-bit ints is several times faster
    # and this is the render path.
    session = None if session_id is None else session_id.int
    for c in claims:
        if not isinstance(c, AMRClaim):
            raise InvalidClaimError(f"expected AMRClaim values, got {c!r}")
        sid = c.session_id.int
        if sid != session:
            if session is not None:
                raise InvalidClaimError(
                    f"claims of more than one session given ({session_id} and "
                    f"{c.session_id}): assess one session at a time"
                )
            session_id, session = c.session_id, sid
        name = c.authentication_method
        held = by_method.get(name)
        if held is None or c.updated_at > held.updated_at:
            by_method[name] = c
    # Sort plain tuples rather than through a key function; methods are unique here,
    # so the comparison never reaches the claim itself. The seconds are
    # unix_seconds(), inlined: a call per claim is a fifth of this function's time.
    keyed = []
    for name, c in by_method.items():
        delta = c.updated_at - EPOCH
        keyed.append((-delta.days * 86_400 - delta.seconds, name, c))
    keyed.sort()
    return [(-negated, c) for negated, _, c in keyed]


def _auth_time(claims: Iterable[AMRClaim]) -> int:
    return unix_seconds(min(c.created_at for c in claims))
