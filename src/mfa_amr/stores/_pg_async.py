"""``AsyncPostgresClaimStore``: the claims store on a PostgreSQL table, over psycopg.

Public through :mod:`mfa_amr.stores.postgres`, which describes it. The store only
executes: every statement, parameter and row comes from
:class:`~mfa_amr.stores._sql.Operations`.

The two PostgreSQL stores have one source, ``_pg_async.py``: ``tools/async_to_sync.py``
writes ``_pg_sync.py`` from it, removing the asynchronous keywords and renaming what
has a synchronous counterpart, in the code, the docstrings and the comments alike. So
nothing in the source says what is true of one store only, and every change is made
in the source, then the script is run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from mfa_amr._claims import AMRClaim
from mfa_amr._errors import InvalidInputError
from mfa_amr._policy import Policy
from mfa_amr.stores._protocol import Clock, MethodLike, RecordItem, SessionIdLike
from mfa_amr.stores._sql import (
    DEFAULT_SCHEMA,
    DEFAULT_TABLE,
    Call,
    Operations,
    claim_row,
    source_error,
    store_error,
)

__all__ = ["AsyncPostgresClaimStore"]

_T = TypeVar("_T")


class AsyncPostgresClaimStore:
    """A claims store on a PostgreSQL table, conforming to
    :class:`~mfa_amr.stores.AsyncClaimStore`; one round trip per operation.

    Args:
        source: where connections come from.

            - A ``psycopg.AsyncConnection`` the caller owns. The store never
              commits, closes or reconfigures it (autocommit, row factory and
              isolation stay as they are). Inside a transaction the caller has
              open, a write joins it: the caller's rollback discards it, the
              caller's commit keeps it. On an autocommit connection each write
              commits by itself. Concurrent users of one connection take turns
              (psycopg serialises them).
            - A ``psycopg_pool.AsyncConnectionPool``, already open: each call
              borrows a connection and returns it, which commits.
        schema: the table's schema. Default ``auth``.
        table: the table's name. Default ``mfa_amr_claims``.
        clock: returns the current time as an aware datetime; read when ``at`` is
            left out. Default: the real UTC time.
        policy: decides which methods may be recorded. Default
            ``Policy.supabase()``.

    Every write is a single statement: atomic on its own, so no savepoint is taken
    inside the caller's transaction. Invalid input is refused before any SQL runs,
    so a refused call leaves the caller's transaction untouched; a database error
    aborts it, as any failed statement does, and is raised as a
    :class:`~mfa_amr.exceptions.StoreError`.

    Raises:
        InvalidInputError: ``source`` is not a ``psycopg.AsyncConnection`` or a
            ``psycopg_pool.AsyncConnectionPool``; ``schema`` or ``table`` is not a
            name PostgreSQL keeps unchanged; ``clock`` is not callable; ``policy``
            is not a ``Policy``.
    """

    def __init__(
        self,
        source: psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any],
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
    ) -> None:
        # What each call runs in: the caller's connection, lent as it is (leaving
        # the block neither closes nor commits it), or one borrowed from the pool
        # (leaving the block commits and returns it).
        self._connection: Callable[
            [], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]
        ]
        given: object = source  # typed for callers, checked as anything
        if isinstance(given, psycopg.AsyncConnection):
            conn = given
            self._connection = lambda: nullcontext(conn)
            self._via = "connection"
        elif isinstance(given, AsyncConnectionPool):
            self._connection = given.connection
            self._via = "pool"
        else:
            raise source_error(
                given,
                "source must be a psycopg.AsyncConnection or a "
                "psycopg_pool.AsyncConnectionPool",
                "to open a pool from a connection string use "
                "await AsyncPostgresClaimStore.connect(conninfo)",
            )
        self._ops = Operations.for_table(schema, table, clock, policy)
        self._owned_pool: AsyncConnectionPool[Any] | None = None

    @classmethod
    async def connect(
        cls,
        conninfo: str = "",
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
        **pool_options: Any,
    ) -> AsyncPostgresClaimStore:
        """Open a store that owns a pool of autocommit connections.

        ``store = await AsyncPostgresClaimStore.connect(dsn)``, or
        ``async with await AsyncPostgresClaimStore.connect(dsn) as store:``.
        Autocommit makes each operation one round trip (no ``COMMIT`` after it). The
        pool is opened without waiting for its connections, and closed by
        :meth:`close` or by leaving the store's ``async with`` block.

        Args:
            conninfo: a libpq connection string or URI.
            schema: as for the constructor.
            table: as for the constructor.
            clock: as for the constructor.
            policy: as for the constructor.
            **pool_options: passed to ``psycopg_pool.AsyncConnectionPool``
                (``min_size``, ``max_size``, ``timeout``, ``name``, ``kwargs`` for
                each connection, such as ``{"prepare_threshold": None}`` behind
                PgBouncer). ``autocommit`` in ``kwargs`` is always set to true.

        Raises:
            InvalidInputError: as for the constructor; or ``open`` is among the
                pool options: connect() opens the pool it owns, and a pool the
                caller opens and closes is given to the constructor instead.
        """
        if "open" in pool_options:
            raise InvalidInputError(
                "connect() opens its own pool and takes no open= option: to open "
                "and close the pool yourself, build a "
                "psycopg_pool.AsyncConnectionPool and pass it to "
                "AsyncPostgresClaimStore(pool)"
            )
        # Refuse bad arguments before a pool starts connecting in the background.
        Operations.for_table(schema, table, clock, policy)
        kwargs = {**(pool_options.pop("kwargs", None) or {}), "autocommit": True}
        # Opened by open(), which every kind of pool takes, not by the constructor.
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo, kwargs=kwargs, open=False, **pool_options
        )
        try:
            await pool.open()
            store = cls(pool, schema=schema, table=table, clock=clock, policy=policy)
        except BaseException:
            await pool.close()
            raise
        store._owned_pool = pool
        return store

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.schema!r}.{self.table!r} via {self._via}>"

    @property
    def policy(self) -> Policy:
        """The policy that decides what may be recorded."""
        return self._ops.policy

    @property
    def schema(self) -> str:
        """The table's schema name."""
        return self._ops.statements.schema

    @property
    def table(self) -> str:
        """The table's name."""
        return self._ops.statements.table

    def schema_sql(self) -> str:
        """The DDL of this store's table; see
        :func:`mfa_amr.stores.postgres.schema_sql`."""
        return self._ops.statements.ddl

    # -- lifecycle ----------------------------------------------------------------

    async def close(self) -> None:
        """Close the pool the store opened with :meth:`connect`; a connection or a
        pool the caller gave is left open. Closing again does nothing."""
        if self._owned_pool is not None:
            await self._owned_pool.close()

    async def __aenter__(self) -> AsyncPostgresClaimStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def create_schema(self) -> None:
        """Create the schema and the table if they do not exist, idempotently.

        On a caller's connection outside autocommit, the DDL joins the caller's
        transaction and takes effect when the caller commits.

        Raises:
            StoreUnavailableError: the server could not be reached.
            StoreError: the DDL failed (e.g. no privilege to create the schema).
        """
        await self._run(self._ops.create_schema())

    # -- writes -------------------------------------------------------------------

    async def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``; see
        :meth:`mfa_amr.stores.AsyncClaimStore.record`.

        One ``INSERT ... ON CONFLICT (session_id, authentication_method) DO UPDATE
        ... RETURNING``.

        Raises:
            InvalidClaimError: ``session_id`` is not a UUID, or ``at`` is naive.
            InvalidMethodError: ``method`` breaks the name syntax.
            UnrecordableMethodError: the policy refuses the method.
            SessionNotFoundError: a foreign key to a sessions table refused it.
            StoreUnavailableError: the server could not be reached.
            StoreError: another database error.
        """
        return await self._run(self._ops.record(session_id, method, at))

    async def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items in one statement, all or nothing; see
        :meth:`mfa_amr.stores.AsyncClaimStore.record_many`.

        Every item is validated before the statement is sent. An item is a tuple
        ``(session_id, method)`` or ``(session_id, method, at)``; ``at=None`` means
        the clock, read once for the whole call.

        Raises:
            InvalidInputError: an item or ``items`` has the wrong shape, or any error
                ``record`` raises for bad input.
            SessionNotFoundError: a foreign key to a sessions table refused one of
                the sessions; nothing was recorded.
            StoreUnavailableError: the server could not be reached.
            StoreError: another database error; nothing was recorded.
        """
        return await self._run(self._ops.record_many(items))

    async def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`mfa_amr.stores.AsyncClaimStore.revoke`.

        Only the name's syntax is checked: a method the policy would not record
        simply finds nothing.
        """
        return await self._run(self._ops.revoke(session_id, method))

    async def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions in one statement; see
        :meth:`mfa_amr.stores.AsyncClaimStore.revoke_everywhere`."""
        return await self._run(self._ops.revoke_everywhere(session_ids, method))

    async def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions in one statement; see
        :meth:`mfa_amr.stores.AsyncClaimStore.delete_sessions`."""
        return await self._run(self._ops.delete_sessions(session_ids))

    async def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``, in one
        statement; see :meth:`mfa_amr.stores.AsyncClaimStore.purge`.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
        """
        return await self._run(self._ops.purge(before))

    # -- reads --------------------------------------------------------------------

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first, ties by method name in
        code-point order whatever the database's collation; see
        :meth:`mfa_amr.stores.AsyncClaimStore.claims`.

        Rows written by another system are returned as they are, including method
        names the catalog does not know.
        """
        return await self._run(self._ops.claims(session_id))

    async def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions in one query (``= ANY``); see
        :meth:`mfa_amr.stores.AsyncClaimStore.claims_many`."""
        return await self._run(self._ops.claims_many(session_ids))

    async def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        return await self._run(self._ops.get(claim_id))

    # -- internals ----------------------------------------------------------------

    async def _run(self, call: Call[_T]) -> _T:
        """Execute ``call`` as :class:`~mfa_amr.stores._sql.Call` says, on the
        connection of :attr:`_connection`; psycopg errors become
        :mod:`mfa_amr.exceptions` errors."""
        if call.query is None:
            return call.finish([], 0)
        # The row factory goes on the cursor: the caller's connection keeps its own.
        # Binary results skip parsing UUIDs and timestamps from text; the DDL script,
        # without parameters, goes as one simple query, which returns text only.
        try:
            async with (
                self._connection() as conn,
                conn.cursor(
                    row_factory=claim_row, binary=call.params is not None
                ) as cur,
            ):
                await cur.execute(call.query, call.params)
                rows = await cur.fetchall() if call.returns_rows else []
                return call.finish(rows, cur.rowcount)
        except psycopg.Error as exc:
            raise store_error(exc, call.doing, call.session_id) from exc
