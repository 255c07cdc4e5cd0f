"""Method names, their syntax, and the default catalog (mfa_amr._methods)."""

from __future__ import annotations

import enum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_amr import DEFAULT_CATALOG, AuthenticationMethod, Factor, MethodSpec, rfc8176
from mfa_amr._grammar import is_valid_method, validate_method
from mfa_amr.exceptions import InvalidInputError, InvalidMethodError, MfaAmrError
from strategies import (
    KNOWN_METHODS,
    SUPABASE_AAL2_METHODS,
    method_specs,
    noncanonical_spellings,
    valid_method_names,
)

SUPABASE_NAMES = {
    "password",
    "otp",
    "oauth",
    "totp",
    "mfa/phone",
    "mfa/webauthn",
    "sso/saml",
    "recovery",
    "invite",
    "magiclink",
    "email/signup",
    "email_change",
    "token_refresh",
    "anonymous",
    "web3",
    "oauth_provider/authorization_code",
    "passkey",
}


class TestAuthenticationMethod:
    def test_exactly_the_17_supabase_names(self) -> None:
        """The enum holds exactly the 17 method names Supabase Auth writes."""
        assert len(AuthenticationMethod) == 17
        assert SUPABASE_NAMES == {m.value for m in AuthenticationMethod}

    def test_client_only_name_is_absent(self) -> None:
        """`mfa/totp`, listed by clients but never written by the server, is absent."""
        assert "mfa/totp" not in {m.value for m in AuthenticationMethod}

    @pytest.mark.parametrize("member", list(AuthenticationMethod))
    def test_members_are_their_strings(self, member: AuthenticationMethod) -> None:
        """Each member equals, hashes like and prints as its string."""
        assert member.value == member
        assert hash(member.value) == hash(member)
        assert member.value == str(member)
        assert member.value == f"{member}"

    @pytest.mark.parametrize("member", list(AuthenticationMethod))
    def test_members_are_valid_names(self, member: AuthenticationMethod) -> None:
        """Every Supabase name passes the method syntax."""
        assert is_valid_method(member.value)
        assert member.value == validate_method(member)


class TestValidateMethod:
    @given(valid_method_names)
    def test_accepts_the_syntax_unchanged(self, name: str) -> None:
        """A name of the accepted form is returned unchanged, as a plain str."""
        out = validate_method(name)
        assert name == out
        assert type(out) is str
        assert is_valid_method(name)

    def test_enum_member_becomes_plain_str(self) -> None:
        """An AuthenticationMethod member comes back as a plain str."""
        out = validate_method(AuthenticationMethod.TOTP)
        assert "totp" == out
        assert type(out) is str

    @pytest.mark.parametrize("length", [1, 64])
    def test_length_bounds_accepted(self, length: int) -> None:
        """Names of 1 and 64 characters are accepted."""
        assert "a" * length == validate_method("a" * length)

    @pytest.mark.parametrize("value", ["", "a" * 65])
    def test_length_bounds_refused(self, value: str) -> None:
        """The empty name and a 65-character one are refused."""
        with pytest.raises(InvalidMethodError):
            validate_method(value)

    @pytest.mark.parametrize(
        "value",
        [
            "TOTP",
            "Totp",
            " totp",
            "totp ",
            "totp\n",
            "\ttotp",
            "t otp",
            "t\u043etp",  # Cyrillic o
            "\uff54\uff4f\uff54\uff50",  # fullwidth
            "tot\u0440",  # Cyrillic er
            "totp\u200b",  # zero-width space
            "\ufefftotp",  # byte-order mark
            "totp\x00",
            "mfa\u2215phone",  # division slash
            "mfa/Phone",
            "mfa/webauthn\r\n",
            "pass\u212aey",  # Kelvin sign, which folds to k
            "mfa:phone",
            "mfa\\phone",
            "totp;",
        ],
    )
    def test_refuses_noncanonical_examples(self, value: str) -> None:
        """Case, padding, control, look-alike and foreign characters are refused."""
        with pytest.raises(InvalidMethodError):
            validate_method(value)
        assert not is_valid_method(value)

    @given(noncanonical_spellings())
    def test_refuses_every_noncanonical_spelling(self, value: str) -> None:
        """No non-canonical spelling of any Supabase name passes."""
        with pytest.raises(InvalidMethodError):
            validate_method(value)
        assert not is_valid_method(value)

    @pytest.mark.parametrize("value", [None, 1, b"totp", ["totp"], 1.5])
    def test_refuses_non_strings(self, value: object) -> None:
        """Only strings (or enum members holding one) are names."""
        with pytest.raises(InvalidMethodError, match="must be a str"):
            validate_method(value)
        assert not is_valid_method(value)

    def test_refuses_non_string_enum(self) -> None:
        """An enum member whose value is not a string is refused."""

        class Code(enum.Enum):
            ONE = 1

        with pytest.raises(InvalidMethodError):
            validate_method(Code.ONE)

    def test_message_names_the_accepted_form_and_a_fix(self) -> None:
        """The message says what was wrong, the accepted form, and a fix if one fits."""
        with pytest.raises(InvalidMethodError) as info:
            validate_method(" TOTP\n")
        message = str(info.value)
        assert "' TOTP\\n' is not a canonical method name" in message
        assert "lowercase ASCII letters, digits" in message
        assert "such as 'totp'" in message

    def test_message_shortens_a_long_value(self) -> None:
        """A very long value is cut in the message."""
        with pytest.raises(InvalidMethodError) as info:
            validate_method("X" * 1000)
        assert len(str(info.value)) < 300

    def test_str_subclass_cannot_smuggle_another_spelling(self) -> None:
        """A str subclass whose __str__ lies yields the checked text, not its __str__."""

        class Lying(str):
            def __str__(self) -> str:
                return "TOTP"

        out = validate_method(Lying("totp"))
        assert "totp" == out
        assert type(out) is str

    def test_error_is_a_value_error(self) -> None:
        """InvalidMethodError is caught as MfaAmrError, InvalidInputError, ValueError."""
        assert issubclass(InvalidMethodError, MfaAmrError)
        assert issubclass(InvalidMethodError, InvalidInputError)
        assert issubclass(InvalidMethodError, ValueError)


