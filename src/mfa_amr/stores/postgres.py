"""``PostgresClaimStore``: claims in PostgreSQL's ``auth.mfa_amr_claims`` (psycopg 3).

The store works on the production table as Supabase Auth deploys it (with or without
its foreign key to ``auth.sessions``, row level security enabled or not) and can
create that table for a new database. Every operation is one statement, so one round
trip, and atomic on its own.

It takes either a psycopg ``Connection`` that the caller owns (the store joins the
caller's transaction and never commits, closes or reconfigures the connection) or a
``psycopg_pool.ConnectionPool`` (each call borrows a connection and commits);
:meth:`PostgresClaimStore.connect` opens and owns a pool.

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
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from mfa_amr._claims import AMRClaim, to_utc, to_uuid
from mfa_amr._methods import validate_method
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

__all__ = ["DEFAULT_SCHEMA", "DEFAULT_TABLE", "PostgresClaimStore", "schema_sql"]

_T = TypeVar("_T")
_Cursor = psycopg.Cursor[AMRClaim]


def _fetchone(cur: _Cursor) -> AMRClaim | None:
    return cur.fetchone()


def _fetchall(cur: _Cursor) -> list[AMRClaim]:
    return cur.fetchall()


def _rowcount(cur: _Cursor) -> int:
    return cur.rowcount


class PostgresClaimStore:
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
        if isinstance(source, psycopg.Connection):
            self._conn = source
        elif isinstance(source, ConnectionPool):
            self._pool = source
        else:
            raise InvalidInputError(
                "source must be a psycopg.Connection or a psycopg_pool."
                f"ConnectionPool, got {type(source).__name__}; to open a pool from "
                "a connection string use PostgresClaimStore.connect(conninfo)"
            )
        self._sql = _sql.Statements.for_table(schema, table)
        self._clock = _sql.check_clock(clock)
        self._policy = _sql.check_policy(policy)
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
        _sql.Statements.for_table(schema, table)
        _sql.check_clock(clock)
        _sql.check_policy(policy)
        kwargs = {**(pool_options.pop("kwargs", None) or {}), "autocommit": True}
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

    def __repr__(self) -> str:
        via = "connection" if self._conn is not None else "pool"
        return (
            f"<PostgresClaimStore {self._sql.schema!r}.{self._sql.table!r} via {via}>"
        )

    @property
    def policy(self) -> Policy:
        """The policy that decides what may be recorded."""
        return self._policy

    @property
    def schema(self) -> str:
        """The table's schema name."""
        return self._sql.schema

    @property
    def table(self) -> str:
        """The table's name."""
        return self._sql.table

    def schema_sql(self) -> str:
        """The DDL of this store's table; see :func:`schema_sql`."""
        return self._sql.ddl

    def create_schema(self) -> None:
        """Create the schema and the table if they do not exist, idempotently.

        On a caller's connection outside autocommit, the DDL joins the caller's
        transaction and takes effect when the caller commits.

        Raises:
            StoreUnavailableError: the server could not be reached.
            StoreError: the DDL failed (e.g. no privilege to create the schema).
        """
        ddl = self._sql.ddl
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
            raise _sql.store_error(exc, "creating the claims table") from exc

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
        params = _sql.record_params(session_id, method, at, self._policy, self._clock)
        claim = self._run(
            self._sql.record, params, _fetchone, "recording a claim", params[1]
        )
        assert claim is not None  # RETURNING yields the row inserted or updated
        return claim

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
        pairs, params = _sql.record_many_params(items, self._policy, self._clock)
        if not pairs:
            return []
        rows = self._run(
            self._sql.record_many, params, _fetchall, "recording a batch of claims"
        )
        return _sql.in_pair_order(pairs, rows)

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.revoke`.

        Only the name's syntax is checked: a method the policy would not record
        simply finds nothing.
        """
        params = _sql.revoke_params(session_id, method)
        return 0 < self._run(self._sql.revoke, params, _rowcount, "revoking a claim")

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.revoke_everywhere`."""
        sids = _sql.session_ids(session_ids, "revoke_everywhere")
        name = validate_method(method)
        if not sids:
            return 0
        return self._run(
            self._sql.revoke_everywhere, (sids, name), _rowcount, "revoking claims"
        )

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.delete_sessions`."""
        sids = _sql.session_ids(session_ids, "delete_sessions")
        if not sids:
            return 0
        return self._run(
            self._sql.delete_sessions, (sids,), _rowcount, "deleting sessions' claims"
        )

    def purge(self, *, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``, in one
        statement; see :meth:`mfa_amr.stores.ClaimStore.purge`.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
        """
        cutoff = to_utc(before, "before")
        return self._run(self._sql.purge, (cutoff,), _rowcount, "purging old claims")

    # -- reads --------------------------------------------------------------------

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """The session's claims, most recent first, ties by method name in
        code-point order whatever the database's collation; see
        :meth:`mfa_amr.stores.ClaimStore.claims`.

        Rows written by another system are returned as they are, including method
        names the catalog does not know.
        """
        sid = to_uuid(session_id, "session_id")
        return self._run(self._sql.claims, (sid,), _fetchall, "reading claims")

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``claims`` for several sessions in one query (``= ANY``); see
        :meth:`mfa_amr.stores.ClaimStore.claims_many`."""
        sids = _sql.session_ids(session_ids, "claims_many")
        if not sids:
            return {}
        rows = self._run(self._sql.claims_many, (sids,), _fetchall, "reading claims")
        return _sql.by_session(sids, rows)

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """The claim with this ``id``, or ``None``."""
        cid = to_uuid(claim_id, "claim_id")
        return self._run(self._sql.get, (cid,), _fetchone, "reading a claim")

    # -- internals ----------------------------------------------------------------

    def _run(
        self,
        query: str,
        params: Sequence[Any],
        result: Callable[[_Cursor], _T],
        doing: str,
        session_id: uuid.UUID | None = None,
    ) -> _T:
        """Execute one statement on a cursor of claims and return ``result`` of it;
        psycopg errors become :mod:`mfa_amr.exceptions` errors."""
        # The row factory goes on the cursor: the caller's connection keeps its own.
        # Binary results skip parsing UUIDs and timestamps from text.
        try:
            if self._conn is not None:
                with self._conn.cursor(row_factory=_sql.claim_row, binary=True) as cur:
                    cur.execute(query, params)
                    return result(cur)
            assert self._pool is not None
            with (
                self._pool.connection() as conn,
                conn.cursor(row_factory=_sql.claim_row, binary=True) as cur,
            ):
                cur.execute(query, params)
                return result(cur)
        except psycopg.Error as exc:
            raise _sql.store_error(exc, doing, session_id) from exc
