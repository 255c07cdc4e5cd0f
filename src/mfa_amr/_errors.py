"""The exception hierarchy, factored out to import nothing of mfa_amr: every other
module may raise these, and this module depends on none of them.

:mod:`mfa_amr.exceptions` is the public face: it re-exports these classes with
:class:`~mfa_amr.exceptions.StepUpRequired`, which lives beside the challenge it
carries (``mfa_amr._challenge``).
"""

from __future__ import annotations

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
    "StoreConfigurationError",
    "StoreError",
    "StoreUnavailableError",
    "TableNotFoundError",
    "UnrecordableMethodError",
    "WebhookSignatureError",
    "WriteDiscardedError",
]


class MfaAmrError(Exception):
    """Base class of every error raised by mfa_amr."""


class InvalidInputError(MfaAmrError, ValueError):
    """An argument had the wrong type or value; nothing was changed."""


class InvalidMethodError(InvalidInputError):
    """A method name breaks the syntax: 1-64 characters of ``a-z 0-9 / _ - .``."""


class UnrecordableMethodError(InvalidInputError):
    """A well-formed method the policy refuses to record (``token_refresh``, or an
    unknown name under a strict policy)."""


class InvalidClaimError(InvalidInputError):
    """A claim's fields are inconsistent: not a UUID, a naive datetime,
    ``created_at`` after ``updated_at``, or claims of different sessions mixed."""


class InvalidAALError(InvalidInputError):
    """An assurance level that is not one of ``aal1``, ``aal2``, ``aal3``."""


class AmrParseError(MfaAmrError, ValueError):
    """A token's ``amr`` claim could not be read; the message says what and where."""


class StoreError(MfaAmrError, RuntimeError):
    """A storage backend failed; the driver's exception is chained as ``__cause__``."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The store could not be reached, or the connection dropped."""


class SessionNotFoundError(StoreError, LookupError):
    """The session a claim was recorded for does not exist (a foreign key refused it)."""


class StoreConfigurationError(StoreError):
    """The store cannot work as it is set up, and retrying will not help: the server
    refused the credentials, the database or the role, the table is missing, or the
    role lacks a privilege or a row level security policy it needs."""


class TableNotFoundError(StoreConfigurationError):
    """The claims table (or its schema) does not exist: ``create_schema()`` or the
    script of ``schema_sql()`` creates it."""


class RevocationRefusedError(StoreConfigurationError, PermissionError):
    """A claim the store could see was not deleted: row level security, a missing
    privilege, a trigger or a rule kept it, so a sign-out or a factor's removal did
    not happen."""


class WriteDiscardedError(StoreConfigurationError):
    """The database accepted a write but stored no row for it: a trigger or a rule on
    the table discarded it."""


class ChallengeParseError(MfaAmrError, ValueError):
    """A ``WWW-Authenticate`` value is not a well-formed RFC 9470 step-up challenge;
    the message says what and where."""


class HookRequestError(MfaAmrError, ValueError):
    """A request to the Supabase access token hook is not one (no ``claims`` object,
    a claim Supabase requires missing): answered in Supabase's hook error shape."""


class WebhookSignatureError(MfaAmrError, PermissionError):
    """A webhook request's Standard Webhooks signature does not pass (a header
    missing or malformed, a timestamp out of tolerance, no matching signature):
    answered 401, and the request never reaches the policy."""
