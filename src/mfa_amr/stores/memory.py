"""``InMemoryClaimStore``: the embedded, thread-safe backend, and
``AsyncInMemoryClaimStore``, the same store for asyncio code.

It keeps claims in dictionaries behind one lock. Use it in unit tests (with a
:class:`mfa_amr.testing.FakeClock`), in a single-process service, or as the reference
against which :mod:`mfa_amr.testing` is itself tested.

Example:
    >>> import uuid
    >>> from datetime import datetime, timezone
    >>> from mfa_amr import InMemoryClaimStore
    >>> store = InMemoryClaimStore()
    >>> sid = uuid.uuid4()
    >>> at = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)
    >>> store.record(sid, "password", at=at).method
    'password'
    >>> [c.method for c in store.claims(sid)]
    ['password']
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from mfa_amr._claims import AMRClaim, claim_from_row
from mfa_amr._grammar import to_utc, to_uuid
from mfa_amr._policy import Policy
from mfa_amr.stores._input import (
    STORE_SKEW,
    check_clock,
    check_policy,
    check_skew,
    record_at,
    record_items,
    stored_name,
)
from mfa_amr.stores._input import session_ids as checked_session_ids
from mfa_amr.stores._protocol import Clock, MethodLike, RecordItem, SessionIdLike

__all__ = ["AsyncInMemoryClaimStore", "InMemoryClaimStore"]


class InMemoryClaimStore:
    """A :class:`~mfa_amr.stores.ClaimStore` in process memory.

    Every operation holds one lock for its whole change, so concurrent threads see
    each operation whole; ``record_many`` validates every item before it changes
    anything. Claims are lost with the process.

    Args:
        clock: returns the current time as an aware datetime; read when ``at`` is
            left out, and to refuse an ``at`` from the future. Default: the real
            UTC time.
        policy: decides which methods may be recorded. Default:
            ``Policy.supabase()``.
        skew: how far ahead of ``clock`` an ``at`` may lie, as a ``timedelta`` or
            seconds. Default: 60 s (``mfa_amr.DEFAULT_SKEW``).

    Raises:
        InvalidInputError: ``clock`` is not callable, ``policy`` not a ``Policy``,
            ``skew`` negative or not a duration.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        skew: timedelta | float = STORE_SKEW,
    ):
        self._clock = check_clock(clock)
        self._policy = check_policy(policy)
        self._skew = check_skew(skew)
        self._lock = threading.Lock()
        # session id -> method name -> claim; and claim id -> claim, for get().
        self._sessions: dict[uuid.UUID, dict[str, AMRClaim]] = {}
        self._by_id: dict[uuid.UUID, AMRClaim] = {}

    @property
    def policy(self) -> Policy:
        """The policy that decides what may be recorded."""
        return self._policy

    def __repr__(self) -> str:
        return f"<InMemoryClaimStore: {self._size()}>"

    def _size(self) -> str:
        with self._lock:
            claims, sessions = len(self._by_id), len(self._sessions)
        return f"{claims} claims in {sessions} sessions"

    # -- writes -------------------------------------------------------------------

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.record`."""
        sid = to_uuid(session_id, "session_id")
        name = self._policy.check_recordable(method)
        when = record_at(at, self._clock, self._skew)
        with self._lock:
            return self._apply(sid, name, when)

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items, all or nothing; see
        :meth:`mfa_amr.stores.ClaimStore.record_many`.

        An item is a tuple ``(session_id, method)`` or ``(session_id, method, at)``;
        ``at=None`` means the clock, read once for the whole call.
        """
        checked = record_items(items, self._policy, self._clock, self._skew)
        with self._lock:
            results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
            for sid, name, when in checked:
                results[sid, name] = self._apply(sid, name, when)
            return list(results.values())

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.revoke`.

        Any non-empty name is taken, also one outside the syntax (``'TOTP'``, as
        another writer of a shared table may store): a name that is not held simply
        finds nothing.
        """
        sid = to_uuid(session_id, "session_id")
        name = stored_name(method)
        with self._lock:
            return self._remove(sid, name)

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions; see
        :meth:`mfa_amr.stores.ClaimStore.revoke_everywhere`."""
        sids = checked_session_ids(session_ids, "revoke_everywhere")
        name = stored_name(method)
        with self._lock:
            return sum(self._remove(sid, name) for sid in sids)

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions; see
        :meth:`mfa_amr.stores.ClaimStore.delete_sessions`."""
        sids = checked_session_ids(session_ids, "delete_sessions")
        with self._lock:
            return sum(self._drop_session(sid) for sid in sids)

    def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``; see
        :meth:`mfa_amr.stores.ClaimStore.purge`.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
        """
        cutoff = to_utc(before, "before")
        with self._lock:
            stale = [
                sid
                for sid, rows in self._sessions.items()
                if max(c.updated_at for c in rows.values()) < cutoff
            ]
            return sum(self._drop_session(sid) for sid in stale)

    # -- reads --------------------------------------------------------------------

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first; see
        :meth:`mfa_amr.stores.ClaimStore.claims`."""
        sid = to_uuid(session_id, "session_id")
        with self._lock:
            return self._ordered(self._sessions.get(sid, {}).values())

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions, every one a key; see
        :meth:`mfa_amr.stores.ClaimStore.claims_many`."""
        sids = checked_session_ids(session_ids, "claims_many")
        with self._lock:
            return {
                sid: self._ordered(self._sessions.get(sid, {}).values()) for sid in sids
            }

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        cid = to_uuid(claim_id, "claim_id")
        with self._lock:
            return self._by_id.get(cid)

    # -- internals (called with the lock held) -------------------------------------

    def _apply(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        """Insert the (session, method) claim or move its ``updated_at`` forward."""
        rows = self._sessions.setdefault(sid, {})
        held = rows.get(name)
        if held is None:
            claim = claim_from_row(uuid.uuid4(), sid, name, at, at)
        elif at > held.updated_at:
            # The held claim's own values with a later at: valid as they are, so
            # the validating constructor (attrs.evolve) would only cost time.
            claim = claim_from_row(held.id, sid, name, held.created_at, at)
        else:
            return held
        rows[name] = claim
        self._by_id[claim.id] = claim
        return claim

    def _remove(self, sid: uuid.UUID, name: str) -> bool:
        rows = self._sessions.get(sid)
        if rows is None or name not in rows:
            return False
        del self._by_id[rows.pop(name).id]
        if not rows:
            del self._sessions[sid]
        return True

    def _drop_session(self, sid: uuid.UUID) -> int:
        rows = self._sessions.pop(sid, None)
        if rows is None:
            return 0
        for claim in rows.values():
            del self._by_id[claim.id]
        return len(rows)

    @staticmethod
    def _ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
        """Most recent ``updated_at`` first, ties by method name in code-point order
        (Python compares ``str`` by code point; two stable sorts avoid turning
        datetimes into floats)."""
        by_name = sorted(claims, key=lambda c: c.authentication_method)
        return sorted(by_name, key=lambda c: c.updated_at, reverse=True)


class AsyncInMemoryClaimStore:
    """An :class:`~mfa_amr.stores.AsyncClaimStore` in process memory: an
    :class:`InMemoryClaimStore` behind awaitable methods, for testing asyncio code
    or a single-process asyncio service.

    Each call does all its work when awaited, under the store's lock, and never
    suspends: to the tasks of a loop every operation is atomic, and it holds the
    loop only as long as the change itself takes. It is bound to no event loop, so
    tasks of several loops and threads may share it.

    Args:
        clock: returns the current time as an aware datetime; read when ``at`` is
            left out, and to refuse an ``at`` from the future. Default: the real
            UTC time.
        policy: decides which methods may be recorded. Default:
            ``Policy.supabase()``.
        skew: how far ahead of ``clock`` an ``at`` may lie. Default: 60 s.

    Raises:
        InvalidInputError: ``clock`` is not callable, ``policy`` not a ``Policy``,
            ``skew`` negative or not a duration.

    Example:
        >>> import asyncio, uuid
        >>> from mfa_amr.stores.memory import AsyncInMemoryClaimStore
        >>> store = AsyncInMemoryClaimStore()
        >>> sid = uuid.uuid4()
        >>> async def sign_in() -> list[str]:
        ...     await store.record(sid, "password")
        ...     return [c.method for c in await store.claims(sid)]
        >>> asyncio.run(sign_in())
        ['password']
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        skew: timedelta | float = STORE_SKEW,
    ):
        self._store = InMemoryClaimStore(clock=clock, policy=policy, skew=skew)

    @property
    def policy(self) -> Policy:
        """The policy that decides what may be recorded."""
        return self._store.policy

    def __repr__(self) -> str:
        return f"<AsyncInMemoryClaimStore: {self._store._size()}>"

    async def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``; see
        :meth:`InMemoryClaimStore.record`."""
        return self._store.record(session_id, method, at=at)

    async def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items, all or nothing; see
        :meth:`InMemoryClaimStore.record_many`."""
        return self._store.record_many(items)

    async def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`InMemoryClaimStore.revoke`."""
        return self._store.revoke(session_id, method)

    async def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions; see
        :meth:`InMemoryClaimStore.revoke_everywhere`."""
        return self._store.revoke_everywhere(session_ids, method)

    async def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions; see
        :meth:`InMemoryClaimStore.delete_sessions`."""
        return self._store.delete_sessions(session_ids)

    async def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``; see
        :meth:`InMemoryClaimStore.purge`."""
        return self._store.purge(before=before)

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first; see
        :meth:`InMemoryClaimStore.claims`."""
        return self._store.claims(session_id)

    async def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions, every one a key; see
        :meth:`InMemoryClaimStore.claims_many`."""
        return self._store.claims_many(session_ids)

    async def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        return self._store.get(claim_id)
