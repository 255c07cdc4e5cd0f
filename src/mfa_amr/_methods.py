"""Method names, their syntax, and the catalog of what each method means."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Final

import attrs

from mfa_amr import rfc8176
from mfa_amr.exceptions import InvalidMethodError

METHOD_MAX_LENGTH: Final = 64
ACCEPTED_FORM: Final = (
    "1 to 64 characters of lowercase ASCII letters, digits, '/', '_', '-' or '.'"
)
# fullmatch, and an explicit class of ASCII code points: no case folding, no Unicode
# look-alikes, no trailing newline slipping past a `$`.
_METHOD_RE: Final = re.compile(r"[a-z0-9/_.\-]{1,64}")


class AuthenticationMethod(str, enum.Enum):
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

    def __str__(self) -> str:
        return self.value


def is_valid_method(value: object) -> bool:
    """Tell whether ``value`` is a string of the accepted method syntax."""
    return isinstance(value, str) and _METHOD_RE.fullmatch(value) is not None


def validate_method(value: object) -> str:
    """Return ``value`` as a plain ``str`` if it is a valid method name.

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
    if _METHOD_RE.fullmatch(value) is None:
        hint = ""
        folded = value.strip().lower()
        if folded != value and _METHOD_RE.fullmatch(folded) is not None:
            hint = f", such as {folded!r}"
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidMethodError(
            f"{shown!r} is not a canonical method name: use {ACCEPTED_FORM}{hint}"
        )
    # str.__str__, not str(): a str subclass may override __str__ to return another
    # spelling than the one just checked.
    return str.__str__(value)


def _method_validator(_instance: object, _attribute: object, value: object) -> None:
    validate_method(value)


def _method_converter(value: object) -> str:
    return validate_method(value)


class Factor(str, enum.Enum):
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

    def __str__(self) -> str:
        return self.value


COUNTED_FACTORS: Final = frozenset(
    {Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE}
)


_FACTOR_BIT: Final = {Factor.KNOWLEDGE: 1, Factor.POSSESSION: 2, Factor.INHERENCE: 4}


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
            it reaches aal3 under the NIST rule.
        recordable: whether a store may record it (``token_refresh`` may not).
        description: a sentence for people.
    """

    name: str = attrs.field(converter=_method_converter)
    factors: frozenset[Factor] = attrs.field(converter=_to_factors)
    rfc8176: tuple[str, ...] = attrs.field(default=(), converter=_to_rfc_values)
    supabase_aal2: bool = attrs.field(default=False, kw_only=True)
    multi_factor: bool = attrs.field(default=False, kw_only=True)
    hardware_bound: bool = attrs.field(default=False, kw_only=True)
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

    @property
    def counted_factors(self) -> frozenset[Factor]:
        """The factor kinds that count toward an assurance level."""
        return self.factors & COUNTED_FACTORS


_K, _P, _I = Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE
_M = AuthenticationMethod

DEFAULT_CATALOG: Final[tuple[MethodSpec, ...]] = (
    MethodSpec(_M.PASSWORD, _K, ("pwd",), description="password sign-in"),
    MethodSpec(
        _M.OTP, _P, ("otp",), description="one-time code sent to email or phone"
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
        description="WebAuthn factor verified; not known to be hardware-bound",
    ),
    MethodSpec(
        _M.PASSKEY,
        (_P, _I),
        ("pop", "user"),
        multi_factor=True,
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