class TestMethodSpec:
    def test_minimal_spec(self) -> None:
        """A spec needs a name and factors; the rest defaults to a plain method."""
        spec = MethodSpec("sms-otp", Factor.POSSESSION)
        assert "sms-otp" == spec.name
        assert frozenset({Factor.POSSESSION}) == spec.factors
        assert () == spec.rfc8176
        assert not spec.supabase_aal2
        assert not spec.multi_factor
        assert not spec.hardware_bound
        assert spec.recordable

    def test_factor_strings_and_single_values(self) -> None:
        """Factors and RFC values may be given as one string or a sequence of them."""
        spec = MethodSpec("x", ["knowledge", "possession"], "pwd")
        assert frozenset({Factor.KNOWLEDGE, Factor.POSSESSION}) == spec.factors
        assert ("pwd",) == spec.rfc8176
        assert frozenset({Factor.KNOWLEDGE}) == MethodSpec("y", "knowledge").factors

    def test_counted_factors(self) -> None:
        """Only knowledge, possession and inherence count."""
        spec = MethodSpec("x", [Factor.EMAIL, Factor.POSSESSION, Factor.FEDERATED])
        assert frozenset({Factor.POSSESSION}) == spec.counted_factors

    def test_name_is_validated(self) -> None:
        """A spec's name obeys the method syntax."""
        with pytest.raises(InvalidMethodError):
            MethodSpec("Hardware Key", Factor.POSSESSION)

    def test_unknown_factor_refused(self) -> None:
        """An unknown factor kind is refused with the accepted ones listed."""
        with pytest.raises(InvalidMethodError, match="knowledge, possession"):
            MethodSpec("x", "something-you-are")

    @pytest.mark.parametrize("value", ["OTP", "fed", "email", "psk"])
    def test_unregistered_rfc_value_refused(self, value: str) -> None:
        """An RFC value outside the registry (or in the wrong case) is refused."""
        with pytest.raises(InvalidMethodError, match="not a registered RFC 8176"):
            MethodSpec("x", Factor.POSSESSION, (value,))

    def test_mfa_cannot_be_mapped(self) -> None:
        """`mfa` is derived, never a method's own value."""
        with pytest.raises(InvalidMethodError, match="derived"):
            MethodSpec("x", Factor.POSSESSION, ("mfa",))

    def test_repeated_rfc_value_refused(self) -> None:
        """A value listed twice is refused."""
        with pytest.raises(InvalidMethodError, match="repeat"):
            MethodSpec("x", Factor.POSSESSION, ("otp", "otp"))

    def test_multi_factor_needs_two_counted_kinds(self) -> None:
        """multi_factor requires two of knowledge, possession, inherence."""
        with pytest.raises(InvalidMethodError, match="multi-factor"):
            MethodSpec("x", [Factor.POSSESSION, Factor.EMAIL], multi_factor=True)

    def test_hardware_bound_needs_possession(self) -> None:
        """hardware_bound requires possession."""
        with pytest.raises(InvalidMethodError, match="hardware-bound"):
            MethodSpec("x", Factor.KNOWLEDGE, hardware_bound=True)

    def test_frozen(self) -> None:
        """A spec cannot be changed in place; attrs.evolve makes a new one."""
        spec = MethodSpec("x", Factor.POSSESSION)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            spec.name = "y"  # type: ignore[misc]
        assert attrs.evolve(spec, supabase_aal2=True).supabase_aal2

    @given(method_specs())
    def test_generated_specs_hold_their_rules(self, spec: MethodSpec) -> None:
        """Every valid spec maps only to registered values other than `mfa`."""
        assert all(rfc8176.is_registered(v) for v in spec.rfc8176)
        assert rfc8176.MFA not in spec.rfc8176
        assert len(set(spec.rfc8176)) == len(spec.rfc8176)

    @given(st.text(max_size=3))
    def test_factor_of_any_text(self, value: str) -> None:
        """Any string that is not a factor kind's name is refused."""
        if value in {f.value for f in Factor}:
            assert Factor(value) in MethodSpec("x", value).factors
        else:
            with pytest.raises(InvalidMethodError):
                MethodSpec("x", [value])


