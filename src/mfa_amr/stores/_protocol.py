"""The storage protocol every backend implements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, TypeAlias

from mfa_amr._claims import AMRClaim
from mfa_amr._methods import AuthenticationMethod

SessionIdLike: TypeAlias = "uuid.UUID | str"
"""A session id: a ``UUID`` or its string form."""

MethodLike: TypeAlias = "str | AuthenticationMethod"
"""A method name: a string of the method syntax, or an ``AuthenticationMethod``."""

RecordItem: TypeAlias = (
    "tuple[SessionIdLike, MethodLike] | tuple[SessionIdLike, MethodLike, datetime]"
)
"""One item of ``record_many``: ``(session_id, method)`` or ``(session_id, method,
at)``."""

Clock: TypeAlias = Callable[[], datetime]
"""A callable returning the current time as an aware datetime."""


class ClaimStore(Protocol):
    """Where a service keeps its sessions' claims: one per (session, method).

    Backends need not inherit from this class; mypy checks conformance, and
    :mod:`mfa_amr.testing` checks behaviour. Every backend raises the same
    :mod:`mfa_amr.exceptions` for the same situation, and refuses invalid input
    (:class:`~mfa_amr.exceptions.InvalidInputError` and its subclasses) before
    anything changes.
    """

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method`` at ``at`` (default: the store's
        clock).

        The first time for a (session, method) pair creates a claim with a fresh
        uuid4 ``id`` and ``created_at = updated_at = at``. Again, it keeps ``id`` and
        ``created_at`` and sets ``updated_at = max(updated_at, at)``: it never moves
        backwards. Returns the claim as stored.

        An ``at`` more than the store's allowed clock skew (default 60 s,
        ``mfa_amr.DEFAULT_SKEW``) ahead of its clock is refused: since
        ``updated_at`` never moves backwards, a time from the future would stick.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID, or ``at`` is naive.
            InvalidInputError: ``at`` lies more than the skew ahead of the clock.
            InvalidMethodError: ``method`` breaks the name syntax.
            UnrecordableMethodError: the store's policy refuses the method.
            StoreError: the backend failed.
        """
        ...

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items at once, all or nothing, with ``record``'s semantics.

        A pair that appears more than once ends as if its records had been made one
        after another. Returns the resulting claim of each distinct pair, in the
        order each pair first appears. Items without ``at`` (or with ``at=None``)
        share one reading of the clock.

        Raises:
            InvalidInputError: ``items`` is not an iterable, an item is not a
                tuple of two or three values, or an item's ``at`` lies more than
                the skew ahead of the clock.
            InvalidClaimError, InvalidMethodError, UnrecordableMethodError: as
                ``record``, for any item; nothing of the batch is recorded.
        """
        ...

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent ``updated_at`` first, ties by method
        name in code-point order (whatever a database's collation); ``[]`` for a
        session without claims.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID.
        """
        ...

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions; every asked session is a key, one
        without claims maps to ``[]``.

        Raises:
            InvalidInputError: ``session_ids`` is a single id or not an iterable.
            InvalidClaimError: any of them is not a UUID.
        """
        ...

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``.

        Raises:
            InvalidClaimError: ``claim_id`` is not a UUID.
        """
        ...

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method`` (a factor was removed); tell
        whether there was one.

        Any non-empty name is taken, also one outside the syntax that another
        writer of a shared table stored (``'TOTP'``, ``'sso:okta'``): a name that is
        not stored (``token_refresh``, a factor type such as ``'phone'``) finds
        nothing and returns ``False``. A claim the store holds but cannot delete is
        an error, never ``False``.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID.
            InvalidMethodError: ``method`` is not a str, or is empty (remove every
                claim of a session with ``delete_sessions``).
            RevocationRefusedError: the backend holds the claim but was not allowed
                to delete it.
        """
        ...

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across several sessions (a user's); returns claims removed.

        Raises:
            InvalidInputError: ``session_ids`` is a single id or not an iterable.
            InvalidClaimError: any of them is not a UUID (nothing is removed).
            InvalidMethodError: as for ``revoke``.
            RevocationRefusedError: as for ``revoke``.
        """
        ...

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions (sign-out); returns claims removed.

        Raises:
            InvalidInputError: ``session_ids`` is a single id or not an iterable.
            InvalidClaimError: any of them is not a UUID (nothing is removed).
            RevocationRefusedError: as for ``revoke``.
        """
        ...

    def purge(self, *, before: datetime) -> int:
        """Remove every claim of each session whose newest ``updated_at`` is older
        than ``before`` (retention); returns claims removed.

        A session with one claim updated at or after ``before`` keeps all its
        claims, old ones too. A claim whose ``record`` returns with ``updated_at``
        at or after ``before`` is never removed, even by a purge running at the
        same time (a backend that purges in batches may then leave the older claims
        of that session removed).

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
            RevocationRefusedError: as for ``revoke``.
        """
        ...


class AsyncClaimStore(Protocol):
    """:class:`ClaimStore` for asyncio services: the same nine operations, with the
    same arguments, semantics, results and errors, each awaited.

    Backends need not inherit from this class; mypy checks conformance, and
    :class:`mfa_amr.testing.BlockingClaimStore` runs :mod:`mfa_amr.testing`'s
    contract suite and state machine on an async store. Invalid input is refused
    with the same :class:`~mfa_amr.exceptions.InvalidInputError` subclasses, raised
    when the call is awaited, before anything changes.
    """

    async def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``; see :meth:`ClaimStore.record`."""
        ...

    async def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items at once, all or nothing; see
        :meth:`ClaimStore.record_many`."""
        ...

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first; see :meth:`ClaimStore.claims`."""
        ...

    async def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions; see :meth:`ClaimStore.claims_many`."""
        ...

    async def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``; see :meth:`ClaimStore.get`."""
        ...

    async def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see :meth:`ClaimStore.revoke`."""
        ...

    async def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across several sessions; see
        :meth:`ClaimStore.revoke_everywhere`."""
        ...

    async def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions; see
        :meth:`ClaimStore.delete_sessions`."""
        ...

    async def purge(self, *, before: datetime) -> int:
        """Remove every claim of each session idle since before ``before``; see
        :meth:`ClaimStore.purge`."""
        ...
