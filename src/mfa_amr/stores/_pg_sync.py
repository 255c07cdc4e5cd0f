# Generated from src/mfa_amr/stores/_pg_async.py by tools/async_to_sync.py.
# DO NOT CHANGE: edit the source, then run `python tools/async_to_sync.py`.
"""``PostgresClaimStore``: the claims store on a PostgreSQL table, over psycopg.

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

import threading
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext, suppress
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Final, TypeVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolTimeout

from mfa_amr._claims import AMRClaim
from mfa_amr._errors import InvalidInputError, StoreUnavailableError
from mfa_amr._policy import Policy
from mfa_amr.stores._input import STORE_SKEW
from mfa_amr.stores._protocol import Clock, MethodLike, RecordItem, SessionIdLike
from mfa_amr.stores._sql import (
    DEFAULT_PURGE_BATCH,
    DEFAULT_SCHEMA,
    DEFAULT_TABLE,
    RELEASE,
    ROLLBACK_TO,
    SAVEPOINT,
    Call,
    Operations,
    Params,
    Step,
    check_connect_timeout,
    connect_error,
    probe_kwargs,
    source_error,
    store_error,
)

__all__ = ["PostgresClaimStore"]

_T = TypeVar("_T")

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
"""How long ``connect()`` waits for its pool's first connections, in seconds."""

# Where a caller's connection may take a savepoint: in its transaction, or about to
# open one (outside autocommit, psycopg begins a transaction before a statement).
_OPEN: Final = frozenset({pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS})


def _in_a_transaction(conn: psycopg.Connection[Any]) -> bool:
    """Whether a statement on ``conn`` runs in a transaction: one is open (also on
    an autocommit connection, in ``conn.transaction()``), or psycopg opens one
    before the statement (outside autocommit)."""
    return (
        not conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE
    )


