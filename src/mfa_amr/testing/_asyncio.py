"""Running asyncio stores from synchronous code: :class:`AsyncRunner`, one
long-lived event loop, and :class:`BlockingClaimStore`, the synchronous face of an
async store. Needs neither pytest nor Hypothesis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import TypeVar

from mfa_amr import AMRClaim
from mfa_amr.stores import AsyncClaimStore, MethodLike, RecordItem, SessionIdLike

__all__ = ["AsyncRunner", "BlockingClaimStore"]

_T = TypeVar("_T")


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    """A coroutine awaiting ``awaitable``: ``asyncio.Runner.run`` takes only
    coroutines, not futures, tasks or other awaitables."""
    return await awaitable


class AsyncRunner:
    """One long-lived event loop on which synchronous code runs coroutines, one at a
    time: an ``asyncio.Runner`` whose ``run`` takes any awaitable and refuses
    cleanly where it cannot run.

    ``asyncio.run`` makes a new loop each time, but psycopg's ``AsyncConnection``
    and ``AsyncConnectionPool`` belong to the loop they were created in: create them
    with ``runner.run(...)`` and use them through the same runner until it closes.
    The loop runs only inside :meth:`run`, so a pool's background tasks (growing it,
    replacing connections) progress while a call waits for them.

    Args:
        loop_factory: makes the loop, at the first :meth:`run`. Default:
            ``asyncio.new_event_loop``; on Windows, psycopg needs
            ``asyncio.SelectorEventLoop``. The loop is never made the thread's
            current event loop, so runners open at once do not disturb each other.

    Example::

        with AsyncRunner() as runner:
            conn = runner.run(psycopg.AsyncConnection.connect(dsn, autocommit=True))
            store = AsyncPostgresClaimStore(conn)
            claims = runner.run(store.claims(session_id))
            runner.run(conn.close())
    """

    def __init__(
        self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    ) -> None:
        # With a factory, asyncio.Runner leaves the thread's current loop alone
        # (without one it sets it, and unsets it on close, under other runners).
        self._runner = asyncio.Runner(
            loop_factory=loop_factory or asyncio.new_event_loop
        )
        # asyncio.Runner.close() of a runner that never ran leaves it able to run:
        # this runner, once closed, stays closed.
        self._closed = False

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` to completion on the runner's loop; return its result
        or raise its exception.

        Raises:
            RuntimeError: the runner is closed, or a loop is already running in
                this thread (in async code, ``await`` instead); the awaitable is
                closed, not left un-awaited.
        """
        problem = None
        if self._closed:
            problem = "this AsyncRunner is closed"
        else:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # no loop running here: the normal case
            else:
                problem = (
                    "AsyncRunner.run() cannot be called while an event loop is "
                    "running in this thread: await the coroutine instead"
                )
        if problem is not None:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise RuntimeError(problem)
        return self._runner.run(_awaited(awaitable))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Cancel the tasks still pending, finish async generators and the default
        executor, and close the loop. Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._runner.close()

    def __enter__(self) -> AsyncRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BlockingClaimStore:
    """The :class:`~mfa_amr.stores.ClaimStore` face of an
    :class:`~mfa_amr.stores.AsyncClaimStore`, so that :class:`ClaimStoreContract`
    and :class:`ClaimStoreMachine`, which are synchronous (Hypothesis state machines
    are), test an asyncio backend unchanged.

    Each call runs the async store's coroutine to completion on ``runner``'s loop,
    the loop its connections belong to, and returns or raises what the coroutine
    does. For tests and scripts: never call it from async code, and from one thread
    at a time.

    Args:
        store: the async store.
        runner: the loop to run on. Default: a new :class:`AsyncRunner`, closed by
            :meth:`close`.
    """

    def __init__(self, store: AsyncClaimStore, runner: AsyncRunner | None = None):
        self._store = store
        self._owns_runner = runner is None
        self._runner = AsyncRunner() if runner is None else runner

    @property
    def store(self) -> AsyncClaimStore:
        """The async store every call goes to."""
        return self._store

    @property
    def runner(self) -> AsyncRunner:
        """The runner every call runs on."""
        return self._runner

    def close(self) -> None:
        """Close the runner if the adapter made it; the async store is the
        caller's to close."""
        if self._owns_runner:
            self._runner.close()

    def __repr__(self) -> str:
        return f"<BlockingClaimStore of {self._store!r}>"

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """``await store.record(...)``."""
        return self._runner.run(self._store.record(session_id, method, at=at))

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """``await store.record_many(items)``."""
        return self._runner.run(self._store.record_many(items))

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """``await store.claims(session_id)``."""
        return self._runner.run(self._store.claims(session_id))

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``await store.claims_many(session_ids)``."""
        return self._runner.run(self._store.claims_many(session_ids))

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """``await store.get(claim_id)``."""
        return self._runner.run(self._store.get(claim_id))

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """``await store.revoke(session_id, method)``."""
        return self._runner.run(self._store.revoke(session_id, method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``await store.revoke_everywhere(session_ids, method)``."""
        return self._runner.run(self._store.revoke_everywhere(session_ids, method))

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """``await store.delete_sessions(session_ids)``."""
        return self._runner.run(self._store.delete_sessions(session_ids))

    def purge(self, *, before: datetime) -> int:
        """``await store.purge(before=before)``."""
        return self._runner.run(self._store.purge(before=before))
