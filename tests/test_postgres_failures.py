"""Nothing lost, nothing silently kept: the PostgreSQL stores where a first try
went wrong. A purge racing records, revocation under row level security, a refused
write inside the caller's transaction, times from the future, a pool that cannot
connect, rows a trigger swallows, a missing table; and names another writer stored.

Each class is one of those tries, run against the real server as a new user would
meet it; the sync store everywhere, the async one where it executes differently
(the savepoint's pipeline, cancellation, connect()).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg
from psycopg import pq, sql
from psycopg_pool import ConnectionPool
from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from mfa_amr import AAL, AMRClaim, InMemoryClaimStore, Policy
from mfa_amr.exceptions import (
    InvalidInputError,
    InvalidMethodError,
    RevocationRefusedError,
    SessionNotFoundError,
    StoreConfigurationError,
    StoreError,
    StoreUnavailableError,
    TableNotFoundError,
    WriteDiscardedError,
)
from mfa_amr.stores import ClaimStore
from mfa_amr.stores.postgres import AsyncPostgresClaimStore, PostgresClaimStore
from mfa_amr.testing import START, ClaimStoreContract, FakeClock
from test_postgres import CountingCursor, rows

if TYPE_CHECKING:
    from conftest import SupabaseTables

pytestmark = pytest.mark.postgres

Conn = psycopg.Connection[Any]
ROOT = Path(__file__).resolve().parents[1]
DAY = timedelta(days=1)


def now() -> datetime:
    return datetime.now(UTC)


def waiting_on_a_lock(admin: Conn, query_start: str, seconds: float = 10) -> int:
    """The pid of the backend whose query starts with ``query_start``, once it waits
    on a lock; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE starts_with(query, %s) AND wait_event_type = 'Lock'",
            (query_start,),
        ).fetchone()
        if row is not None:
            pid: int = row[0]
            return pid
        time.sleep(0.01)
    pytest.fail(f"no statement starting {query_start!r} waited on a lock")


def status(conn: Conn) -> pq.TransactionStatus:
    """The connection's transaction status, read afresh."""
    return conn.info.transaction_status


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start ``call`` in a thread; its result or exception lands in the list."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(call())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store(pg_conn: Conn, pg_schema: str) -> PostgresClaimStore:
    """A store on a caller's autocommit connection (the real clock), table made."""
    store = PostgresClaimStore(pg_conn, schema=pg_schema)
    store.create_schema()
    return store


# -- 1. purge -------------------------------------------------------------------------


