"""The catalog: what each method name means to a policy (factor kinds, RFC 8176
values, Supabase's rule), the default catalog of Supabase's 17 names, and the factor
kinds each registered RFC 8176 value proves."""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Final, TypeAlias

import attrs

from mfa_amr import rfc8176
from mfa_amr._errors import InvalidMethodError
from mfa_amr._grammar import is_valid_method, validate_method

__all__ = [
    "COUNTED_FACTORS",
    "DEFAULT_CATALOG",
    "REGISTRY_SPECS",
    "AuthenticationMethod",
    "Evidence",
    "Factor",
    "MethodSpec",
    "evidence",
    "is_known",
]


class AuthenticationMethod(enum.StrEnum):
    """The 17 method names Supabase Auth writes (or passes to hooks).

    Members compare equal to their strings: ``AuthenticationMethod.TOTP == "totp"``.
    """

    PASSWORD = "password"
    OTP = "otp"
    OAUTH = "oauth"
    TOTP = "totp"
    MFA_PHONE = "mfa/phone"
    MFA_WEBAUTHN = "mfa/webauthn"
    SSO_SAML = "sso/saml"
    RECOVERY = "recovery"
    INVITE = "invite"
    MAGICLINK = "magiclink"
    EMAIL_SIGNUP = "email/signup"
    EMAIL_CHANGE = "email_change"
    TOKEN_REFRESH = "token_refresh"
    ANONYMOUS = "anonymous"
    WEB3 = "web3"
    OAUTH_PROVIDER_AUTHORIZATION_CODE = "oauth_provider/authorization_code"
    PASSKEY = "passkey"


class Factor(enum.StrEnum):
    """What a method proves, after NIST SP 800-63B's factor kinds.

    Only ``KNOWLEDGE``, ``POSSESSION`` and ``INHERENCE`` count toward a level;
    ``EMAIL`` (control of a mailbox), ``FEDERATED`` (an upstream provider vouched) and
    ``NONE`` never raise one.
    """

    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"
    INHERENCE = "inherence"
    EMAIL = "email"
    FEDERATED = "federated"
    NONE = "none"


COUNTED_FACTORS: Final = frozenset(
    {Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE}
)


_FACTOR_BIT: Final = {Factor.KNOWLEDGE: 1, Factor.POSSESSION: 2, Factor.INHERENCE: 4}
_HARDWARE_VALUES: Final = frozenset({rfc8176.HWK, rfc8176.SC})


def _to_factors(value: Iterable[Factor | str]) -> frozenset[Factor]:
    if isinstance(value, (str, Factor)):
        value = (value,)
    try:
        return frozenset(Factor(v) for v in value)
    except (ValueError, TypeError) as exc:
        accepted = ", ".join(f.value for f in Factor)
        raise InvalidMethodError(
            f"unknown factor kind in {value!r}: use {accepted}"
        ) from exc


