"""AsyncPostgresClaimStore on a real server: tasks in one loop, the caller's
transaction, pools, errors, cancellation, and the statements it shares with
PostgresClaimStore.

Each test runs its coroutines with asyncio.run and closes every connection it opens
before it returns, so that no schema drop waits on one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg
from psycopg import pq, sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mfa_amr import AMRClaim
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    SessionNotFoundError,
    StoreError,
    StoreUnavailableError,
    UnrecordableMethodError,
)
from mfa_amr.stores.postgres import AsyncPostgresClaimStore, PostgresClaimStore
from mfa_amr.testing import START, FakeClock
from test_postgres import CountingCursor, backends, eventually, rows

if TYPE_CHECKING:
    from conftest import SupabaseTables

pytestmark = pytest.mark.postgres

UTC = UTC
Conn = psycopg.Connection[Any]
AConn = psycopg.AsyncConnection[Any]


async def _connect(dsn: str, **kwargs: Any) -> AConn:
    return await psycopg.AsyncConnection.connect(dsn, **kwargs)


async def _created(dsn: str, schema: str) -> None:
    """Create the claims table in ``schema`` over a connection of its own."""
    async with await _connect(dsn, autocommit=True) as conn:
        await AsyncPostgresClaimStore(conn, schema=schema).create_schema()


# -- tasks -------------------------------------------------------------------------------


class TestConcurrency:
    """Gathered tasks never fail and never duplicate a pair."""

    def test_500_gathered_records_through_a_pool(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """asyncio.gather of 500 records of 20 overlapping pairs through a pool:
        no error, one row per pair, one id per pair, updated_at the greatest time
        given and created_at one of the times given."""
        sessions = [uuid.uuid4() for _ in range(4)]
        methods = ["password", "totp", "mfa/phone", "x-b", "x_a"]
        rnd = random.Random(500)
        calls = [
            (
                (rnd.choice(sessions), rnd.choice(methods)),
                START + timedelta(microseconds=rnd.randrange(10**9)),
            )
            for _ in range(500)
        ]

        async def scenario() -> list[AMRClaim | BaseException]:
            await _created(pg_dsn, pg_schema)
            async with AsyncConnectionPool(
                pg_dsn, min_size=8, max_size=8, kwargs={"autocommit": True}
            ) as pool:
                store = AsyncPostgresClaimStore(pool, schema=pg_schema)
                return await asyncio.gather(
                    *(store.record(*pair, at=at) for pair, at in calls),
                    return_exceptions=True,
                )

        results = asyncio.run(scenario())
        assert [] == [r for r in results if not isinstance(r, AMRClaim)]
        claims = [r for r in results if isinstance(r, AMRClaim)]
        given_at: dict[tuple[uuid.UUID, str], list[datetime]] = {}
        for pair, at in calls:
            given_at.setdefault(pair, []).append(at)
        table = rows(pg_admin, pg_schema)
        assert sorted(given_at) == [(r[0], r[1]) for r in table]
        for sid, method, created_at, updated_at in table:
            assert max(given_at[sid, method]) == updated_at
            assert created_at in given_at[sid, method]
            assert 1 == len(
                {c.id for c in claims if (c.session_id, c.method) == (sid, method)}
            )

    def test_gathered_batches_of_the_same_pairs(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """40 gathered batches of the same 12 pairs in shuffled orders, through the
        store's own pool: no deadlock, no error, the greatest time given."""
        pairs = [(uuid.uuid4(), m) for m in ("password", "totp", "otp") for _ in "ab"]
        pairs += [(uuid.uuid4(), m) for m in ("password", "totp", "otp") for _ in "ab"]
        rnd = random.Random(40)
        batches = [
            (
                rnd.sample(pairs, len(pairs)),
                START + timedelta(seconds=rnd.randrange(99)),
            )
            for _ in range(40)
        ]

        async def scenario() -> list[object]:
            async with await AsyncPostgresClaimStore.connect(
                pg_dsn, schema=pg_schema, min_size=8, max_size=8
            ) as store:
                await store.create_schema()
                return await asyncio.gather(
                    *(
                        store.record_many([(s, m, at) for s, m in batch])
                        for batch, at in batches
                    ),
                    return_exceptions=True,
                )

        results = asyncio.run(scenario())
        assert [] == [r for r in results if isinstance(r, BaseException)]
        table = rows(pg_admin, pg_schema)
        assert sorted(pairs) == [(r[0], r[1]) for r in table]
        assert {max(at for _, at in batches)} == {r[3] for r in table}

    def test_tasks_sharing_one_connection_take_turns(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """100 gathered reads and writes on one caller's AsyncConnection all
        succeed: psycopg serialises the connection's users."""
        sessions = [uuid.uuid4() for _ in range(10)]

        async def scenario() -> tuple[list[Any], dict[uuid.UUID, list[AMRClaim]]]:
            async with await _connect(pg_dsn, autocommit=True) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await store.create_schema()
                work: list[Awaitable[Any]] = []
                for k in range(50):
                    work.append(store.record(sessions[k % 10], "password", at=START))
                    work.append(store.claims(sessions[k % 10]))
                done = await asyncio.gather(*work, return_exceptions=True)
                return done, await store.claims_many(sessions)

        done, state = asyncio.run(scenario())
        assert [] == [r for r in done if isinstance(r, BaseException)]
        assert {sid: ["password"] for sid in sessions} == {
            sid: [c.method for c in claims] for sid, claims in state.items()
        }


# -- the caller's connection ------------------------------------------------------------


class TestCallersTransaction:
    """On a caller's AsyncConnection the store joins the caller's transaction and
    never ends it."""

    def test_a_rollback_discards_a_record(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record made in the caller's transaction is invisible to others, and
        gone after the caller rolls back."""

        async def scenario() -> None:
            await _created(pg_dsn, pg_schema)
            async with await _connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                claim = await store.record(uuid.uuid4(), "password")
                assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
                assert [] == rows(pg_admin, pg_schema)
                await conn.rollback()
                assert [] == await store.claims(claim.session_id)
                await conn.rollback()

        asyncio.run(scenario())
        assert [] == rows(pg_admin, pg_schema)

    def test_a_commit_keeps_a_record_and_a_batch(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record and a batch made inside the caller's transaction block are kept
        when the block commits, and not visible before."""
        sid = uuid.uuid4()

        async def scenario() -> None:
            await _created(pg_dsn, pg_schema)
            async with await _connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                async with conn.transaction():
                    await store.record(sid, "password")
                    await store.record_many([(sid, "totp")])
                    assert [] == rows(pg_admin, pg_schema)

        asyncio.run(scenario())
        assert [(sid, "password"), (sid, "totp")] == [
            r[:2] for r in rows(pg_admin, pg_schema)
        ]

    @pytest.mark.parametrize(
        ("call", "error"),
        [
            (lambda s: s.record("not-a-uuid", "totp"), InvalidClaimError),
            (
                lambda s: s.record(uuid.uuid4(), "token_refresh"),
                UnrecordableMethodError,
            ),
            (
                lambda s: s.record_many([(uuid.uuid4(), "totp"), (uuid.uuid4(), "X")]),
                InvalidMethodError,
            ),
            (lambda s: s.claims_many("not a list"), InvalidInputError),
            (lambda s: s.purge(before=datetime(2026, 1, 1)), InvalidClaimError),
        ],
    )
    def test_a_refused_call_leaves_the_transaction_usable(
        self,
        pg_dsn: str,
        pg_schema: str,
        pg_admin: Conn,
        call: Callable[[AsyncPostgresClaimStore], Awaitable[object]],
        error: type[Exception],
    ) -> None:
        """Bad input is refused before any SQL: the caller's transaction stays open
        and healthy, and what was done in it is still committed."""
        sid = uuid.uuid4()

        async def scenario() -> None:
            await _created(pg_dsn, pg_schema)
            async with await _connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await store.record(sid, "password")
                with pytest.raises(error):
                    await call(store)
                assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
                await store.record(sid, "totp")
                await conn.commit()

        asyncio.run(scenario())
        assert [(sid, "password"), (sid, "totp")] == [
            r[:2] for r in rows(pg_admin, pg_schema)
        ]

    def test_a_refused_write_leaves_the_transaction_usable(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """A record for a missing session raises SessionNotFoundError inside the
        caller's transaction, which stays open and healthy: the records before and
        after it are committed."""
        live = supabase_tables.new_session()

        async def scenario() -> None:
            async with await _connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=supabase_tables.schema)
                await store.record(live, "password")
                missing = uuid.uuid4()
                with pytest.raises(SessionNotFoundError, match=str(missing)) as caught:
                    await store.record(missing, "totp")
                assert isinstance(
                    caught.value.__cause__, psycopg.errors.ForeignKeyViolation
                )
                assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
                await store.record(live, "totp")
                await conn.commit()

        asyncio.run(scenario())
        assert [(live, "password"), (live, "totp")] == [
            r[:2] for r in rows(pg_admin, supabase_tables.schema)
        ]

    def test_the_connection_is_never_reconfigured_or_closed(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """Row factory, autocommit and isolation stay the caller's; the store
        returns claims all the same, and leaving its block leaves the connection
        open."""

        async def scenario() -> None:
            await _created(pg_dsn, pg_schema)
            async with await _connect(pg_dsn, row_factory=dict_row) as conn:
                await conn.set_isolation_level(psycopg.IsolationLevel.SERIALIZABLE)
                async with AsyncPostgresClaimStore(conn, schema=pg_schema) as store:
                    sid = uuid.uuid4()
                    claim = await store.record(sid, "password")
                    assert [claim] == await store.claims(sid)
                    assert {sid: [claim]} == await store.claims_many([sid])
                    assert claim == await store.get(claim.id)
                assert isinstance(claim, AMRClaim)
                assert dict_row is conn.row_factory
                assert conn.autocommit is False
                assert psycopg.IsolationLevel.SERIALIZABLE == conn.isolation_level
                cur = await conn.execute("SELECT 1 AS x")
                assert {"x": 1} == await cur.fetchone()
                shown = conn.cursor(row_factory=tuple_row)
                await shown.execute("SHOW transaction_isolation")
                assert [("serializable",)] == await shown.fetchall()
                assert not conn.closed
                await conn.commit()

        asyncio.run(scenario())

    def test_times_are_utc_whatever_the_connections_time_zone(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """With the caller's session in Asia/Kolkata, times come back as the same
        instants in UTC."""
        at = datetime(
            2026, 3, 1, 23, 59, 59, 999_999, tzinfo=timezone(-timedelta(hours=8))
        )

        async def scenario() -> list[AMRClaim | None]:
            async with await _connect(pg_dsn, autocommit=True) as conn:
                await conn.execute("SET TimeZone = 'Asia/Kolkata'")
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await store.create_schema()
                claim = await store.record(uuid.uuid4(), "password", at=at)
                return [claim, *await store.claims(claim.session_id)]

        for got in asyncio.run(scenario()):
            assert got is not None
            assert at == got.created_at == got.updated_at
            assert UTC is got.created_at.tzinfo is got.updated_at.tzinfo


# -- pools and ownership -----------------------------------------------------------------


class TestPools:
    """A caller's pool is borrowed from per call; connect() owns one."""

    def test_a_callers_pool_commits_each_call_and_stays_open(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """Through a pool of connections outside autocommit, each call's write is
        committed when the connection goes back; closing the store leaves the pool
        open."""
        sid = uuid.uuid4()

        async def scenario() -> None:
            async with AsyncConnectionPool(pg_dsn, min_size=1, max_size=1) as pool:
                store = AsyncPostgresClaimStore(pool, schema=pg_schema)
                await store.create_schema()
                await store.record(sid, "password")
                assert [(sid, "password")] == [r[:2] for r in rows(pg_admin, pg_schema)]
                await store.close()
                assert not pool.closed
                assert ["password"] == [c.method for c in await store.claims(sid)]

        asyncio.run(scenario())

    def test_connect_owns_an_autocommit_pool(
        self,
        pg_dsn: str,
        pg_schema: str,
        pg_admin: Conn,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """connect() passes pool options through (name, sizes, configure, each
        connection's kwargs), makes every connection autocommit, and closes the
        pool when the store's block ends."""
        caplog.set_level(logging.INFO, logger="psycopg.pool")
        app = f"mfa-amr-async-{uuid.uuid4().hex[:8]}"
        sid = uuid.uuid4()
        autocommit: list[bool] = []

        async def configure(conn: AConn) -> None:
            autocommit.append(conn.autocommit)

        async def scenario() -> None:
            async with await AsyncPostgresClaimStore.connect(
                pg_dsn,
                schema=pg_schema,
                min_size=2,
                max_size=2,
                name="mfa-amr-async-test",
                configure=configure,
                kwargs={"autocommit": False, "application_name": app},
            ) as store:
                await store.create_schema()
                await store.record(sid, "password")
                assert [(sid, "password")] == [r[:2] for r in rows(pg_admin, pg_schema)]
                for _ in range(500):
                    if 2 == len(autocommit):
                        break
                    await asyncio.sleep(0.02)
                assert [True, True] == autocommit
                assert 2 == len(backends(pg_admin, app))
                assert "connection given by 'mfa-amr-async-test'" in caplog.messages
            await store.close()  # closing twice does nothing
            with pytest.raises(StoreUnavailableError):
                await store.claims(sid)

        asyncio.run(scenario())
        eventually(lambda: not backends(pg_admin, app), "the pool's closing")

    @pytest.mark.parametrize("value", [True, False])
    def test_connect_refuses_open(self, value: bool) -> None:
        """connect(open=...) is refused, either way, with a pointer to building an
        AsyncConnectionPool and passing it to the constructor; no pool is made."""
        with pytest.raises(InvalidInputError) as caught:
            asyncio.run(
                AsyncPostgresClaimStore.connect("host=/nonexistent", open=value)
            )
        message = str(caught.value)
        assert "connect() opens its own pool" in message
        assert "psycopg_pool.AsyncConnectionPool" in message
        assert "AsyncPostgresClaimStore(pool)" in message

    def test_connect_refuses_bad_arguments_before_opening_a_pool(self) -> None:
        """A bad name, clock or policy is refused before any pool exists."""
        bad: list[dict[str, Any]] = [
            {"schema": ""},
            {"clock": "now"},
            {"policy": "supabase"},
        ]
        for kwargs in bad:
            with pytest.raises(InvalidInputError):
                asyncio.run(AsyncPostgresClaimStore.connect("", **kwargs))

    def test_sources_of_the_other_kind_are_refused_with_a_pointer(
        self, pg_dsn: str, pg_conn: Conn
    ) -> None:
        """Each store refuses the other's connections and pools by name, and a DSN
        string with a pointer to connect()."""
        with pytest.raises(InvalidInputError, match="PostgresClaimStore for"):
            AsyncPostgresClaimStore(pg_conn)  # type: ignore[arg-type]
        with (
            ConnectionPool(pg_dsn, min_size=1, open=False) as pool,
            pytest.raises(InvalidInputError, match="PostgresClaimStore for"),
        ):
            AsyncPostgresClaimStore(pool)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="connect"):
            AsyncPostgresClaimStore("host=localhost")  # type: ignore[arg-type]

        async def scenario() -> None:
            async with await _connect(pg_dsn) as conn:
                with pytest.raises(InvalidInputError, match="AsyncPostgresClaimStore"):
                    PostgresClaimStore(conn)  # type: ignore[arg-type]

        asyncio.run(scenario())

    def test_repr_names_the_table_and_the_source(self, pg_dsn: str) -> None:
        """The repr tells the class, the table and whether it holds a connection
        or a pool."""

        async def scenario() -> list[str]:
            async with await _connect(pg_dsn) as conn:
                by_conn = AsyncPostgresClaimStore(conn, schema="s", table="t")
                pool: AsyncConnectionPool[Any] = AsyncConnectionPool(pg_dsn, open=False)
                return [repr(by_conn), repr(AsyncPostgresClaimStore(pool))]

        assert [
            "<AsyncPostgresClaimStore 's'.'t' via connection>",
            "<AsyncPostgresClaimStore 'auth'.'mfa_amr_claims' via pool>",
        ] == asyncio.run(scenario())


# -- errors --------------------------------------------------------------------------------


class TestErrors:
    """Driver errors become StoreUnavailableError or StoreError, chained, as for
    the sync store."""

    def test_an_unreachable_server(self, pg_schema: str) -> None:
        """Nothing listening: connect() itself raises StoreUnavailableError, a
        ConnectionError, chaining psycopg's error."""

        async def scenario() -> None:
            with pytest.raises(StoreUnavailableError) as caught:
                await AsyncPostgresClaimStore.connect(
                    "host=127.0.0.1 port=1 dbname=test", schema=pg_schema, min_size=1
                )
            assert isinstance(caught.value, ConnectionError)
            assert isinstance(caught.value.__cause__, psycopg.OperationalError)

        asyncio.run(scenario())

    def test_a_dropped_connection(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """The server ends the caller's connection: StoreUnavailableError now and on
        the next call."""

        async def scenario() -> None:
            async with await _connect(pg_dsn, autocommit=True) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await store.create_schema()
                pg_admin.execute(
                    "SELECT pg_terminate_backend(%s, 5000)", (conn.info.backend_pid,)
                )
                with pytest.raises(StoreUnavailableError) as caught:
                    await store.record(uuid.uuid4(), "password")
                assert isinstance(caught.value.__cause__, psycopg.OperationalError)
                with pytest.raises(StoreUnavailableError):
                    await store.claims(uuid.uuid4())

        asyncio.run(scenario())

    def test_a_closed_connection(self, pg_dsn: str, pg_schema: str) -> None:
        """The caller closed its connection: StoreUnavailableError, for
        create_schema too."""

        async def scenario() -> None:
            conn = await _connect(pg_dsn, autocommit=True)
            await conn.close()
            store = AsyncPostgresClaimStore(conn, schema=pg_schema)
            with pytest.raises(StoreUnavailableError):
                await store.claims(uuid.uuid4())
            with pytest.raises(StoreUnavailableError, match="creating the claims"):
                await store.create_schema()

        asyncio.run(scenario())

    def test_other_database_errors(self, pg_dsn: str, pg_schema: str) -> None:
        """A missing table is a StoreError but not StoreUnavailableError, chaining
        the driver's error."""

        async def scenario() -> None:
            async with await _connect(pg_dsn, autocommit=True) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema, table="none")
                with pytest.raises(StoreError) as caught:
                    await store.record(uuid.uuid4(), "password")
            assert not isinstance(caught.value, StoreUnavailableError)
            assert isinstance(caught.value.__cause__, psycopg.errors.UndefinedTable)
            assert "recording a claim" in str(caught.value)

        asyncio.run(scenario())

    def test_invalid_input_and_empty_batches_need_no_server(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """On a closed connection, bad input still raises the input error, and
        empty batches answer: nothing was sent."""
        sid = uuid.uuid4()
        calls: list[tuple[Callable[[Any], Awaitable[object]], type[Exception]]] = [
            (lambda s: s.record("nope", "totp"), InvalidClaimError),
            (lambda s: s.record(sid, "Totp"), InvalidMethodError),
            (lambda s: s.record(sid, "token_refresh"), UnrecordableMethodError),
            (lambda s: s.record_many([(sid, "totp"), (sid,)]), InvalidInputError),
            (lambda s: s.record_many("items"), InvalidInputError),
            (lambda s: s.claims(42), InvalidClaimError),
            (lambda s: s.claims_many(sid), InvalidInputError),
            (lambda s: s.get("x"), InvalidClaimError),
            (lambda s: s.revoke(sid, ""), InvalidMethodError),
            (lambda s: s.revoke_everywhere(str(sid), "totp"), InvalidInputError),
            (lambda s: s.delete_sessions([None]), InvalidClaimError),
            (lambda s: s.purge(before=datetime(2026, 1, 1)), InvalidClaimError),
        ]

        async def scenario() -> None:
            conn = await _connect(pg_dsn, autocommit=True)
            await conn.close()
            store = AsyncPostgresClaimStore(conn, schema=pg_schema)
            for call, error in calls:
                with pytest.raises(error):
                    await call(store)
            assert [] == await store.record_many([])
            assert {} == await store.claims_many([])
            assert 0 == await store.revoke_everywhere([], "totp")
            assert 0 == await store.delete_sessions([])

        asyncio.run(scenario())


# -- cancellation --------------------------------------------------------------------------


class TestCancellation:
    """A call cancelled while it waits for the server is cancelled on the server
    too, and leaves its connection usable."""

    @pytest.mark.parametrize("through", ["connection", "pool"])
    def test_a_cancelled_record_writes_nothing(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn, through: str
    ) -> None:
        """A record waiting on a row another transaction locks, cancelled by a
        timeout: TimeoutError, the row unchanged once the lock goes, and the next
        call on the same connection or pool succeeds."""
        sid = uuid.uuid4()

        async def scenario() -> None:
            await _created(pg_dsn, pg_schema)
            async with (
                await _connect(pg_dsn, autocommit=True) as conn,
                AsyncConnectionPool(
                    pg_dsn, min_size=1, max_size=1, kwargs={"autocommit": True}
                ) as pool,
                await _connect(pg_dsn) as locker,
            ):
                source: Any = conn if through == "connection" else pool
                store = AsyncPostgresClaimStore(source, schema=pg_schema)
                held = await store.record(sid, "totp", at=START)
                await locker.execute(
                    sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(
                        sql.Identifier(pg_schema, "mfa_amr_claims")
                    ),
                    (held.id,),
                )
                later = START + timedelta(hours=1)
                # asyncio.TimeoutError: the builtin one only from Python 3.11.
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(store.record(sid, "totp", at=later), 0.5)
                await locker.rollback()
                assert [held] == await store.claims(sid)
                assert pq.TransactionStatus.IDLE == conn.info.transaction_status

        asyncio.run(scenario())
        assert [(sid, "totp", START, START)] == rows(pg_admin, pg_schema)


# -- one SQL for both stores ---------------------------------------------------------------


class AsyncCountingCursor(psycopg.AsyncCursor[Any]):
    """An async cursor that records the statements it sends."""

    sent: ClassVar[list[str]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        AsyncCountingCursor.sent.append(str(query))
        return await super().execute(query, params, **kwargs)

    async def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        AsyncCountingCursor.sent.append(f"executemany: {query}")
        await super().executemany(query, params_seq, **kwargs)


class TestStatements:
    """The async store sends what the sync store sends: one statement per
    operation, of the same text."""

    def test_each_operation_sends_the_sync_stores_one_statement(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """record, record_many (of 50 items), claims, claims_many (of 50 sessions),
        get, revoke, revoke_everywhere, delete_sessions and purge each execute
        exactly one statement, the very text PostgresClaimStore executes."""
        sids = [uuid.uuid4() for _ in range(50)]
        names = [
            "record",
            "record_many",
            "claims",
            "claims_many",
            "get",
            "revoke",
            "revoke_everywhere",
            "delete_sessions",
            "purge",
        ]

        def arguments(name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return {
                "record": ((sids[0], "password"), {}),
                "record_many": (([(s, "totp") for s in sids],), {}),
                "claims": ((sids[0],), {}),
                "claims_many": ((sids,), {}),
                "get": ((sids[0],), {}),
                "revoke": ((sids[0], "totp"), {}),
                "revoke_everywhere": ((sids, "totp"), {}),
                "delete_sessions": ((sids[:2],), {}),
                "purge": ((), {"before": START}),
            }[name]

        sync_sent: list[list[str]] = []
        with psycopg.connect(
            pg_dsn, autocommit=True, cursor_factory=CountingCursor
        ) as conn:
            store = PostgresClaimStore(conn, schema=pg_schema, clock=FakeClock())
            store.create_schema()
            for name in names:
                CountingCursor.sent.clear()
                args, kwargs = arguments(name)
                getattr(store, name)(*args, **kwargs)
                sync_sent.append(list(CountingCursor.sent))

        async def scenario() -> list[list[str]]:
            sent = []
            async with await _connect(
                pg_dsn, autocommit=True, cursor_factory=AsyncCountingCursor
            ) as conn:
                store = AsyncPostgresClaimStore(
                    conn, schema=pg_schema, clock=FakeClock()
                )
                for name in names:
                    AsyncCountingCursor.sent.clear()
                    args, kwargs = arguments(name)
                    await getattr(store, name)(*args, **kwargs)
                    sent.append(list(AsyncCountingCursor.sent))
            return sent

        async_sent = asyncio.run(scenario())
        assert sync_sent == async_sent
        assert [1] * len(names) == [len(sent) for sent in async_sent]
        assert ["INSERT", "WITH"] + ["SELECT"] * 3 + ["WITH"] * 4 == [
            sent[0].split(None, 1)[0] for sent in async_sent
        ]