class TestPurgeKeepsWhatWasReverified:
    """A claim recorded at or after ``before`` survives a purge running at the same
    time, and a purge goes in short batches."""

    def test_a_record_the_purge_waits_for_survives_it(
        self, store: PostgresClaimStore, pg_dsn: str, pg_admin: Conn
    ) -> None:
        """A purge that chose an idle session waits on a claim being recorded again
        in a transaction; once that commits, the purge re-checks the row and keeps
        it (the session's other old claim goes)."""
        sid = uuid.uuid4()
        old = now() - 10 * DAY
        store.record_many([(sid, "password", old), (sid, "totp", old)])
        with psycopg.connect(pg_dsn) as recorder:
            again = PostgresClaimStore(recorder, schema=store.schema).record(
                sid, "totp"
            )
            purge, result = in_thread(lambda: store.purge(before=now() - DAY))
            waiting_on_a_lock(pg_admin, "WITH page AS")
            recorder.commit()
            purge.join(10)
        assert [1] == result
        assert [again] == store.claims(sid)

    def test_records_racing_a_purge_are_never_lost(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """4 threads recording again claims of 2,000 idle sessions while a purge of
        small batches goes through them: every claim whose record returned with
        updated_at at or after ``before`` is in the table afterwards."""
        sids = [uuid.uuid4() for _ in range(2000)]
        old = now() - 10 * DAY
        before = now() - DAY
        kept: list[AMRClaim] = []
        lock = threading.Lock()
        with PostgresClaimStore.connect(
            pg_dsn, schema=pg_schema, min_size=5, max_size=5
        ) as store:
            store.create_schema()
            store.record_many([(s, m, old) for s in sids for m in ("password", "totp")])
            done = threading.Event()

            def record(seed: int) -> None:
                rnd = random.Random(seed)
                while not done.is_set():
                    claim = store.record(rnd.choice(sids), rnd.choice(["totp", "otp"]))
                    assert before <= claim.updated_at
                    with lock:
                        kept.append(claim)

            threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            try:
                removed = store.purge(before=before, batch_size=50)
            finally:
                done.set()
                for thread in threads:
                    thread.join()
            assert removed > 0
            assert kept
            found = store.claims_many({c.session_id for c in kept})
        held = {(c.id, c.session_id, c.method) for cs in found.values() for c in cs}
        assert [] == [c for c in kept if (c.id, c.session_id, c.method) not in held]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        items=st.lists(
            st.tuples(
                st.integers(0, 5),
                st.sampled_from(["password", "totp", "otp", "x-b"]),
                st.integers(-3, 3),
            ),
            max_size=16,
        ),
        cutoff=st.integers(-3, 4),
        batch_size=st.integers(1, 5),
    )
    def test_any_batch_size_purges_by_the_rule(
        self,
        store: PostgresClaimStore,
        pg_conn: Conn,
        items: list[tuple[int, str, int]],
        cutoff: int,
        batch_size: int,
    ) -> None:
        """Whatever the batch size (a page may cut a session in two), purge removes
        exactly what the in-memory store's purge removes and counts it the same."""
        pg_conn.execute(
            sql.SQL("TRUNCATE {}").format(sql.Identifier(store.schema, store.table))
        )
        base = now() - DAY
        sids = [uuid.uuid4() for _ in range(6)]
        memory = InMemoryClaimStore()
        batch = [(sids[k], m, base + timedelta(seconds=s)) for k, m, s in items]
        memory.record_many(batch)
        store.record_many(batch)
        before = base + timedelta(seconds=cutoff)
        assert memory.purge(before=before) == store.purge(
            before=before, batch_size=batch_size
        )
        expected = {
            s: [(c.method, c.updated_at) for c in cs]
            for s, cs in memory.claims_many(sids).items()
        }
        got = {
            s: [(c.method, c.updated_at) for c in cs]
            for s, cs in store.claims_many(sids).items()
        }
        assert expected == got

    def test_a_purge_is_short_statements_of_about_batch_size_claims(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """Purging 250 idle sessions of 2 claims with batch_size=100 sends 6
        statements (pages of 100 claims, the last one short) and returns the
        total; on an autocommit connection each commits by itself."""
        with psycopg.connect(
            pg_dsn, autocommit=True, cursor_factory=CountingCursor
        ) as conn:
            store = PostgresClaimStore(conn, schema=pg_schema)
            store.create_schema()
            old = now() - 10 * DAY
            store.record_many(
                [(uuid.uuid4(), m, old) for _ in range(250) for m in ("otp", "totp")]
            )
            CountingCursor.sent.clear()
            assert 500 == store.purge(before=now() - DAY, batch_size=100)
            assert 6 == len(CountingCursor.sent)
            assert {"WITH page AS ("} == {q[:14] for q in CountingCursor.sent}

    def test_progress_is_told_after_each_batch(
        self, store: PostgresClaimStore, pg_dsn: str, pg_schema: str
    ) -> None:
        """progress hears the claims removed so far after each batch, sync and
        async alike, ending at the total; something not callable is refused."""
        old = now() - 10 * DAY
        store.record_many([(uuid.uuid4(), "otp", old) for _ in range(7)])
        told: list[int] = []
        assert 7 == store.purge(before=now() - DAY, batch_size=3, progress=told.append)
        assert [3, 6, 7] == told

        async def run() -> list[int]:
            async with await psycopg.AsyncConnection.connect(
                pg_dsn, autocommit=True
            ) as conn:
                async_store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await async_store.record_many(
                    [(uuid.uuid4(), "otp", old) for _ in range(4)]
                )
                heard: list[int] = []
                await async_store.purge(
                    before=now() - DAY, batch_size=2, progress=heard.append
                )
                return heard

        assert [2, 4] == asyncio.run(run())
        with pytest.raises(InvalidInputError, match="progress"):
            store.purge(before=now(), progress=3)  # type: ignore[arg-type]

    @pytest.mark.parametrize("batch_size", [0, -5, 1.5, True, "100", None])
    def test_a_bad_batch_size_is_refused(
        self, store: PostgresClaimStore, batch_size: object
    ) -> None:
        """batch_size must be a positive int; anything else is refused before any
        SQL, naming it."""
        with pytest.raises(InvalidInputError, match="batch_size"):
            store.purge(before=now(), batch_size=batch_size)  # type: ignore[arg-type]


# -- 2. revocation under row level security ------------------------------------------


@pytest.fixture
def make_role(
    pg_admin: Conn, supabase_tables: SupabaseTables
) -> Iterator[Callable[..., str]]:
    """Make a non-superuser role with privileges on Supabase's claims table (row
    level security on) and the given policies; every role made is dropped after."""
    made: list[str] = []
    table = sql.Identifier(supabase_tables.schema, "mfa_amr_claims")

    def make(*policies: str) -> str:
        role = f"mfa_amr_role_{uuid.uuid4().hex[:10]}"
        made.append(role)
        ident = sql.Identifier(role)
        pg_admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
        pg_admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(supabase_tables.schema), ident
            )
        )
        pg_admin.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                table, ident
            )
        )
        for n, policy in enumerate(policies):
            pg_admin.execute(
                sql.SQL("CREATE POLICY {} ON {} " + policy).format(
                    sql.Identifier(f"{role}_{n}"), table, ident
                )
            )
        return role

    yield make
    for role in made:
        pg_admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        pg_admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def as_role(pg_dsn: str, role: str, **kwargs: Any) -> Conn:
    """A connection whose statements run as ``role`` (not a superuser, not the
    table's owner: row level security applies)."""
    return psycopg.connect(pg_dsn, options=f"-c role={role}", **kwargs)


READ_AND_WRITE = (
    "FOR SELECT TO {} USING (true)",
    "FOR INSERT TO {} WITH CHECK (true)",
    "FOR UPDATE TO {} USING (true) WITH CHECK (true)",
)


