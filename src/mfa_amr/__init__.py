"""mfa-amr: record how a user authenticated in each session, decide the assurance
level, and write the ``amr`` claim into access tokens."""

from __future__ import annotations

from mfa_amr import exceptions, rfc8176
from mfa_amr._claims import AMRClaim, AMREntry
from mfa_amr._methods import AuthenticationMethod, Factor, MethodSpec
from mfa_amr._policy import AAL, AmrStyle, Assessment, LevelRule, Policy
from mfa_amr._verify import Evaluation, ParsedMethod, StepUpChallenge, parse_amr
from mfa_amr.exceptions import StepUpRequired
from mfa_amr.stores.memory import AsyncInMemoryClaimStore, InMemoryClaimStore

__all__ = [
    "AAL",
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
    "StepUpChallenge",
    "StepUpRequired",
    "exceptions",
    "parse_amr",
    "rfc8176",
]