class TestDefaultCatalog:
    def test_covers_the_17_names_once(self) -> None:
        """The default catalog has one spec per Supabase name."""
        names = [s.name for s in DEFAULT_CATALOG]
        assert sorted(KNOWN_METHODS) == sorted(names)

    def test_supabase_aal2_methods(self) -> None:
        """Supabase counts exactly totp, mfa/phone and mfa/webauthn toward aal2."""
        assert {"totp", "mfa/phone", "mfa/webauthn"} == set(SUPABASE_AAL2_METHODS)

    def test_only_token_refresh_is_unrecordable(self) -> None:
        """token_refresh is the one method a store may not record."""
        assert {"token_refresh"} == {
            s.name for s in DEFAULT_CATALOG if not s.recordable
        }

    def test_passkey_is_the_only_multi_factor_method(self) -> None:
        """A user-verified passkey is the one multi-factor authenticator."""
        assert {"passkey"} == {s.name for s in DEFAULT_CATALOG if s.multi_factor}

    def test_nothing_is_hardware_bound_by_default(self) -> None:
        """No default method is known to be hardware-bound (webauthn is `pop`)."""
        assert not any(s.hardware_bound for s in DEFAULT_CATALOG)
        assert all(rfc8176.HWK not in s.rfc8176 for s in DEFAULT_CATALOG)

    def test_email_methods_never_count(self) -> None:
        """Methods that prove a mailbox (or a number) the account has prove no
        counted factor; the links map to no RFC value, the sign-in code to otp."""
        email = [s for s in DEFAULT_CATALOG if Factor.EMAIL in s.factors]
        assert {
            "otp",
            "magiclink",
            "recovery",
            "invite",
            "email/signup",
            "email_change",
        } == {s.name for s in email}
        for spec in email:
            assert frozenset() == spec.counted_factors
            assert (("otp",) if spec.name == "otp" else ()) == spec.rfc8176
            assert not spec.supabase_aal2

    def test_phishing_resistant_methods(self) -> None:
        """WebAuthn and passkeys are the default catalog's phishing-resistant
        methods; none is known to be hardware-bound."""
        assert {"mfa/webauthn", "passkey"} == {
            s.name for s in DEFAULT_CATALOG if s.phishing_resistant
        }

    def test_hardware_bound_is_phishing_resistant_and_says_so(self) -> None:
        """A hardware-bound spec is phishing-resistant by default, must not say
        otherwise, and must list hwk or sc so an RFC-style token shows it."""
        key = MethodSpec("key", Factor.POSSESSION, ("hwk",), hardware_bound=True)
        assert key.phishing_resistant
        with pytest.raises(InvalidMethodError, match="phishing-resistant"):
            MethodSpec(
                "key",
                Factor.POSSESSION,
                ("hwk",),
                hardware_bound=True,
                phishing_resistant=False,
            )
        with pytest.raises(InvalidMethodError, match="'hwk' or 'sc'"):
            MethodSpec("key", Factor.POSSESSION, ("pop",), hardware_bound=True)

    def test_names_are_plain_strings(self) -> None:
        """Catalog names are plain str, not enum members."""
        assert all(type(s.name) is str for s in DEFAULT_CATALOG)

    def test_every_spec_has_a_description(self) -> None:
        """Each default spec says in a sentence what it is."""
        assert all(s.description for s in DEFAULT_CATALOG)