class TestRevocationThatCannotActSaysSo:
    """A claim the role can see but not delete raises RevocationRefusedError naming
    the table and the role; a claim deleted meanwhile by another is no refusal."""

    def test_a_role_that_may_read_but_not_delete_is_refused_loudly(
        self,
        pg_dsn: str,
        pg_admin: Conn,
        supabase_tables: SupabaseTables,
        make_role: Callable[..., str],
    ) -> None:
        """As a non-superuser role with row level security on and no DELETE policy,
        revoke, revoke_everywhere, delete_sessions and purge raise
        RevocationRefusedError (a PermissionError) naming the table and the role,
        and the session stays aal2: the sign-out did not happen and says so."""
        role = make_role(*READ_AND_WRITE)
        sid = supabase_tables.new_session()
        with as_role(pg_dsn, role, autocommit=True) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            assert "on" == conn.execute("SHOW row_security").fetchone()[0]  # type: ignore[index]
            store.record(sid, "password", at=now() - 10 * DAY)
            store.record(sid, "totp", at=now() - 10 * DAY)
            calls: list[Callable[[], object]] = [
                lambda: store.revoke(sid, "totp"),
                lambda: store.revoke_everywhere([sid], "totp"),
                lambda: store.delete_sessions([sid]),
                lambda: store.purge(before=now()),
            ]
            for call in calls:
                with pytest.raises(RevocationRefusedError) as caught:
                    call()
                assert isinstance(caught.value, PermissionError)
                assert isinstance(caught.value, StoreConfigurationError)
                assert f'"{supabase_tables.schema}"."mfa_amr_claims"' in str(
                    caught.value
                )
                assert repr(role) in str(caught.value)
            claims = store.claims(sid)
        assert ["totp", "password"] == [c.method for c in claims]
        assert AAL.AAL2 == Policy.supabase().assess(claims).aal

    def test_a_policy_that_deletes_only_some_methods_is_refused(
        self,
        pg_dsn: str,
        supabase_tables: SupabaseTables,
        make_role: Callable[..., str],
    ) -> None:
        """A DELETE policy covering 'password' only: delete_sessions refuses, saying
        how many visible claims stayed."""
        role = make_role(
            *READ_AND_WRITE,
            "FOR DELETE TO {} USING (authentication_method = 'password')",
        )
        sid = supabase_tables.new_session()
        with as_role(pg_dsn, role, autocommit=True) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            store.record_many([(sid, "password"), (sid, "totp"), (sid, "otp")])
            with pytest.raises(RevocationRefusedError, match=r"^2 claim"):
                store.delete_sessions([sid])
            assert ["otp", "totp"] == sorted(c.method for c in store.claims(sid))

    def test_rows_hidden_from_the_role_cannot_be_seen_to_stay(
        self,
        pg_dsn: str,
        pg_admin: Conn,
        supabase_tables: SupabaseTables,
        make_role: Callable[..., str],
    ) -> None:
        """A claim the role's SELECT policy hides is neither deleted nor reported:
        what a role cannot see, no statement of that role can tell apart from
        nothing (docs/postgres.md says so)."""
        role = make_role(
            "FOR SELECT TO {} USING (authentication_method <> 'totp')",
            "FOR DELETE TO {} USING (true)",
        )
        sid = supabase_tables.new_session()
        admin_store = PostgresClaimStore(pg_admin, schema=supabase_tables.schema)
        admin_store.record_many([(sid, "password"), (sid, "totp")])
        with as_role(pg_dsn, role, autocommit=True) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            assert 1 == store.delete_sessions([sid])
        assert ["totp"] == [c.method for c in admin_store.claims(sid)]

    def test_a_claim_deleted_meanwhile_by_another_is_no_refusal(
        self, store: PostgresClaimStore, pg_dsn: str, pg_admin: Conn
    ) -> None:
        """A double-clicked sign-out: the claim another transaction deletes while
        revoke waits for it makes revoke return False, and delete_sessions count
        only what it removed; neither raises."""
        sid = uuid.uuid4()
        store.record_many([(sid, "password"), (sid, "totp")])
        for operation, query_start, expected in (
            (lambda: store.revoke(sid, "totp"), "WITH gone AS", [False]),
            (lambda: store.delete_sessions([sid]), "WITH gone AS", [1]),
        ):
            with psycopg.connect(pg_dsn) as other:
                PostgresClaimStore(other, schema=store.schema).revoke(sid, "totp")
                thread, result = in_thread(operation)
                waiting_on_a_lock(pg_admin, query_start)
                other.commit()
                thread.join(10)
            assert expected == result
            store.record(sid, "totp")
        assert [] != store.claims(sid)

    def test_a_delete_trigger_that_keeps_rows_is_a_refusal(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """A BEFORE DELETE trigger returning NULL keeps the claim: revoke raises
        RevocationRefusedError rather than report there was nothing."""
        table = sql.Identifier(store.schema, "mfa_amr_claims")
        keep = sql.Identifier(store.schema, "keep_rows")
        pg_admin.execute(
            sql.SQL(
                "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                "AS 'BEGIN RETURN NULL; END'"
            ).format(keep)
        )
        pg_admin.execute(
            sql.SQL(
                "CREATE TRIGGER keep BEFORE DELETE ON {} "
                "FOR EACH ROW EXECUTE FUNCTION {}()"
            ).format(table, keep)
        )
        sid = uuid.uuid4()
        store.record(sid, "totp")
        with pytest.raises(RevocationRefusedError, match="trigger"):
            store.revoke(sid, "totp")
        assert ["totp"] == [c.method for c in store.claims(sid)]


def grants_snippet() -> str:
    """The SQL block under the grants-sql marker of docs/postgres.md."""
    page = ROOT / "docs" / "postgres.md"
    text = page.read_text(encoding="utf-8")
    marker = "<!-- grants-sql"
    assert marker in text, "docs/postgres.md lost its grants-sql marker"
    after = text.index(marker)
    document = Document(text, str(page))
    return next(
        str(block.lexemes["source"])
        for block in FencedCodeBlockLexer("sql")(document)
        if block.start > after
    )


class TestContractAsTheServiceRole(ClaimStoreContract):
    """The whole contract, as a non-superuser role given exactly the grants and row
    level security policies docs/postgres.md shows for Supabase's table."""

    hypothesis_settings = settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )

    @pytest.fixture
    def store(
        self,
        clock: FakeClock,
        pg_dsn: str,
        pg_admin: Conn,
        supabase_tables: SupabaseTables,
    ) -> Iterator[ClaimStore]:
        self._tables = supabase_tables
        role = f"mfa_amr_svc_{uuid.uuid4().hex[:10]}"
        script = (
            grants_snippet()
            .replace("mfa_amr_service", role)
            .replace("auth.", f'"{supabase_tables.schema}".')
            .replace("SCHEMA auth", f'SCHEMA "{supabase_tables.schema}"')
        )
        pg_admin.execute(script.encode())
        try:
            with as_role(pg_dsn, role, autocommit=True) as conn:
                assert (role,) == conn.execute("SELECT current_user").fetchone()
                yield PostgresClaimStore(
                    conn, schema=supabase_tables.schema, clock=clock
                )
        finally:
            pg_admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            pg_admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    def new_session_id(self, store: ClaimStore) -> uuid.UUID:
        return self._tables.new_session()


