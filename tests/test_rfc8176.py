"""The RFC 8176 registry vocabulary (mfa_amr.rfc8176)."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_amr import rfc8176

REGISTERED = {
    "face",
    "fpt",
    "geo",
    "hwk",
    "iris",
    "kba",
    "mca",
    "mfa",
    "otp",
    "pin",
    "pop",
    "pwd",
    "rba",
    "retina",
    "sc",
    "sms",
    "swk",
    "tel",
    "user",
    "vbm",
    "wia",
}


class TestRegistry:
    def test_exactly_21_values(self) -> None:
        """The registry holds the 20 values of RFC 8176 plus `pop`."""
        assert 21 == len(rfc8176.REGISTRY)
        assert REGISTERED == set(rfc8176.REGISTRY)

    def test_every_value_has_a_meaning(self) -> None:
        """Each value maps to a non-empty description."""
        assert all(isinstance(m, str) and m.strip() for m in rfc8176.REGISTRY.values())

    def test_constants_name_the_values(self) -> None:
        """Each upper-case constant is the registered value of its own name."""
        constants = {n for n in rfc8176.__all__ if n.isupper() and n != "REGISTRY"}
        assert {v.upper() for v in REGISTERED} == constants
        for name in constants:
            assert name.lower() == getattr(rfc8176, name)

    def test_all_is_sorted_and_complete(self) -> None:
        """__all__ is sorted and names only what the module defines."""
        assert sorted(rfc8176.__all__) == list(rfc8176.__all__)
        assert all(hasattr(rfc8176, n) for n in rfc8176.__all__)

    def test_read_only(self) -> None:
        """The registry cannot be changed at run time."""
        with pytest.raises(TypeError):
            rfc8176.REGISTRY["fed"] = "federated"  # type: ignore[index]

    def test_module_doctest(self) -> None:
        """The module docstring's example runs."""
        result = doctest.testmod(rfc8176)
        assert 0 == result.failed
        assert result.attempted > 0


class TestIsRegistered:
    @pytest.mark.parametrize("value", sorted(REGISTERED))
    def test_registered(self, value: str) -> None:
        """Every registered value is recognised."""
        assert rfc8176.is_registered(value)

    @pytest.mark.parametrize(
        "value",
        ["OTP", "Pwd", " otp", "otp ", "otp\n", "\u043etp", "fed", "email", "psk", ""],
    )
    def test_case_sensitive_and_exact(self, value: str) -> None:
        """Case, padding, look-alikes and common unregistered values are refused."""
        assert not rfc8176.is_registered(value)

    @pytest.mark.parametrize("value", [None, 1, b"otp", ("otp",)])
    def test_non_strings(self, value: object) -> None:
        """Non-strings are never registered."""
        assert not rfc8176.is_registered(value)

    def test_str_subclass_refused(self) -> None:
        """Only an exact str counts: a subclass could compare or print differently."""

        class Sub(str):
            pass

        assert not rfc8176.is_registered(Sub("otp"))

    @given(st.text(max_size=8))
    def test_any_text(self, value: str) -> None:
        """is_registered agrees with membership in the 21 values, for any text."""
        assert (value in REGISTERED) == rfc8176.is_registered(value)