class PostgresClaimStore:
    """A claims store on a PostgreSQL table, conforming to
    :class:`~mfa_amr.stores.ClaimStore`; one round trip per operation.

    Args:
        source: where connections come from.

            - A ``psycopg.Connection`` the caller owns. The store never
              commits, closes or reconfigures it (autocommit, row factory and
              isolation stay as they are). Inside a transaction the caller has
              open, a write joins it: the caller's rollback discards it, the
              caller's commit keeps it. On an autocommit connection each write
              commits by itself. Concurrent users of one connection take turns
              (psycopg serialises them, and the store its own writes in a
              transaction).
            - A ``psycopg_pool.ConnectionPool``, already open: each call
              borrows a connection and returns it, which commits.
        schema: the table's schema. Default ``auth``.
        table: the table's name. Default ``mfa_amr_claims``.
        clock: returns the current time as an aware datetime; read when ``at`` is
            left out, and to refuse an ``at`` from the future. Default: the real
            UTC time.
        policy: decides which methods may be recorded. Default
            ``Policy.supabase()``.
        skew: how far ahead of ``clock`` an ``at`` may lie (another server's clock
            drift), as a ``timedelta`` or seconds. Default: 60 s
            (``mfa_amr.DEFAULT_SKEW``), a policy's ``skew`` too.

    In a transaction on a caller's connection (outside autocommit, or in
    ``conn.transaction()`` on an autocommit one), each write runs under a savepoint
    sent in the same round trip as the statement (pipeline mode): a write the
    database refuses (a foreign key, a lock or statement timeout, row level
    security) is rolled back alone, raised as a
    :class:`~mfa_amr.exceptions.StoreError`, and the caller's transaction goes on.
    Invalid input is refused before any SQL runs, so a refused call leaves the
    caller's transaction untouched.

    Raises:
        InvalidInputError: ``source`` is not a ``psycopg.Connection`` or a
            ``psycopg_pool.ConnectionPool``; ``schema`` or ``table`` is not a
            name PostgreSQL keeps unchanged; ``clock`` is not callable; ``policy``
            is not a ``Policy``; ``skew`` is negative or not a duration.
    """

    def __init__(
        self,
        source: psycopg.Connection[Any] | ConnectionPool[Any],
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
        skew: timedelta | float = STORE_SKEW,
    ) -> None:
        # What each call runs in: the caller's connection, lent as it is (leaving
        # the block neither closes nor commits it), or one borrowed from the pool
        # (leaving the block commits and returns it).
        self._connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
        given: object = source  # typed for callers, checked as anything
        if isinstance(given, psycopg.Connection):
            conn = given
            self._connection = lambda: nullcontext(conn)
            self._via = "connection"
        elif isinstance(given, ConnectionPool):
            self._connection = given.connection
            self._via = "pool"
        else:
            raise source_error(
                given,
                "source must be a psycopg.Connection or a psycopg_pool.ConnectionPool",
                "to open a pool from a connection string use "
                "PostgresClaimStore.connect(conninfo)",
            )
        self._ops = Operations.for_table(schema, table, clock, policy, skew)
        self._owned_pool: ConnectionPool[Any] | None = None
        # A write under a savepoint is three commands in one pipeline, which any
        # statement sent on the connection meanwhile would join: the store's users
        # of a caller's connection take turns, call by call.
        self._turn = threading.Lock()

    @classmethod
    def connect(
        cls,
        conninfo: str = "",
        *,
        schema: str = DEFAULT_SCHEMA,
        table: str = DEFAULT_TABLE,
        clock: Clock | None = None,
        policy: Policy | None = None,
        skew: timedelta | float = STORE_SKEW,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        **pool_options: Any,
    ) -> PostgresClaimStore:
        """Open a store that owns a pool of autocommit connections, once the server
        has accepted them.

        ``store = PostgresClaimStore.connect(dsn)``, or
        ``with PostgresClaimStore.connect(dsn) as store:``.
        Autocommit makes each operation one round trip (no ``COMMIT`` after it). The
        pool is closed by :meth:`close` or by leaving the store's ``with``
        block.

        It fails fast and names the cause: it first opens one connection with the
        pool's settings, so a wrong password, user or database raises at once,
        then waits until the pool holds its ``min_size`` connections. The pool
        checks each connection before lending it
        (``ConnectionPool.check_connection``, unless ``check`` is given), so a
        connection the server dropped (a restart) is replaced, not handed out.

        Args:
            conninfo: a libpq connection string or URI.
            schema: as for the constructor.
            table: as for the constructor.
            clock: as for the constructor.
            policy: as for the constructor.
            skew: as for the constructor.
            connect_timeout: seconds to wait for the first connection and for the
                pool to fill, and each connection attempt's libpq
                ``connect_timeout`` (unless the connection string sets one).
                Default 10.
            **pool_options: passed to ``psycopg_pool.ConnectionPool``
                (``min_size``, ``max_size``, ``timeout``, ``name``, ``check``,
                ``kwargs`` for each connection, such as
                ``{"prepare_threshold": None}`` behind PgBouncer). ``autocommit``
                in ``kwargs`` is always set to true.

        Raises:
            InvalidInputError: as for the constructor; ``connect_timeout`` is not
                a positive number; or ``open`` is among the pool options:
                connect() opens the pool it owns, and a pool the caller opens and
                closes is given to the constructor instead.
            StoreConfigurationError: the server refused the connection (the
                password, the user, the database, pg_hba.conf): retrying will not
                help.
            StoreUnavailableError: the server cannot be reached (refused, no
                route, timed out, starting up, full), or the pool did not fill in
                time.
        """
        if "open" in pool_options:
            raise InvalidInputError(
                "connect() opens its own pool and takes no open= option: to open "
                "and close the pool yourself, build a "
                "psycopg_pool.ConnectionPool and pass it to "
                "PostgresClaimStore(pool)"
            )
        # Refuse bad arguments before anything connects.
        Operations.for_table(schema, table, clock, policy, skew)
        timeout = check_connect_timeout(connect_timeout)
        kwargs = probe_kwargs(conninfo, pool_options.pop("kwargs", None) or {}, timeout)
        pool_options.setdefault("check", ConnectionPool.check_connection)
        connection_class = pool_options.get("connection_class", psycopg.Connection)
        # One connection first, as the pool would open it: the pool only logs why
        # its connections fail, and would make every call wait its whole timeout.
        try:
            probe = connection_class.connect(conninfo, **kwargs)
        except psycopg.Error as exc:
            raise connect_error(exc) from exc
        probe.close()
        # Opened by open(), which every kind of pool takes, not by the constructor.
        pool: ConnectionPool[Any] = ConnectionPool(
            conninfo, kwargs=kwargs, open=False, **pool_options
        )
        try:
            pool.open(wait=True, timeout=timeout)
            store = cls(
                pool, schema=schema, table=table, clock=clock, policy=policy, skew=skew
            )
        except PoolTimeout as exc:
            pool.close()
            raise StoreUnavailableError(
                f"the pool did not get its {pool.min_size} connection(s) within "
                f"{timeout:g} s, though the server accepted one: it may be near "
                "max_connections or slow to answer; retry, lower min_size, or raise "
                "connect_timeout"
            ) from exc
        except BaseException:
            pool.close()
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

    def close(self) -> None:
        """Close the pool the store opened with :meth:`connect`; a connection or a
        pool the caller gave is left open. Closing again does nothing."""
        if self._owned_pool is not None:
            self._owned_pool.close()

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
        """Create the schema and the table if they do not exist, idempotently, and
        safely when several processes run it at once (the script takes a
        transaction-scoped advisory lock first; see :func:`schema_sql`).

        On a caller's connection outside autocommit, the DDL joins the caller's
        transaction and takes effect when the caller commits.

        Raises:
            StoreUnavailableError: the server could not be reached.
            StoreError: the DDL failed (e.g. no privilege to create the schema).
        """
        self._run(self._ops.create_schema())

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
            InvalidInputError: ``at`` lies more than the store's skew ahead of its
                clock.
            InvalidMethodError: ``method`` breaks the name syntax.
            UnrecordableMethodError: the policy refuses the method.
            SessionNotFoundError: a foreign key to a sessions table refused it.
            WriteDiscardedError: a trigger or rule on the table discarded it.
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
            WriteDiscardedError: a trigger or rule discarded some of the rows;
                nothing was recorded.
            StoreUnavailableError: the server could not be reached.
            StoreError: another database error; nothing was recorded.
        """
        return self._run(self._ops.record_many(items))

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """Remove the session's claim for ``method``; see
        :meth:`mfa_amr.stores.ClaimStore.revoke`.

        Any non-empty name is taken, also one another writer stored outside the
        syntax (``'TOTP'``, ``'sso:okta'``); a name that is not stored finds
        nothing.

        Raises:
            RevocationRefusedError: the role could see the claim but not delete it
                (row level security, a missing privilege, a trigger or a rule).
        """
        return self._run(self._ops.revoke(session_id, method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``revoke`` across sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.revoke_everywhere`.

        Raises:
            RevocationRefusedError: as for :meth:`revoke`.
        """
        return self._run(self._ops.revoke_everywhere(session_ids, method))

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """Remove every claim of the sessions in one statement; see
        :meth:`mfa_amr.stores.ClaimStore.delete_sessions`.

        Raises:
            RevocationRefusedError: as for :meth:`revoke`.
        """
        return self._run(self._ops.delete_sessions(session_ids))

    def purge(
        self,
        *,
        before: datetime,
        batch_size: int = DEFAULT_PURGE_BATCH,
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Remove the sessions whose newest claim is older than ``before``; see
        :meth:`mfa_amr.stores.ClaimStore.purge`.

        It goes through the table in batches of about ``batch_size`` claims, in
        session order, each batch one short statement (its own transaction on a
        pool or an autocommit connection), so a record never waits long behind it.
        A claim recorded at or after ``before`` while the purge runs survives it:
        each row is checked again as it is deleted.

        Args:
            before: the cutoff, an aware datetime.
            batch_size: how many claims one statement looks at. Default 5,000.
            progress: told the claims removed so far after each batch that removed
                any (a progress line, a metric); default: nothing is told.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
            InvalidInputError: ``batch_size`` is not a positive int.
            RevocationRefusedError: a claim to purge was visible to the role but
                not deleted (row level security, a trigger or a rule); the batches
                before it are purged.
        """
        return self._run(self._ops.purge(before, batch_size, progress))

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

    def _run(self, call: Call[_T]) -> _T:
        """Execute ``call``, then each call its answer names, until one answers."""
        step: Step[_T] = call
        while isinstance(step, Call):
            step = self._step(step)
        return step

    def _step(self, call: Call[_T]) -> Step[_T]:
        """Execute ``call`` as :class:`~mfa_amr.stores._sql.Call` says, on a
        connection of :attr:`_connection`; psycopg errors become
        :mod:`mfa_amr.exceptions` errors."""
        query = call.query
        if query is None:
            return call.finish([], 0)
        try:
            if self._via == "pool":
                rows, count = self._execute(call, query)
            else:
                with self._turn:
                    rows, count = self._execute(call, query)
        except psycopg.Error as exc:
            raise store_error(
                exc,
                call.doing,
                call.session_id,
                table=call.table,
                writes=call.writes,
                deletes=call.deletes,
            ) from exc
        # The connection went back first: a call the answer names borrows anew.
        return call.finish(rows, count)

    def _execute(self, call: Call[Any], query: str) -> tuple[list[Any], int]:
        """The rows and row count of ``call``'s statement ``query``, on a connection
        of :attr:`_connection`: a write in a transaction on a caller's connection
        under a savepoint (:meth:`_write`), anything else as it is."""
        # The row factory goes on the cursor: the caller's connection keeps its own.
        # Binary results skip parsing UUIDs and timestamps from text; the DDL script,
        # without parameters, goes as one simple query, which returns text only.
        with (
            self._connection() as conn,
            conn.cursor(row_factory=call.row_factory, binary=call.binary) as cur,
        ):
            if call.writes and self._via == "connection" and _in_a_transaction(conn):
                self._write(conn, cur, query, call.params)
            else:
                cur.execute(query, call.params)
            rows = cur.fetchall() if call.returns_rows else []
            return rows, cur.rowcount

    def _write(
        self,
        conn: psycopg.Connection[Any],
        cur: Any,
        query: str,
        params: Params | None,
    ) -> None:
        """Execute a write in a transaction on the caller's connection: under a
        savepoint when the transaction is usable, sent with the statement in one
        round trip, and rolled back alone if the statement fails.

        Savepoint and release are never prepared: a prepared statement that
        psycopg creates inside a pipeline the server aborts would be remembered but
        not exist (``prepared statement "_pg3_0" does not exist``).
        """
        if conn.info.transaction_status not in _OPEN:
            # An aborted transaction takes no savepoint: the statement fails as
            # any would, and the error says to roll back.
            cur.execute(query, params)
            return
        try:
            with conn.pipeline():
                conn.execute(SAVEPOINT, prepare=False)
                cur.execute(query, params)
                conn.execute(RELEASE, prepare=False)
        except BaseException:
            if conn.info.transaction_status == pq.TransactionStatus.INERROR:
                # Failing too, the connection is lost: the error raised says so.
                with suppress(psycopg.Error):
                    conn.execute(ROLLBACK_TO, prepare=False)
            raise