# -- 3. the caller's transaction ------------------------------------------------------


class TestTheCallersTransactionSurvives:
    """Inside the caller's transaction a write runs under a savepoint sent with it:
    a database refusal rolls back that write only."""

    def test_many_refusals_in_one_transaction(
        self, pg_tx_conn: Conn, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """Rounds of six records (past psycopg's prepare threshold of five, so the
        statements are prepared), a refused record, a refused batch and revokes,
        in one transaction (the 'prepared statement "_pg3_0" does not exist'
        trap): every refusal is SessionNotFoundError, the transaction stays
        usable, and the commit keeps exactly the writes that succeeded."""
        store = PostgresClaimStore(pg_tx_conn, schema=supabase_tables.schema)
        live = supabase_tables.new_session()
        for n in range(6):
            for k in range(6):
                store.record(live, f"m{n}.{k}")
            with pytest.raises(SessionNotFoundError):
                store.record(uuid.uuid4(), "totp")
            with pytest.raises(SessionNotFoundError):
                store.record_many([(live, "otp"), (uuid.uuid4(), "totp")])
            assert 5 == store.revoke_everywhere([live], f"m{n}.0") + sum(
                store.revoke(live, f"m{n}.{k}") for k in range(1, 5)
            )
            assert pq.TransactionStatus.INTRANS == pg_tx_conn.info.transaction_status
        pg_tx_conn.commit()
        assert {(live, f"m{n}.5") for n in range(6)} == {
            r[:2] for r in rows(pg_admin, supabase_tables.schema)
        }

    def test_a_lock_timeout_rolls_back_the_write_only(
        self, pg_tx_conn: Conn, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record that waits past the caller's lock_timeout raises a StoreError
        chaining LockNotAvailable; the caller's transaction, and its earlier work,
        go on to commit."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        sid, other = uuid.uuid4(), uuid.uuid4()
        held = PostgresClaimStore(pg_admin, schema=pg_schema).record(sid, "totp")
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        store.record(other, "password")
        pg_tx_conn.execute("SET LOCAL lock_timeout = '100ms'")
        with psycopg.connect(pg_dsn) as locker:
            locker.execute(
                sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(
                    sql.Identifier(pg_schema, "mfa_amr_claims")
                ),
                (held.id,),
            )
            with pytest.raises(StoreError) as caught:
                store.record(sid, "totp")
            assert isinstance(caught.value.__cause__, psycopg.errors.LockNotAvailable)
            assert pq.TransactionStatus.INTRANS == pg_tx_conn.info.transaction_status
            store.record(other, "totp")
        pg_tx_conn.commit()
        assert {(other, "password"), (other, "totp"), (sid, "totp")} == {
            r[:2] for r in rows(pg_admin, pg_schema)
        }

    def test_a_row_level_security_refusal_rolls_back_the_write_only(
        self,
        pg_dsn: str,
        supabase_tables: SupabaseTables,
        make_role: Callable[..., str],
    ) -> None:
        """A role whose policies refuse an insert: StoreConfigurationError naming the
        table, and the transaction keeps what the role did before."""
        role = make_role(
            "FOR SELECT TO {} USING (true)",
            "FOR INSERT TO {} WITH CHECK (authentication_method = 'password')",
        )
        sid = supabase_tables.new_session()
        with as_role(pg_dsn, role) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            store.record(sid, "password")
            with pytest.raises(StoreConfigurationError, match="row-level security"):
                store.record(sid, "totp")
            assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
            conn.commit()
            assert ["password"] == [c.method for c in store.claims(sid)]

    def test_outside_a_transaction_a_refusal_leaves_a_healthy_one(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """On a connection outside autocommit and not yet in a transaction, a refused
        write leaves the transaction psycopg opened healthy: the next write and the
        caller's commit work."""
        live = supabase_tables.new_session()
        with psycopg.connect(pg_dsn) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            assert pq.TransactionStatus.IDLE == status(conn)
            with pytest.raises(SessionNotFoundError):
                store.record(uuid.uuid4(), "totp")
            assert pq.TransactionStatus.INTRANS == status(conn)
            store.record(live, "totp")
        assert [(live, "totp")] == [
            r[:2] for r in rows(pg_admin, supabase_tables.schema)
        ]

    def test_a_transaction_block_on_an_autocommit_connection_survives(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """On an autocommit connection, inside ``with conn.transaction():``, a
        refused write is rolled back alone and the block commits the rest; sync and
        async."""
        live = supabase_tables.new_session()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)
            with conn.transaction():
                store.record(live, "password")
                with pytest.raises(SessionNotFoundError):
                    store.record(uuid.uuid4(), "totp")
                store.record(live, "totp")

        async def scenario() -> None:
            async with await psycopg.AsyncConnection.connect(
                pg_dsn, autocommit=True
            ) as conn:
                store = AsyncPostgresClaimStore(conn, schema=supabase_tables.schema)
                async with conn.transaction():
                    with pytest.raises(SessionNotFoundError):
                        await store.record(uuid.uuid4(), "totp")
                    await store.record(live, "otp")

        asyncio.run(scenario())
        assert {(live, "password"), (live, "totp"), (live, "otp")} == {
            r[:2] for r in rows(pg_admin, supabase_tables.schema)
        }

    def test_the_savepoint_goes_only_where_a_transaction_is_the_callers(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """In the caller's transaction a write is SAVEPOINT, the statement, RELEASE
        (one pipeline) and a read is the statement alone; on an autocommit
        connection and through a pool a write is the statement alone."""
        sid = uuid.uuid4()
        with psycopg.connect(pg_dsn, cursor_factory=CountingCursor) as conn:
            store = PostgresClaimStore(conn, schema=pg_schema)
            store.create_schema()
            conn.commit()
            CountingCursor.sent.clear()
            store.record(sid, "password")
            assert 3 == len(CountingCursor.sent)
            first, statement, last = CountingCursor.sent
            assert ("SAVEPOINT mfa_amr_write", "RELEASE SAVEPOINT mfa_amr_write") == (
                first,
                last,
            )
            assert statement.startswith("INSERT INTO")
            CountingCursor.sent.clear()
            store.claims(sid)
            assert 1 == len(CountingCursor.sent)
            conn.commit()
        with psycopg.connect(
            pg_dsn, autocommit=True, cursor_factory=CountingCursor
        ) as conn:
            CountingCursor.sent.clear()
            PostgresClaimStore(conn, schema=pg_schema).record(sid, "totp")
            assert 1 == len(CountingCursor.sent)
        with ConnectionPool(
            pg_dsn, min_size=1, kwargs={"cursor_factory": CountingCursor}
        ) as pool:
            CountingCursor.sent.clear()
            PostgresClaimStore(pool, schema=pg_schema).record(sid, "otp")
            assert 1 == len(CountingCursor.sent)

    def test_threads_sharing_a_transaction_take_turns(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """8 threads writing on one connection inside a transaction, refusals
        among them: no write interleaves another's savepoint, every refusal is
        SessionNotFoundError, and the commit keeps every write that returned."""
        live = [supabase_tables.new_session() for _ in range(8)]
        errors: list[BaseException] = []
        with psycopg.connect(pg_dsn) as conn:
            store = PostgresClaimStore(conn, schema=supabase_tables.schema)

            def work(n: int) -> None:
                for k in range(15):
                    try:
                        store.record(live[n], f"m{k}")
                        store.record(uuid.uuid4(), "totp")
                    except SessionNotFoundError:
                        continue
                    except BaseException as exc:
                        errors.append(exc)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
        assert [] == errors
        assert 8 * 15 == len(rows(pg_admin, supabase_tables.schema))

    def test_async_refusals_in_one_transaction(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """The async store: refused records and batches in one transaction past the
        prepare threshold, each SessionNotFoundError, the transaction usable; the
        commit keeps the writes that succeeded."""
        live = supabase_tables.new_session()

        async def scenario() -> None:
            async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=supabase_tables.schema)
                for n in range(12):
                    for k in range(6):  # past the prepare threshold
                        await store.record(live, f"m{n}", at=now() - k * DAY)
                    with pytest.raises(SessionNotFoundError):
                        await store.record(uuid.uuid4(), "totp")
                    with pytest.raises(SessionNotFoundError):
                        await store.record_many([(live, "otp"), (uuid.uuid4(), "x")])
                    assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
                await conn.commit()

        asyncio.run(scenario())
        assert 12 == len(rows(pg_admin, supabase_tables.schema))

    def test_async_tasks_sharing_a_transaction_take_turns(
        self, pg_dsn: str, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """50 gathered tasks writing on one AsyncConnection inside a transaction,
        half of them refused: each refusal SessionNotFoundError, the rest kept."""
        live = supabase_tables.new_session()

        async def scenario() -> list[AMRClaim | BaseException]:
            async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
                store = AsyncPostgresClaimStore(conn, schema=supabase_tables.schema)
                results = await asyncio.gather(
                    *(
                        store.record(live if n % 2 else uuid.uuid4(), f"m{n}")
                        for n in range(50)
                    ),
                    return_exceptions=True,
                )
                await conn.commit()
                return results

        results = asyncio.run(scenario())
        assert {SessionNotFoundError, AMRClaim} == {type(r) for r in results}
        assert 25 == len(rows(pg_admin, supabase_tables.schema))

    def test_an_async_cancelled_write_leaves_the_transaction_usable(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record in the caller's transaction, waiting on a lock and cancelled by
        a timeout: TimeoutError, the write rolled back alone, and the transaction's
        other writes committed."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        held = PostgresClaimStore(pg_admin, schema=pg_schema).record(
            uuid.uuid4(), "totp", at=now() - DAY
        )
        other = uuid.uuid4()

        async def scenario() -> None:
            async with (
                await psycopg.AsyncConnection.connect(pg_dsn) as conn,
                await psycopg.AsyncConnection.connect(pg_dsn) as locker,
            ):
                store = AsyncPostgresClaimStore(conn, schema=pg_schema)
                await store.record(other, "password")
                await locker.execute(
                    sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(
                        sql.Identifier(pg_schema, "mfa_amr_claims")
                    ),
                    (held.id,),
                )
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(store.record(held.session_id, "totp"), 0.3)
                assert pq.TransactionStatus.INTRANS == conn.info.transaction_status
                await store.record(other, "totp")
                await conn.commit()
                await locker.rollback()

        asyncio.run(scenario())
        table = rows(pg_admin, pg_schema)
        assert [(other, "password"), (other, "totp")] == sorted(
            r[:2] for r in table if r[0] == other
        )
        assert [held.updated_at] == [r[3] for r in table if r[0] == held.session_id]


# -- 4. times from the future ---------------------------------------------------------


class TestTimesFromTheFuture:
    """A store refuses an ``at`` beyond its skew; what another writer stored comes
    back as it is."""

    def test_a_row_dated_9999_by_another_writer_is_read_as_it_is(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """A claim another writer dated 9999-12-31 is read back unchanged, and a
        policy's freshness never counts it (beyond its skew)."""
        sid = uuid.uuid4()
        far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
        pg_admin.execute(
            sql.SQL(
                "INSERT INTO {} (id, session_id, authentication_method, created_at, "
                "updated_at) VALUES (%s, %s, 'totp', %s, %s)"
            ).format(sql.Identifier(store.schema, "mfa_amr_claims")),
            (uuid.uuid4(), sid, far, far),
        )
        [claim] = store.claims(sid)
        assert (far, far) == (claim.created_at, claim.updated_at)
        assert AAL.AAL1 == Policy.nist().assess([claim], now=now()).aal

    @pytest.mark.parametrize(
        ("skew", "ahead", "taken"),
        [
            (0, timedelta(microseconds=1), False),
            (0, timedelta(0), True),
            (timedelta(hours=2), timedelta(hours=1), True),
            (600.5, timedelta(seconds=600), True),
            (600.5, timedelta(seconds=601), False),
        ],
    )
    def test_the_skew_is_a_store_option(
        self,
        pg_conn: Conn,
        pg_schema: str,
        clock: FakeClock,
        skew: float | timedelta,
        ahead: timedelta,
        taken: bool,
    ) -> None:
        """skew= sets how far ahead of the store's clock an ``at`` may lie, as
        seconds or a timedelta; sync and async alike."""
        store = PostgresClaimStore(pg_conn, schema=pg_schema, clock=clock, skew=skew)
        store.create_schema()
        sid = uuid.uuid4()
        if taken:
            assert (
                START + ahead == store.record(sid, "totp", at=START + ahead).updated_at
            )
        else:
            with pytest.raises(InvalidInputError, match="ahead of the store's clock"):
                store.record(sid, "totp", at=START + ahead)
            with pytest.raises(InvalidInputError, match="ahead of the store's clock"):
                store.record_many([(sid, "otp"), (sid, "totp", START + ahead)])
            assert [] == store.claims(sid)

    @pytest.mark.parametrize(
        "skew", [-1, timedelta(seconds=-1), "60", None, float("nan"), True, 1e300]
    )
    def test_a_bad_skew_is_refused_before_connecting(self, skew: object) -> None:
        """A negative or non-numeric skew is refused by every store's constructor and
        by connect(), before any connection is made."""
        with pytest.raises(InvalidInputError, match="skew"):
            PostgresClaimStore.connect("host=/nonexistent", skew=skew)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="skew"):
            asyncio.run(AsyncPostgresClaimStore.connect("host=/nonexistent", skew=skew))  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="skew"):
            InMemoryClaimStore(skew=skew)  # type: ignore[arg-type]


# -- 5. a pool that fails fast --------------------------------------------------------


class TestConnectFailsFast:
    """connect() raises the real cause at once: a refusal by the server as
    StoreConfigurationError, an unreachable one as StoreUnavailableError."""

    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ({"dbname": "mfa_amr_no_such_database"}, "does not exist"),
            ({"user": "mfa_amr_no_such_role"}, "does not exist"),
        ],
    )
    def test_a_wrong_database_or_user_is_named_at_once(
        self, pg_dsn: str, change: dict[str, str], words: str
    ) -> None:
        """A database or user that does not exist: StoreConfigurationError (not
        retryable), naming it, chaining psycopg's error, in under a second; sync
        and async."""
        dsn = psycopg.conninfo.make_conninfo(pg_dsn, **change)
        started = time.monotonic()
        with pytest.raises(StoreConfigurationError) as caught:
            PostgresClaimStore.connect(dsn)
        with pytest.raises(StoreConfigurationError) as async_caught:
            asyncio.run(AsyncPostgresClaimStore.connect(dsn))
        assert time.monotonic() - started < 2
        for error in (caught.value, async_caught.value):
            assert not isinstance(error, StoreUnavailableError)
            assert words in str(error)
            assert next(iter(change.values())) in str(error)
            assert isinstance(error.__cause__, psycopg.OperationalError)

    def test_connect_returns_with_the_pool_full(
        self, pg_dsn: str, pg_admin: Conn
    ) -> None:
        """connect() returns once the pool holds min_size connections."""
        app = f"mfa-amr-full-{uuid.uuid4().hex[:8]}"
        with PostgresClaimStore.connect(
            pg_dsn, min_size=3, kwargs={"application_name": app}
        ):
            assert [(3,)] == pg_admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (app,),
            ).fetchall()

    def test_an_async_pool_replaces_a_dropped_connection_before_lending_it(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """The AsyncConnectionPool connect() opens checks a connection before
        lending it: one the server ended is replaced, and the call succeeds."""
        app = f"mfa-amr-check-{uuid.uuid4().hex[:8]}"

        async def scenario() -> list[AMRClaim]:
            async with await AsyncPostgresClaimStore.connect(
                pg_dsn,
                schema=pg_schema,
                min_size=1,
                max_size=1,
                kwargs={"application_name": app},
            ) as store:
                await store.create_schema()
                pg_admin.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (app,),
                )
                return await store.claims(uuid.uuid4())

        assert [] == asyncio.run(scenario())

    @pytest.mark.parametrize("timeout", [0, -1, "10", None, float("inf")])
    def test_a_bad_connect_timeout_is_refused(self, timeout: object) -> None:
        """connect_timeout must be positive seconds: refused before connecting."""
        with pytest.raises(InvalidInputError, match="connect_timeout"):
            PostgresClaimStore.connect("host=/nonexistent", connect_timeout=timeout)  # type: ignore[arg-type]


# -- 6. rows that don't come back -----------------------------------------------------


@pytest.fixture
def swallowing(store: PostgresClaimStore, pg_admin: Conn) -> PostgresClaimStore:
    """``store``, whose table has a BEFORE INSERT trigger returning NULL for the
    method 'x' (that row is discarded, silently)."""
    table = sql.Identifier(store.schema, "mfa_amr_claims")
    function = sql.Identifier(store.schema, "drop_x")
    pg_admin.execute(
        sql.SQL(
            "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN IF NEW.authentication_method = ''x'' THEN RETURN NULL; END IF; "
            "RETURN NEW; END'"
        ).format(function)
    )
    pg_admin.execute(
        sql.SQL(
            "CREATE TRIGGER drop_x BEFORE INSERT ON {} "
            "FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(table, function)
    )
    return store


class TestEveryWriteAccountsForItsRow:
    """A write the database swallowed raises WriteDiscardedError, never an
    IndexError or KeyError, and a batch stays all or nothing."""

    def test_a_record_a_trigger_discarded(self, swallowing: PostgresClaimStore) -> None:
        """record of a row the trigger drops: WriteDiscardedError naming the table
        and the trigger, nothing recorded."""
        sid = uuid.uuid4()
        with pytest.raises(WriteDiscardedError, match="trigger or rule") as caught:
            swallowing.record(sid, "x")
        assert '"mfa_amr_claims"' in str(caught.value)
        assert "nothing was recorded" in str(caught.value)
        assert [] == swallowing.claims(sid)

    @pytest.mark.parametrize(
        "items", [[("x",)], [("password",), ("x",)], [("x",), ("totp",), ("otp",)]]
    )
    def test_a_batch_a_trigger_cut_records_nothing(
        self, swallowing: PostgresClaimStore, items: list[tuple[str]]
    ) -> None:
        """record_many of a batch the trigger drops one row of, or all of:
        WriteDiscardedError, and none of the batch is recorded (all or nothing)."""
        sid = uuid.uuid4()
        with pytest.raises(WriteDiscardedError, match="nothing"):
            swallowing.record_many([(sid, m) for (m,) in items])
        assert [] == swallowing.claims(sid)

    def test_the_async_store_says_the_same(
        self, swallowing: PostgresClaimStore, pg_dsn: str
    ) -> None:
        """The async store raises WriteDiscardedError for both as well."""

        async def scenario() -> None:
            async with await psycopg.AsyncConnection.connect(
                pg_dsn, autocommit=True
            ) as conn:
                store = AsyncPostgresClaimStore(conn, schema=swallowing.schema)
                with pytest.raises(WriteDiscardedError):
                    await store.record(uuid.uuid4(), "x")
                with pytest.raises(WriteDiscardedError):
                    await store.record_many([(uuid.uuid4(), "x"), (uuid.uuid4(), "y")])

        asyncio.run(scenario())

    def test_a_do_instead_nothing_rule(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """A DO INSTEAD NOTHING rule on the table: record and record_many raise
        WriteDiscardedError naming the rule, nothing recorded."""
        table = sql.Identifier(store.schema, "mfa_amr_claims")
        pg_admin.execute(
            sql.SQL("CREATE RULE nothing AS ON INSERT TO {} DO INSTEAD NOTHING").format(
                table
            )
        )
        sid = uuid.uuid4()
        for call in (
            lambda: store.record(sid, "totp"),
            lambda: store.record_many([(sid, "totp")]),
        ):
            with pytest.raises(WriteDiscardedError, match="rule"):
                call()
        assert [] == store.claims(sid)


# -- 7. a missing table ---------------------------------------------------------------


class TestAMissingTable:
    """Every operation on a table that does not exist says which, and how to
    create it."""

    @pytest.mark.parametrize(
        ("schema", "table"), [("{schema}", "missing"), ("mfa_amr_no_schema", "t")]
    )
    def test_every_operation_names_the_table_and_create_schema(
        self, pg_conn: Conn, pg_schema: str, schema: str, table: str
    ) -> None:
        """A missing table or schema: TableNotFoundError (a StoreConfigurationError,
        not retryable) naming the table and create_schema() / schema_sql(), for
        all nine operations."""
        schema = schema.format(schema=pg_schema)
        store = PostgresClaimStore(pg_conn, schema=schema, table=table)
        sid = uuid.uuid4()
        calls: list[Callable[[], object]] = [
            lambda: store.record(sid, "totp"),
            lambda: store.record_many([(sid, "totp")]),
            lambda: store.claims(sid),
            lambda: store.claims_many([sid]),
            lambda: store.get(sid),
            lambda: store.revoke(sid, "totp"),
            lambda: store.revoke_everywhere([sid], "totp"),
            lambda: store.delete_sessions([sid]),
            lambda: store.purge(before=now()),
        ]
        for call in calls:
            with pytest.raises(TableNotFoundError) as caught:
                call()
            message = str(caught.value)
            assert f'"{schema}"."{table}"' in message
            assert "create_schema()" in message
            assert "schema_sql()" in message
            assert isinstance(
                caught.value.__cause__,
                psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName,
            )

    def test_the_async_store_says_the_same(self, pg_dsn: str, pg_schema: str) -> None:
        """The async store raises TableNotFoundError naming the table too."""

        async def scenario() -> None:
            async with await psycopg.AsyncConnection.connect(
                pg_dsn, autocommit=True
            ) as conn:
                store = AsyncPostgresClaimStore(conn, schema=pg_schema, table="none")
                with pytest.raises(TableNotFoundError, match="create_schema"):
                    await store.record(uuid.uuid4(), "totp")

        asyncio.run(scenario())


# -- names another writer stored ------------------------------------------------------


class TestNamesAnotherWriterStored:
    """revoke and revoke_everywhere remove a claim whose name breaks the syntax."""

    NAMES = ("TOTP", "sso:okta", "Legacy Method", "x" * 100)

    def insert(self, admin: Conn, schema: str, sid: uuid.UUID) -> None:
        for name in self.NAMES:
            admin.execute(
                sql.SQL(
                    "INSERT INTO {} (id, session_id, authentication_method, "
                    "created_at, updated_at) VALUES (%s, %s, %s, now(), now())"
                ).format(sql.Identifier(schema, "mfa_amr_claims")),
                (uuid.uuid4(), sid, name),
            )

    def test_revoke_removes_them(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """Rows named 'TOTP', 'sso:okta', 'Legacy Method' and a 100-character name
        go with revoke and revoke_everywhere; the store's own claim stays."""
        one, two = uuid.uuid4(), uuid.uuid4()
        own = store.record(one, "totp")
        self.insert(pg_admin, store.schema, one)
        self.insert(pg_admin, store.schema, two)
        assert store.revoke(one, "TOTP") is True
        assert store.revoke(one, "TOTP") is False
        assert 2 == store.revoke_everywhere([one, two], "sso:okta")
        assert 2 == store.revoke_everywhere([one, two], "Legacy Method")
        assert store.revoke(two, "x" * 100) is True
        assert {"totp", "x" * 100} == {c.method for c in store.claims(one)}
        assert own in store.claims(one)
        assert ["TOTP"] == [c.method for c in store.claims(two)]

    def test_the_async_store_removes_them_too(
        self, store: PostgresClaimStore, pg_admin: Conn, pg_dsn: str
    ) -> None:
        """The async store's revoke takes the same names."""
        sid = uuid.uuid4()
        self.insert(pg_admin, store.schema, sid)

        async def scenario() -> tuple[bool, int]:
            async with await psycopg.AsyncConnection.connect(
                pg_dsn, autocommit=True
            ) as conn:
                astore = AsyncPostgresClaimStore(conn, schema=store.schema)
                return (
                    await astore.revoke(sid, "TOTP"),
                    await astore.revoke_everywhere([sid], "sso:okta"),
                )

        assert (True, 1) == asyncio.run(scenario())

    @pytest.mark.parametrize("name", ["", "a\x00b", "\udc80", 42])
    def test_what_no_store_can_hold_is_refused(
        self, store: PostgresClaimStore, name: object
    ) -> None:
        """An empty name, NUL, an unencodable str or a non-str: InvalidMethodError
        before any SQL."""
        with pytest.raises(InvalidMethodError):
            store.revoke(uuid.uuid4(), name)  # type: ignore[arg-type]
