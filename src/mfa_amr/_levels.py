"""Assurance levels and the level rule, shared by the side that issues tokens and
the side that verifies them, so that both judge the same evidence the same way.

:class:`PolicyTerms` is what both sides read of a policy; :class:`~mfa_amr.Policy`
provides it, and the functions below them never import the policy itself.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from typing import Final, Protocol

from mfa_amr._errors import InvalidAALError
from mfa_amr._methods import Evidence, MethodSpec

__all__ = ["AAL", "LevelRule", "PolicyTerms", "level_of", "windows"]


class AAL(enum.StrEnum):
    """Authenticator assurance level, ordered ``AAL1 < AAL2 < AAL3``.

    Each member is the string of the token's ``aal`` claim: ``AAL.AAL2 == "aal2"``,
    and ``json.dumps(AAL.AAL2)`` gives ``'"aal2"'``. The claim strings order as the
    levels do, so comparisons hold between members and strings alike.
    """

    AAL1 = "aal1"
    AAL2 = "aal2"
    AAL3 = "aal3"

    @classmethod
    def of(cls, value: AAL | str) -> AAL:
        """Return ``value`` as an ``AAL``; accepts the level or its claim string.

        Raises:
            InvalidAALError: anything but ``"aal1"``, ``"aal2"``, ``"aal3"``.
        """
        level = _BY_VALUE.get(value) if isinstance(value, str) else None
        if level is None:
            raise InvalidAALError(
                f"{value!r} is not an assurance level: use 'aal1', 'aal2' or 'aal3'"
            )
        return level


_BY_VALUE: dict[str, AAL] = {level.value: level for level in AAL}


class LevelRule(enum.StrEnum):
    """How a policy turns claims into a level."""

    SUPABASE = "supabase"
    """aal2 exactly when a method Supabase counts (``totp``, ``mfa/phone``,
    ``mfa/webauthn``) has a claim; otherwise aal1."""
    NIST = "nist"
    """aal2 for two distinct factor kinds or one multi-factor authenticator; aal3 when
    a hardware-bound key is one of them."""


class PolicyTerms(Protocol):
    """What the issuing and the verifying side read of a policy: its rule, catalog,
    freshness windows, clock skew, ``acr`` names and strictness."""

    @property
    def rule(self) -> LevelRule: ...

    @property
    def methods(self) -> Mapping[str, MethodSpec]: ...

    @property
    def strict(self) -> bool: ...

    @property
    def aal2_max_age(self) -> timedelta | None: ...

    @property
    def aal3_max_age(self) -> timedelta | None: ...

    @property
    def acr_values(self) -> Mapping[AAL, str]: ...

    @property
    def skew(self) -> timedelta: ...

    def aal_for_acr(self, acr: str) -> AAL | None: ...


def windows(terms: PolicyTerms) -> tuple[float | None, float | None]:
    """The policy's aal2 and aal3 freshness windows in seconds (``None``: no
    window), as :func:`~mfa_amr._methods.evidence` reads them on both sides."""
    aal2, aal3 = terms.aal2_max_age, terms.aal3_max_age
    return (
        None if aal2 is None else aal2.total_seconds(),
        None if aal3 is None else aal3.total_seconds(),
    )


def level_of(rule: LevelRule, proof: Evidence, *, by_factors: bool = False) -> AAL:
    """The level a rule gives what the claims or a token's entries prove (see
    :func:`~mfa_amr._methods.evidence`).

    ``by_factors`` judges by factor kinds under the Supabase rule too: for evidence
    that names no Supabase method (an RFC 8176 string ``amr``).
    """
    supabase2, mfa2, mfa3, hardware3 = proof
    if rule is _SUPABASE and not by_factors:
        return _AAL2 if supabase2 else _AAL1
    if not mfa2:
        return _AAL1
    if rule is _NIST and mfa3 and hardware3:
        return _AAL3
    return _AAL2


# Module constants: reading an enum member off its class costs ~0.2 us on 3.11, and
# this is every request's path.
_SUPABASE: Final = LevelRule.SUPABASE
_NIST: Final = LevelRule.NIST
_AAL1, _AAL2, _AAL3 = AAL.AAL1, AAL.AAL2, AAL.AAL3
