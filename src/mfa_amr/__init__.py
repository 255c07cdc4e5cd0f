"""mfa-amr: record how a user authenticated in each session, decide the assurance
level, and write the ``amr`` claim into access tokens."""

from __future__ import annotations

from mfa_amr import exceptions, rfc8176
from mfa_amr._challenge import StepUpChallenge, StepUpRequired
from mfa_amr._claims import AMRClaim, AMREntry, AmrStyle
from mfa_amr._grammar import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_SKEW,
    MAX_TIMESTAMP,
    METHOD_MAX_LENGTH,
)
from mfa_amr._issue import Assessment
from mfa_amr._levels import AAL, LevelRule
from mfa_amr._methods import DEFAULT_CATALOG, AuthenticationMethod, Factor, MethodSpec
from mfa_amr._policy import Policy
from mfa_amr._verify import Evaluation, ParsedMethod, Requirement, parse_amr
from mfa_amr.stores.memory import AsyncInMemoryClaimStore, InMemoryClaimStore

__all__ = [
    "AAL",
    "DEFAULT_CATALOG",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_SKEW",
    "MAX_TIMESTAMP",
    "METHOD_MAX_LENGTH",
    "AMRClaim",
    "AMREntry",
    "AmrStyle",
    "Assessment",
    "AsyncInMemoryClaimStore",
    "AuthenticationMethod",
    "Evaluation",
    "Factor",
    "InMemoryClaimStore",
    "LevelRule",
    "MethodSpec",
    "ParsedMethod",
    "Policy",
    "Requirement",
    "StepUpChallenge",
    "StepUpRequired",
    "exceptions",
    "parse_amr",
    "rfc8176",
]