def _to_rfc_values(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    values = tuple(value)
    for v in values:
        if not rfc8176.is_registered(v):
            raise InvalidMethodError(
                f"{v!r} is not a registered RFC 8176 value: use one of "
                f"{', '.join(sorted(rfc8176.REGISTRY))}"
            )
        if v == rfc8176.MFA:
            raise InvalidMethodError(
                "'mfa' is derived from the factors a session proves; "
                "a method cannot map to it"
            )
    if len(set(values)) != len(values):
        raise InvalidMethodError(f"RFC 8176 values repeat in {values!r}")
    return values


@attrs.frozen
class MethodSpec:
    """What one method name means to a policy.

    Attributes:
        name: the value of the ``authentication_method`` column.
        factors: the factor kinds the method proves.
        rfc8176: registered values rendered for it in an RFC-style ``amr``, in order;
            empty where no registered value describes it faithfully.
        supabase_aal2: Supabase Auth counts it toward aal2.
        multi_factor: one authenticator that proves two factor kinds by itself (a
            user-verified passkey): aal2 on its own under the NIST rule.
        hardware_bound: a hardware-bound, phishing-resistant key: with a second factor
            it reaches aal3 under the NIST rule. Its ``rfc8176`` values must say so
            with ``hwk`` or ``sc``, so that an RFC-style token can prove aal3.
        phishing_resistant: verifier-impersonation resistant (WebAuthn, passkeys):
            what a requirement with ``phishing_resistant=True`` asks for. Default:
            ``hardware_bound``, which implies it.
        recordable: whether a store may record it (``token_refresh`` may not).
        description: a sentence for people.
    """

    name: str = attrs.field(converter=validate_method)
    factors: frozenset[Factor] = attrs.field(converter=_to_factors)
    rfc8176: tuple[str, ...] = attrs.field(default=(), converter=_to_rfc_values)
    supabase_aal2: bool = attrs.field(default=False, kw_only=True)
    multi_factor: bool = attrs.field(default=False, kw_only=True)
    hardware_bound: bool = attrs.field(default=False, kw_only=True)
    phishing_resistant: bool = attrs.field(
        default=attrs.Factory(lambda self: self.hardware_bound, takes_self=True),
        kw_only=True,
    )
    recordable: bool = attrs.field(default=True, kw_only=True)
    description: str = attrs.field(default="", kw_only=True)
    # The counted factor kinds as bits, derived: the render path combines them per
    # claim, and or-ing ints is several times cheaper than uniting sets.
    _factor_bits: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self,
            "_factor_bits",
            sum(_FACTOR_BIT[f] for f in self.factors if f in _FACTOR_BIT),
        )
        if self.multi_factor and len(self.factors & COUNTED_FACTORS) < 2:
            raise InvalidMethodError(
                f"{self.name!r}: a multi-factor method must prove two of "
                "knowledge, possession, inherence"
            )
        if self.hardware_bound and Factor.POSSESSION not in self.factors:
            raise InvalidMethodError(
                f"{self.name!r}: a hardware-bound method must prove possession"
            )
        if self.hardware_bound and not self.phishing_resistant:
            raise InvalidMethodError(
                f"{self.name!r}: a hardware-bound method is phishing-resistant by "
                "definition; leave phishing_resistant out or set it to True"
            )
        if self.hardware_bound and not _HARDWARE_VALUES.intersection(self.rfc8176):
            raise InvalidMethodError(
                f"{self.name!r}: a hardware-bound method must list 'hwk' or 'sc' among "
                "its rfc8176 values, or an RFC 8176 token could not show the aal3 it "
                "reaches"
            )

    @property
    def counted_factors(self) -> frozenset[Factor]:
        """The factor kinds that count toward an assurance level."""
        return self.factors & COUNTED_FACTORS


_K, _P, _I = Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE
_M = AuthenticationMethod

