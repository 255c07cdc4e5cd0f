"""The one exception hierarchy of mfa_amr, shared by the policy core and every store.

Every class subclasses :class:`MfaAmrError` and the nearest builtin, so callers can
catch either ``MfaAmrError`` (anything from this library) or the builtin they already
handle (``ValueError`` for bad input, ``ConnectionError`` for an unreachable store,
``PermissionError`` for a token that proves too little).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mfa_amr._verify import StepUpChallenge

__all__ = [
    "AmrParseError",
    "ChallengeParseError",
    "InvalidAALError",
    "InvalidClaimError",
    "InvalidInputError",
    "InvalidMethodError",
    "MfaAmrError",
    "SessionNotFoundError",
    "StepUpRequired",
    "StoreError",
    "StoreUnavailableError",
    "UnrecordableMethodError",
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


class ChallengeParseError(MfaAmrError, ValueError):
    """A ``WWW-Authenticate`` value is not a well-formed RFC 9470 step-up challenge;
    the message says what and where."""


class StepUpRequired(MfaAmrError, PermissionError):
    """The token proves less than the request needs (RFC 9470).

    Answer 401 with ``WWW-Authenticate: <exc.www_authenticate()>``; the client signs
    the user in again with the ``acr_values`` and ``max_age`` asked for.

    Attributes:
        error: always ``"insufficient_user_authentication"``.
        description: what was missing, for people (any text; the header carries an
            ASCII rendering of it).
        acr_values: ``acr`` values any one of which would do, preferred first.
        max_age: the most seconds since the last authentication the request allows,
            or ``None``.

    Raises:
        InvalidInputError: an ``acr`` value that cannot be sent in the header (empty,
            with spaces, quotes, backslashes or non-ASCII), or a ``max_age`` that is
            not a non-negative int.
    """

    error: Final = "insufficient_user_authentication"

    def __init__(
        self,
        description: str,
        *,
        acr_values: Iterable[str] = (),
        max_age: int | None = None,
    ) -> None:
        # Imported here: mfa_amr._verify imports this module.
        from mfa_amr._verify import StepUpChallenge

        super().__init__(description)
        # Built now, so an exception that cannot be rendered is never raised.
        self._challenge = StepUpChallenge(description, acr_values, max_age)
        self.description = description
        self.acr_values: tuple[str, ...] = self._challenge.acr_values
        self.max_age = max_age

    def challenge(self) -> StepUpChallenge:
        """The challenge as a value: what :meth:`www_authenticate` renders."""
        return self._challenge

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` header value: ``Bearer
        error="insufficient_user_authentication", error_description="...",
        acr_values="...", max_age=N``."""
        return self._challenge.www_authenticate()
