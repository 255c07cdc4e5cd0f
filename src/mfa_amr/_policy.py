"""The policy: what claims are worth and how the ``amr`` claim is written, for the
side that issues tokens and the side that verifies them alike.

Everything here is pure: no I/O, and the result never depends on the order of the
claims given. The work is done by the issuing functions (``mfa_amr._issue``) and the
verifying ones (``mfa_amr._verify``), which read the policy's terms.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, overload

import attrs

from mfa_amr._claims import AMRClaim, AmrStyle, to_style
from mfa_amr._errors import InvalidInputError, UnrecordableMethodError
from mfa_amr._grammar import (
    DEFAULT_SKEW,
    is_acr_value,
    to_now,
    to_skew,
    to_uuid,
    unix_seconds,
    validate_method,
)
from mfa_amr._issue import (
    Assessment,
    assess,
    auth_time,
    counted,
    latest_per_method,
    rfc_values,
    session_level,
    shown,
    supabase_entries,
)
from mfa_amr._levels import AAL, LevelRule
from mfa_amr._methods import DEFAULT_CATALOG, AuthenticationMethod, MethodSpec
from mfa_amr._verify import (
    PHISHING_RESISTANT,
    PHISHING_RESISTANT_HARDWARE,
    Evaluation,
    Requirement,
    evaluate,
)

__all__ = ["Policy"]


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


def _to_skew(value: timedelta | float) -> timedelta:
    return to_skew(
        value, "how far in the future a time may lie and still prove freshness"
    )


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


_EAP_VALUES: Final = frozenset({PHISHING_RESISTANT, PHISHING_RESISTANT_HARDWARE})


def _to_acr(value: Mapping[AAL | str, str]) -> Mapping[AAL, str]:
    acr: dict[AAL, str] = {}
    for level, name in value.items():
        if not is_acr_value(name):
            raise InvalidInputError(
                "an acr value must be a non-empty string of printable ASCII without "
                f"spaces, quotes or backslashes (RFC 9470 acr_values), got {name!r}"
            )
        named = AAL.of(level)
        if named is not AAL.AAL3 and name in _EAP_VALUES:
            # Only aal3 proves a hardware-bound (so phishing-resistant) key: a lower
            # level's tokens would claim phishing resistance for a password.
            raise InvalidInputError(
                f"{name!r}, the OpenID EAP value for phishing resistance, may name "
                f"aal3 only (reached with a hardware-bound key), not {named}: a "
                "token whose acr is it meets phishing_resistant=True"
            )
        acr[named] = name
    if set(acr) != set(AAL) or len(set(acr.values())) != len(acr):
        raise InvalidInputError(
            "acr_values must give each of aal1, aal2, aal3 a distinct value"
        )
    return MappingProxyType(acr)


_NO_PROVIDERS: Final[Mapping[str, str]] = MappingProxyType({})


@attrs.frozen(cache_hash=True)  # require() keys a cache by it
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
        acr_values: the ``acr`` value that names each level: written in RFC-style
            tokens, read from tokens without ``aal``, sent in step-up challenges.
        skew: how far in the future a time may lie and still count for a freshness
            window or a ``max_age`` (clock drift between servers; default 60 s).
            Both sides judge by it: what the policy issues, it accepts.
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
    skew: timedelta = attrs.field(
        default=timedelta(seconds=DEFAULT_SKEW), converter=_to_skew, kw_only=True
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

    # -- reading tokens -----------------------------------------------------------

    def evaluate(
        self, payload: Mapping[str, object], *, now: datetime | float | None = None
    ) -> Evaluation:
        """What a decoded (already verified) token payload proves: its ``amr``
        entries, the level it claims (its ``aal``, or its ``acr`` through
        :attr:`acr_values` when it has no ``aal``), the level this policy computes
        from its ``amr`` at ``now``, and its ``auth_time``.

        The ``amr`` is read as :func:`~mfa_amr.parse_amr` reads it, strictly when
        the policy is strict.

        Raises:
            AmrParseError: the payload is not an object, or its ``amr``, ``acr`` or
                ``auth_time`` is malformed.
        """
        return evaluate(self, payload, now=now)

    def requirement(
        self,
        *,
        aal: AAL | str | None = None,
        methods: Iterable[str] | None = None,
        max_age: int | None = None,
        phishing_resistant: bool | Literal["hardware"] = False,
        skew: timedelta | float | None = None,
    ) -> Requirement:
        """What a request needs, as a value checked once: build it where the route
        is defined, and a wrong argument fails at import time, not at the first
        request. ``requirement.check(payload)`` judges a token.

        Args:
            aal: the least level: met by the lower of the level the token claims
                (``aal``, or ``acr`` through this policy's mapping) and the level
                this policy computes from its ``amr``; never met by a token that
                claims no level.
            methods: names any one of which will do, catalog names or RFC 8176
                values: a token's method meets it by its own name or by a value
                the catalog maps it to (``{"otp"}`` takes ``totp``; ``{"totp"}``
                does not take a sign-in ``otp`` in the Supabase shape; in the RFC
                8176 shape, where only values are written, ``{"totp"}`` is met by
                ``otp``).
            max_age: the most seconds since the newest authentication the token
                shows by a method that meets ``methods`` (by a catalog method,
                without ``methods``); string entries are as old as ``auth_time``.
            phishing_resistant: ``True`` to need a phishing-resistant method
                (WebAuthn, a passkey; the challenge asks for ``acr_values="phr
                phrh"``), ``"hardware"`` for a hardware-bound one (``phrh``).
            skew: how far in the future a time may lie and still prove freshness,
                in seconds or as a ``timedelta``; default: the policy's
                :attr:`skew`.

        Raises:
            InvalidInputError: an argument is invalid (``InvalidAALError`` for
                ``aal``, ``InvalidMethodError`` for a name in ``methods``).
        """
        return Requirement(
            self,
            aal=aal,
            methods=methods,
            max_age=max_age,
            phishing_resistant=phishing_resistant,
            skew=self.skew.total_seconds() if skew is None else skew,
        )

    def require(
        self,
        payload: Mapping[str, object],
        *,
        aal: AAL | str | None = None,
        methods: Iterable[str] | None = None,
        max_age: int | None = None,
        phishing_resistant: bool | Literal["hardware"] = False,
        now: datetime | float | None = None,
        skew: timedelta | float | None = None,
    ) -> Evaluation:
        """Check a decoded token payload against what a request needs and return
        its :class:`~mfa_amr.Evaluation`; raise
        :class:`~mfa_amr.StepUpRequired` when a requirement is not met.

        A shortcut for ``policy.requirement(...).check(payload, now=now)``: the
        arguments are those of :meth:`requirement`, checked on every call; a route
        checked on every request builds its :class:`~mfa_amr.Requirement` once.

        Raises:
            StepUpRequired: a requirement is not met; the description names each,
                and ``acr_values`` what would do (the demanded level and those
                above it, in this policy's ``acr`` values; ``phr``/``phrh`` for
                phishing resistance).
            AmrParseError: the payload or its ``amr`` is malformed.
            InvalidInputError: an argument is invalid.
        """
        try:
            need = _requirement(
                self, aal, _methods_key(methods), max_age, phishing_resistant, skew
            )
        except TypeError:  # an argument that cannot be a key: let the checks say it
            need = self.requirement(
                aal=aal,
                methods=methods,
                max_age=max_age,
                phishing_resistant=phishing_resistant,
                skew=skew,
            )
        return need.check(payload, now=now)

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
                the current time when left out. Judged in whole seconds, as tokens
                carry times.
            verified_factors: the user's verified MFA factors (anything: only their
                presence matters), for ``next_aal``.
            providers: the provider id to show in a method's entry, by method
                (e.g. ``{"sso/saml": "<sso provider id>"}``; ``""`` shows none).

        Raises:
            InvalidClaimError: the claims belong to more than one session, or a
                claim was last used before 1970.
        """
        return assess(
            self,
            tuple(claims),
            unix_seconds(to_now(now)),
            bool(verified_factors),
            providers,
        )

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: Literal[AmrStyle.SUPABASE, "supabase"] = ...,
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[dict[str, str | int]]: ...

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: Literal[AmrStyle.RFC8176, "rfc8176"],
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[str]: ...

    @overload
    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle | str,
        now: datetime | float | None = ...,
        providers: Mapping[str, str] = ...,
    ) -> list[dict[str, str | int]] | list[str]: ...

    def render_amr(
        self,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle | str = AmrStyle.SUPABASE,
        now: datetime | float | None = None,
        providers: Mapping[str, str] = _NO_PROVIDERS,
    ) -> list[dict[str, str | int]] | list[str]:
        """The JSON-ready ``amr`` claim of one session's claims.

        ``AmrStyle.SUPABASE`` (or ``"supabase"``) gives Supabase's objects, most
        recent first, ties by method name, unknown methods listed unchanged (but
        by a strict policy, which lists only what it reads back: its catalog's
        methods and registered RFC 8176 values); ``AmrStyle.RFC8176`` (or
        ``"rfc8176"``) gives registered strings only, and ``mfa`` last exactly when
        the session's level is aal2 or higher. ``now`` matters only to a policy
        with freshness windows.

        Raises:
            InvalidClaimError: the claims belong to more than one session, a claim
                was last used before 1970, or (Supabase style) the session holds
                more methods than a token's ``amr`` is read with (64): no reader
                would accept such a token.
            InvalidInputError: ``style`` is neither an ``AmrStyle`` nor its string.
        """
        shape = to_style(style)
        latest = shown(self, latest_per_method(claims, None))
        if shape is not AmrStyle.RFC8176:  # objects carry no level: no clock read
            if now is not None:
                to_now(now)  # a bad now is refused, whether needed or not
            return supabase_entries(latest, providers)
        known = counted(self, latest)
        level = session_level(self, known, self._now_seconds(now, needed=False))
        return rfc_values(known, level)

    def token_claims(
        self,
        session_id: uuid.UUID | str,
        claims: Iterable[AMRClaim],
        *,
        style: AmrStyle | str = AmrStyle.SUPABASE,
        now: datetime | float | None = None,
        providers: Mapping[str, str] = _NO_PROVIDERS,
        oidc_claims: bool = False,
    ) -> dict[str, object]:
        """The claims to merge into a JWT payload.

        The Supabase style writes exactly Supabase's keys: ``aal``, ``amr`` (left
        out when the session has no claims, as Supabase does) and ``session_id``.
        The RFC 8176 style adds what OpenID Connect and RFC 9068 resource servers
        read: ``acr`` (this policy's value for the level) and ``auth_time`` (when
        the end-user last authenticated; see :attr:`Assessment.auth_time`; left out
        without a counted claim). ``oidc_claims=True`` adds those two in the
        Supabase style too.

        The ``amr`` lists what :meth:`render_amr` does: the token reads back, by
        this policy, at the level it claims.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID, a claim belongs to
                another session, or one :meth:`render_amr` refuses.
            InvalidInputError: ``style`` is neither an ``AmrStyle`` nor its string.
        """
        shape = to_style(style)
        sid = to_uuid(session_id, "session_id")
        latest = shown(self, latest_per_method(claims, sid))
        oidc = oidc_claims or shape is AmrStyle.RFC8176
        at = self._now_seconds(now, needed=oidc)
        known = counted(self, latest)
        level = session_level(self, known, at)
        out: dict[str, object] = {"aal": level.value}
        if latest:
            out["amr"] = (
                rfc_values(known, level)
                if shape is AmrStyle.RFC8176
                else supabase_entries(latest, providers)
            )
        out["session_id"] = str(sid)
        if oidc:
            out["acr"] = self.acr_values[level]
            last = auth_time(self, known, at)
            if last is not None:
                out["auth_time"] = last
        return out

    # -- internals ----------------------------------------------------------------

    def _now_seconds(self, now: datetime | float | None, *, needed: bool) -> int | None:
        """``now`` in whole Unix seconds when given, needed, or when freshness needs
        it; the clock is not read for a policy without windows."""
        if (
            now is None
            and not needed
            and self.aal2_max_age is None
            and self.aal3_max_age is None
        ):
            return None
        return unix_seconds(to_now(now))


def _methods_key(methods: Iterable[str] | None) -> object:
    """``methods`` as a cache key: the same set in any collection is one key; a bare
    string stays itself, so the requirement still refuses it."""
    if methods is None or isinstance(methods, str):
        return methods
    if isinstance(methods, (set, frozenset, list, tuple)):
        return frozenset(methods)
    raise TypeError("not a key: read it once, uncached")  # an iterator, say


# typed: 1.0, True and 1 are equal keys, but only the int is a max_age; an untyped
# cache would let a refused argument through once an equal valid one was cached.
@functools.lru_cache(maxsize=256, typed=True)
def _requirement(
    policy: Policy,
    aal: AAL | str | None,
    methods: object,
    max_age: int | None,
    phishing_resistant: bool | Literal["hardware"],
    skew: timedelta | float | None,
) -> Requirement:
    """The requirement of :meth:`Policy.require`'s arguments, built once for each
    policy and set of arguments: a requirement is a value, and building it (every
    argument checked) would cost more than the check itself."""
    return policy.requirement(
        aal=aal,
        methods=methods,  # type: ignore[arg-type]  # the key: None, a str or a frozenset
        max_age=max_age,
        phishing_resistant=phishing_resistant,
        skew=skew,
    )