DEFAULT_CATALOG: Final[tuple[MethodSpec, ...]] = (
    MethodSpec(_M.PASSWORD, _K, ("pwd",), description="password sign-in"),
    # Its channel is unknown and may be email, which SP 800-63B does not accept as
    # an authenticator: like a magic link, it proves the mailbox (or the number).
    MethodSpec(
        _M.OTP,
        Factor.EMAIL,
        ("otp",),
        description="one-time code sent at sign-in to the account's email or phone",
    ),
    MethodSpec(_M.OAUTH, Factor.FEDERATED, description="social / OAuth sign-in"),
    MethodSpec(
        _M.TOTP, _P, ("otp",), supabase_aal2=True, description="TOTP factor verified"
    ),
    MethodSpec(
        _M.MFA_PHONE,
        _P,
        ("sms",),
        supabase_aal2=True,
        description="phone factor verified; SMS is restricted in NIST 800-63B",
    ),
    MethodSpec(
        _M.MFA_WEBAUTHN,
        _P,
        ("pop",),
        supabase_aal2=True,
        phishing_resistant=True,
        description="WebAuthn factor verified; not known to be hardware-bound",
    ),
    MethodSpec(
        _M.PASSKEY,
        (_P, _I),
        ("pop", "user"),
        multi_factor=True,
        phishing_resistant=True,
        description="user-verified passkey sign-in: a multi-factor authenticator",
    ),
    MethodSpec(
        _M.SSO_SAML, Factor.FEDERATED, description="enterprise SAML single sign-on"
    ),
    MethodSpec(_M.WEB3, _P, ("swk",), description="wallet signature sign-in"),
    MethodSpec(_M.MAGICLINK, Factor.EMAIL, description="email magic link"),
    MethodSpec(
        _M.RECOVERY, Factor.EMAIL, description="password-recovery link; never raises"
    ),
    MethodSpec(_M.INVITE, Factor.EMAIL, description="invite link"),
    MethodSpec(_M.EMAIL_SIGNUP, Factor.EMAIL, description="email sign-up confirmation"),
    MethodSpec(_M.EMAIL_CHANGE, Factor.EMAIL, description="email change confirmation"),
    MethodSpec(_M.ANONYMOUS, Factor.NONE, description="anonymous sign-in"),
    MethodSpec(
        _M.OAUTH_PROVIDER_AUTHORIZATION_CODE,
        Factor.FEDERATED,
        description="Supabase acting as an OAuth server",
    ),
    MethodSpec(
        _M.TOKEN_REFRESH,
        Factor.NONE,
        recordable=False,
        description="never a login method: recording it is refused",
    ),
)
"""The default catalog: one spec for each of the 17 Supabase method names."""


Evidence: TypeAlias = tuple[bool, bool, bool, bool]
"""What timed specs prove for the level rule: (a Supabase aal2 method counts for
aal2, multi-factor is proven by what counts for aal2, multi-factor is proven by what
counts for aal3, a hardware-bound method counts for aal3)."""


def evidence(
    timed: Iterable[tuple[int | None, MethodSpec]],
    now: int | None,
    window2: float | None,
    window3: float | None,
    skew: float,
) -> Evidence:
    """What ``(whole seconds of last use, spec)`` pairs prove at ``now``, in one
    pass: the issuing and the verifying side both judge through it.

    A spec counts for a level whose window is ``None`` whatever its time; within a
    window, when it is at most that many seconds old and not dated more than
    ``skew`` in the future (a clock that far ahead proves no freshness), and never
    without a time. Without ``now``, every spec counts.
    """
    supabase2 = multi2 = multi3 = hardware3 = False
    bits2 = bits3 = 0
    # Decided once, not for each spec: this is every token's path, issued and read.
    always2 = window2 is None or now is None
    always3 = window3 is None or now is None
    at_now = 0 if now is None else now
    limit2 = 0.0 if window2 is None else window2
    limit3 = 0.0 if window3 is None else window3
    for at, spec in timed:
        if always2 or (at is not None and -skew <= at_now - at <= limit2):
            supabase2 = supabase2 or spec.supabase_aal2
            multi2 = multi2 or spec.multi_factor
            bits2 |= spec._factor_bits
        if always3 or (at is not None and -skew <= at_now - at <= limit3):
            multi3 = multi3 or spec.multi_factor
            hardware3 = hardware3 or spec.hardware_bound
            bits3 |= spec._factor_bits
    # more than one bit set: two distinct counted factor kinds
    return (
        supabase2,
        multi2 or bits2 & (bits2 - 1) != 0,
        multi3 or bits3 & (bits3 - 1) != 0,
        hardware3,
    )


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

REGISTRY_SPECS: Final[Mapping[str, MethodSpec]] = MappingProxyType(
    {
        **{
            value: MethodSpec(
                value,
                factor,
                (value,),
                hardware_bound=value in _HARDWARE_VALUES,
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
"""What each counted registered value is worth, as a spec the level rule reads when
a token's ``amr`` is RFC 8176 strings."""


def is_known(name: str, catalog: Collection[str]) -> bool:
    """Whether a strict policy reads ``name`` in a token's ``amr``, and so writes it:
    a registered RFC 8176 value, or a method of its catalog."""
    return rfc8176.is_registered(name) or (is_valid_method(name) and name in catalog)
