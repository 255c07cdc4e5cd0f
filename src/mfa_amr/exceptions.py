"""Every exception mfa_amr raises, in one hierarchy.

Every class subclasses :class:`MfaAmrError` and the nearest builtin, so callers can
catch either ``MfaAmrError`` (anything from this library) or the builtin they already
handle (``ValueError`` for bad input, ``ConnectionError`` for an unreachable store,
``PermissionError`` for a token that proves too little).
"""

from __future__ import annotations

from mfa_amr._challenge import StepUpRequired
from mfa_amr._errors import (
    AmrParseError,
    ChallengeParseError,
    HookRequestError,
    InvalidAALError,
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    MfaAmrError,
    RevocationRefusedError,
    SessionNotFoundError,
    StoreConfigurationError,
    StoreError,
    StoreUnavailableError,
    TableNotFoundError,
    UnrecordableMethodError,
    WebhookSignatureError,
    WriteDiscardedError,
)

__all__ = [
    "AmrParseError",
    "ChallengeParseError",
    "HookRequestError",
    "InvalidAALError",
    "InvalidClaimError",
    "InvalidInputError",
    "InvalidMethodError",
    "MfaAmrError",
    "RevocationRefusedError",
    "SessionNotFoundError",
    "StepUpRequired",
    "StoreConfigurationError",
    "StoreError",
    "StoreUnavailableError",
    "TableNotFoundError",
    "UnrecordableMethodError",
    "WebhookSignatureError",
    "WriteDiscardedError",
]
