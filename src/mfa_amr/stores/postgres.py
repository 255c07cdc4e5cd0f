"""Claims in PostgreSQL's ``auth.mfa_amr_claims`` (psycopg 3): ``PostgresClaimStore``
and, for asyncio, ``AsyncPostgresClaimStore``.

The stores work on the production table as Supabase Auth deploys it (with or without
its foreign key to ``auth.sessions``, row level security enabled or not) and can
create that table for a new database. Every operation is one statement, so one round
trip, and atomic on its own.

``PostgresClaimStore`` takes either a psycopg ``Connection`` that the caller owns (the
store joins the caller's transaction and never commits, closes or reconfigures the
connection) or a ``psycopg_pool.ConnectionPool`` (each call borrows a connection and
commits); :meth:`PostgresClaimStore.connect` opens and owns a pool.
``AsyncPostgresClaimStore`` is the same store over an ``AsyncConnection`` or an
``AsyncConnectionPool``: both take every statement, parameter and row from
:class:`mfa_amr.stores._sql.Operations` and differ only in awaiting the execution.

Example:
    >>> import uuid
    >>> from mfa_amr.stores.postgres import PostgresClaimStore
    >>> with PostgresClaimStore.connect(dsn, schema=schema) as store:  # doctest: +SKIP
    ...     store.create_schema()
    ...     sid = uuid.uuid4()
    ...     _ = store.record(sid, "password")
    ...     [c.method for c in store.claims(sid)]
    ['password']

Needs the ``postgres`` extra: ``pip install 'mfa-amr[postgres]'``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mfa_amr._claims import AMRClaim
from mfa_amr._policy import Policy
from mfa_amr.exceptions import InvalidInputError
from mfa_amr.stores import _sql
from mfa_amr.stores._protocol import (
    Clock,
    MethodLike,
    RecordItem,
    SessionIdLike,
)
from mfa_amr.stores._sql import DEFAULT_SCHEMA, DEFAULT_TABLE, schema_sql

__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_TABLE",
    "AsyncPostgresClaimStore",
    "PostgresClaimStore",
    "schema_sql",
]

_T = TypeVar("_T")


def _pool_kwargs(pool_options: dict[str, Any]) -> dict[str, Any]:
    """The ``kwargs`` of each connection of a pool ``connect()`` opens: the
    caller's, with autocommit forced on."""
    return {**(pool_options.pop("kwargs", None) or {}), "autocommit": True}


class _Table:
    """What the two PostgreSQL stores share besides executing: the table's
    :class:`~mfa_amr.stores._sql.Operations` and what they tell."""

    _ops: _sql.Operations
    _via: str

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
        """The DDL of this store's table; see :func:`schema_sql`."""
        return self._ops.statements.ddl


class PostgresClaimStore(_Table):
    """A :class:`~mfa_amr.stores.ClaimStore` on a PostgreSQL table.

    Args:
        source: where connections come from.

            - A ``psycopg.Connection`` the caller owns. The store never commits,
              closes or reconfigures it (autocommit, row factory and isolation stay
              as they are). Inside a transaction the caller has open, a write joins
              it: the caller's rollback discards it, the caller's commit keeps it.
              On an autocommit connection each write commits by itself.
            - A ``psycopg_pool.ConnectionPool``: each call borrows a connection and
              returns it, which commits.
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
        InvalidInputError: ``source`` is neither a ``Connection`` nor a
            ``ConnectionPool``; ``schema`` or ``table`` is not a name PostgreSQL
            keeps unchanged; ``clock`` is not callable; ``policy`` is not a
            ``Policy``.
    """

    def __init__(
        self,
        source: psycopg.Connection[Any] | ConnectionPool[Any],
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        self._pool: ConnectionPool[Any] | None = None
        given: object = source  # typed for callers, checked as anything
        if isinstance(given, psycopg.Connection):
            self._conn = given
        elif isinstance(given, ConnectionPool):
            self._pool = given
        elif isinstance(given, (psycopg.AsyncConnection, AsyncConnectionPool)):
            raise InvalidInputError(
                f"source is a {type(source).__name__}: use AsyncPostgresClaimStore "
                "for asyncio connections and pools"
            )
        else:
            raise InvalidInputError(
                "source must be a psycopg.Connection or a psycopg_pool."
                f"ConnectionPool, got {type(source).__name__}; to open a pool from "
                "a connection string use PostgresClaimStore.connect(conninfo)"
            )
        self._via = "connection" if self._conn is not None else "pool"
        self._ops = _sql.Operations.for_table(schema, table, clock, policy)
        self._owns_pool = False

    @classmethod
    def connect(
        cls,
        conninfo: str = "",
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
        **pool_options: Any,
    ) -> PostgresClaimStore:
        """Open a store that owns a pool of autocommit connections.

        Autocommit makes each operation one round trip (no ``COMMIT`` after it). The
        pool is closed by :meth:`close` or by leaving the store's ``with`` block.

        Args:
            conninfo: a libpq connection string or URI.
            schema: as for the constructor.
            table: as for the constructor.
            clock: as for the constructor.
            policy: as for the constructor.
            **pool_options: passed to ``psycopg_pool.ConnectionPool`` (``min_size``,
                ``max_size``, ``timeout``, ``kwargs`` for each connection, such as
                ``{"prepare_threshold": None}`` behind PgBouncer). ``autocommit`` in
                ``kwargs`` is always set to true.

        Raises:
            InvalidInputError: as for the constructor.
        """
        # Refuse bad arguments before a pool starts connecting in the background.
        _sql.Operations.for_table(schema, table, clock, policy)
        kwargs = _pool_kwargs(pool_options)
        pool_options.setdefault("open", True)
        pool: ConnectionPool[Any] = ConnectionPool(
            conninfo, kwargs=kwargs, **pool_options
        )
        try:
            store = cls(pool, schema=schema, table=table, clock=clock, policy=policy)
        except BaseException:
            pool.close()
            raise
        store._owns_pool = True
        return store

    # -- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        """Close the pool the store opened with :meth:`connect`; a connection or a
        pool the caller gave is left open. Closing again does nothing."""
        if self._owns_pool and self._pool is not None:
            self._pool.close()

    def __enter__(self) -> PostgresClaimStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def create_schema(self) -> None:
        """Create the schema and the table if they do not exist, idempotently.

        On a caller's connection outside autocommit, the DDL joins the caller's
        transaction and takes effect when the caller commits.

        Raises:
            StoreUnavailableError: the server could not be reached.
            StoreError: the DDL failed (e.g. no privilege to create the schema).
        """
        ddl = self._ops.statements.ddl
        try:
            if self._conn is not None:
                # A plain cursor: no parameters, so the script goes as one simple
                # query, run by the server as one implicit transaction.
                with self._conn.cursor() as cur:
                    cur.execute(ddl)
            else:
                assert self._pool is not None
                with self._pool.connection() as conn:
                    conn.execute(ddl)
        except psycopg.Error as exc:
            raise _sql.store_error(exc, _sql.CREATING) from exc

    # -- writes -------------------------------------------------------------------

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.record`.

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
        return self._run(self._ops.record(session_id, method, at))

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items in one statement, all or nothing; see
        :meth:`mfa_amr.stores.ClaimStore.record_many`.

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
        return self._run(self._ops.record_many(items))

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.revoke`.

        Only the name's syntax is checked: a method the policy would not record
        simply finds nothing.
        """
        return self._run(self._ops.revoke(session_id, method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.revoke_everywhere`."""
        return self._run(self._ops.revoke_everywhere(session_ids, method))

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.delete_sessions`."""
        return self._run(self._ops.delete_sessions(session_ids))

    def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``, in one
        statement; see :meth:`mfa_amr.stores.ClaimStore.purge`.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
        """
        return self._run(self._ops.purge(before))

    # -- reads --------------------------------------------------------------------

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first, ties by method name in
        code-point order whatever the database's collation; see
        :meth:`mfa_amr.stores.ClaimStore.claims`.

        Rows written by another system are returned as they are, including method
        names the catalog does not know.
        """
        return self._run(self._ops.claims(session_id))

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions in one query (``= ANY``); see
        :meth:`mfa_amr.stores.ClaimStore.claims_many`."""
        return self._run(self._ops.claims_many(session_ids))

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        return self._run(self._ops.get(claim_id))

    # -- internals ----------------------------------------------------------------

    def _run(self, call: _sql.Call[_T]) -> _T:
        """Execute ``call`` on a cursor of claims; psycopg errors become
        :mod:`mfa_amr.exceptions` errors. The one part the async store awaits."""
        if call.query is None:
            return call.finish([], 0)
        # The row factory goes on the cursor: the caller's connection keeps its own.
        # Binary results skip parsing UUIDs and timestamps from text.
        try:
            if self._conn is not None:
                with self._conn.cursor(row_factory=_sql.claim_row, binary=True) as cur:
                    cur.execute(call.query, call.params)
                    rows = cur.fetchall() if call.returns_rows else []
                    return call.finish(rows, cur.rowcount)
            assert self._pool is not None
            with (
                self._pool.connection() as conn,
                conn.cursor(row_factory=_sql.claim_row, binary=True) as cur,
            ):
                cur.execute(call.query, call.params)
                rows = cur.fetchall() if call.returns_rows else []
                return call.finish(rows, cur.rowcount)
        except psycopg.Error as exc:
            raise _sql.store_error(exc, call.doing, call.session_id) from exc


class AsyncPostgresClaimStore(_Table):
    """An :class:`~mfa_amr.stores.AsyncClaimStore` on a PostgreSQL table: the
    :class:`PostgresClaimStore` for asyncio services, every operation awaited.

    It sends the same statements with the same parameters, builds the same claims
    and raises the same errors as the synchronous store (both run the same
    :class:`~mfa_amr.stores._sql.Operations`); one round trip per operation.

    Args:
        source: where connections come from.

            - A ``psycopg.AsyncConnection`` the caller owns, with the same rules
              as ``PostgresClaimStore``'s ``Connection``: the store never commits,
              closes or reconfigures it, and a write joins the caller's open
              transaction. Tasks sharing it take turns (psycopg serialises a
              connection's users).
            - A ``psycopg_pool.AsyncConnectionPool``, already open: each call
              borrows a connection and returns it, which commits.
        schema: the table's schema. Default ``auth``.
        table: the table's name. Default ``mfa_amr_claims``.
        clock: returns the current time as an aware datetime; read when ``at`` is
            left out. Default: the real UTC time.
        policy: decides which methods may be recorded. Default
            ``Policy.supabase()``.

    psycopg's async connections and pools belong to the event loop they were
    created in: use the store in that loop only. A call cancelled while it waits
    for the server (a timeout, a client gone) raises ``CancelledError``; psycopg
    cancels the statement on the server first, so the write did not happen and the
    connection stays usable (inside the caller's transaction, the transaction is
    aborted, as by any failed statement).

    Raises:
        InvalidInputError: ``source`` is neither an ``AsyncConnection`` nor an
            ``AsyncConnectionPool``; ``schema`` or ``table`` is not a name
            PostgreSQL keeps unchanged; ``clock`` is not callable; ``policy`` is
            not a ``Policy``.
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
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        given: object = source  # typed for callers, checked as anything
        if isinstance(given, psycopg.AsyncConnection):
            self._conn = given
        elif isinstance(given, AsyncConnectionPool):
            self._pool = given
        elif isinstance(given, (psycopg.Connection, ConnectionPool)):
            raise InvalidInputError(
                f"source is a {type(source).__name__}: use PostgresClaimStore for "
                "synchronous connections and pools"
            )
        else:
            raise InvalidInputError(
                "source must be a psycopg.AsyncConnection or a psycopg_pool."
                f"AsyncConnectionPool, got {type(source).__name__}; to open a pool "
                "from a connection string use "
                "await AsyncPostgresClaimStore.connect(conninfo)"
            )
        self._via = "connection" if self._conn is not None else "pool"
        self._ops = _sql.Operations.for_table(schema, table, clock, policy)
        self._owns_pool = False

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
        """Open a store that owns an ``AsyncConnectionPool`` of autocommit
        connections, in the running event loop.

        ``store = await AsyncPostgresClaimStore.connect(dsn)``, or ``async with
        await AsyncPostgresClaimStore.connect(dsn) as store:``; the pool is closed
        by :meth:`close` or by leaving the ``async with`` block. The pool is opened
        without waiting for its connections, as ``PostgresClaimStore.connect`` does.

        Args:
            conninfo: a libpq connection string or URI.
            schema: as for the constructor.
            table: as for the constructor.
            clock: as for the constructor.
            policy: as for the constructor.
            **pool_options: passed to ``psycopg_pool.AsyncConnectionPool``
                (``min_size``, ``max_size``, ``timeout``, ``kwargs`` for each
                connection, such as ``{"prepare_threshold": None}`` behind
                PgBouncer). ``autocommit`` in ``kwargs`` is always set to true.

        Raises:
            InvalidInputError: as for the constructor.
        """
        _sql.Operations.for_table(schema, table, clock, policy)
        kwargs = _pool_kwargs(pool_options)
        # An async pool is opened by awaiting open(): opening it in the
        # constructor is deprecated by psycopg_pool.
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo, kwargs=kwargs, open=False, **pool_options
        )
        try:
            await pool.open()
            store = cls(pool, schema=schema, table=table, clock=clock, policy=policy)
        except BaseException:
            await pool.close()
            raise
        store._owns_pool = True
        return store

    # -- lifecycle ----------------------------------------------------------------

    async def close(self) -> None:
        """Close the pool the store opened with :meth:`connect`; a connection or a
        pool the caller gave is left open. Closing again does nothing."""
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

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
        """Create the schema and the table if they do not exist, idempotently; see
        :meth:`PostgresClaimStore.create_schema`.

        Raises:
            StoreUnavailableError: the server could not be reached.
            StoreError: the DDL failed (e.g. no privilege to create the schema).
        """
        ddl = self._ops.statements.ddl
        try:
            if self._conn is not None:
                # A plain cursor, so the script goes as one simple query.
                async with self._conn.cursor() as cur:
                    await cur.execute(ddl)
            else:
                assert self._pool is not None
                async with self._pool.connection() as conn:
                    await conn.execute(ddl)
        except psycopg.Error as exc:
            raise _sql.store_error(exc, _sql.CREATING) from exc

    # -- writes -------------------------------------------------------------------

    async def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """Record that the session proved ``method``, in one upsert; see
        :meth:`PostgresClaimStore.record`."""
        return await self._run(self._ops.record(session_id, method, at))

    async def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """Record several items in one statement, all or nothing; see
        :meth:`PostgresClaimStore.record_many`."""
        return await self._run(self._ops.record_many(items))

    async def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`PostgresClaimStore.revoke`."""
        return await self._run(self._ops.revoke(session_id, method))

    async def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions in one statement; see
        :meth:`PostgresClaimStore.revoke_everywhere`."""
        return await self._run(self._ops.revoke_everywhere(session_ids, method))

    async def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions in one statement; see
        :meth:`PostgresClaimStore.delete_sessions`."""
        return await self._run(self._ops.delete_sessions(session_ids))

    async def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``, in one
        statement; see :meth:`PostgresClaimStore.purge`."""
        return await self._run(self._ops.purge(before))

    # -- reads --------------------------------------------------------------------

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first; see
        :meth:`PostgresClaimStore.claims`."""
        return await self._run(self._ops.claims(session_id))

    async def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions in one query; see
        :meth:`PostgresClaimStore.claims_many`."""
        return await self._run(self._ops.claims_many(session_ids))

    async def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        return await self._run(self._ops.get(claim_id))

    # -- internals ----------------------------------------------------------------

    async def _run(self, call: _sql.Call[_T]) -> _T:
        """:meth:`PostgresClaimStore._run`, awaited."""
        if call.query is None:
            return call.finish([], 0)
        try:
            if self._conn is not None:
                async with self._conn.cursor(
                    row_factory=_sql.claim_row, binary=True
                ) as cur:
                    await cur.execute(call.query, call.params)
                    rows = await cur.fetchall() if call.returns_rows else []
                    return call.finish(rows, cur.rowcount)
            assert self._pool is not None
            async with (
                self._pool.connection() as conn,
                conn.cursor(row_factory=_sql.claim_row, binary=True) as cur,
            ):
                await cur.execute(call.query, call.params)
                rows = await cur.fetchall() if call.returns_rows else []
                return call.finish(rows, cur.rowcount)
        except psycopg.Error as exc:
            raise _sql.store_error(exc, call.doing, call.session_id) from exc
