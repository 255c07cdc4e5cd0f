"""PostgresClaimStore on a real server: the table, Supabase's variant, collation,
concurrency, the caller's transaction, pools, errors and round trips."""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

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
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from conftest import no_postgres
from mfa_amr import AMRClaim, InMemoryClaimStore
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    SessionNotFoundError,
    StoreError,
    StoreUnavailableError,
    UnrecordableMethodError,
)
from mfa_amr.stores._sql import TABLE_COMMENT, constraint_names
from mfa_amr.stores.postgres import PostgresClaimStore, schema_sql
from mfa_amr.testing import START, FakeClock

if TYPE_CHECKING:
    from conftest import SupabaseTables

pytestmark = pytest.mark.postgres

UTC = UTC
Conn = psycopg.Connection[Any]

# The seed (shared/reference/seed-mfa_amr_claims.md) and supabase-auth.md.
SEED_COLUMNS = [
    ("session_id", "uuid", "NO", None),
    ("created_at", "timestamp with time zone", "NO", None),
    ("updated_at", "timestamp with time zone", "NO", None),
    ("authentication_method", "text", "NO", None),
    ("id", "uuid", "NO", None),
]
SEED_INDEXES = [
    (
        "amr_id_pk",
        "CREATE UNIQUE INDEX amr_id_pk ON auth.mfa_amr_claims USING btree (id)",
    ),
    (
        "mfa_amr_claims_session_id_authentication_method_pkey",
        "CREATE UNIQUE INDEX mfa_amr_claims_session_id_authentication_method_pkey "
        "ON auth.mfa_amr_claims USING btree (session_id, authentication_method)",
    ),
]
SEED_CONSTRAINTS = [
    ("amr_id_pk", "PRIMARY KEY"),
    ("mfa_amr_claims_session_id_authentication_method_pkey", "UNIQUE"),
]
SUPABASE_COMMENT = (
    "auth: stores authenticator method reference claims for multi factor authentication"
)
WEIRD_SCHEMA = 'we"ird; DROP SCHEMA public CASCADE; -- 100% sch ema'
WEIRD_TABLE = "t'a;b\"le %s %(x)s %b -- claims"


def catalog(conn: Conn, schema: str, table: str) -> dict[str, object]:
    """What information_schema and pg_indexes say about a table."""
    columns = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = %s AND tablename = %s ORDER BY indexname",
        (schema, table),
    ).fetchall()
    constraints = conn.execute(
        "SELECT constraint_name, constraint_type "
        "FROM information_schema.table_constraints "
        "WHERE table_schema = %s AND table_name = %s "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') "
        "ORDER BY constraint_name",
        (schema, table),
    ).fetchall()
    comment = conn.execute(
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "comment": comment[0] if comment else None,
    }


def backends(conn: Conn, application_name: str) -> list[int]:
    """The process ids of the server's backends serving ``application_name``."""
    found = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid",
        (application_name,),
    ).fetchall()
    return [pid for (pid,) in found]


def eventually(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    """Wait until ``condition()`` holds, as for what a pool does in the
    background; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.02)


def rows(conn: Conn, schema: str, table: str = "mfa_amr_claims") -> list[Any]:
    """Every row of a claims table, as (session_id, method, created_at,
    updated_at), sorted in Python (whatever the database's collation)."""
    return sorted(
        conn.execute(
            sql.SQL(
                "SELECT session_id, authentication_method, created_at, updated_at "
                "FROM {}"
            ).format(sql.Identifier(schema, table))
        ).fetchall()
    )


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at mfa_amr.testing.START."""
    return FakeClock(START)


@pytest.fixture
def store(pg_conn: Conn, pg_schema: str, clock: FakeClock) -> PostgresClaimStore:
    """A store on a caller's autocommit connection, its table created."""
    store = PostgresClaimStore(pg_conn, schema=pg_schema, clock=clock)
    store.create_schema()
    return store


# -- the table -------------------------------------------------------------------------


class TestTheTable:
    """create_schema() and schema_sql() build the seed's table exactly."""

    def test_the_created_table_is_the_seeds(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """information_schema and pg_indexes show the seed's columns, types,
        nullability, no defaults, its two indexes and Supabase's comment."""
        got = catalog(pg_admin, store.schema, "mfa_amr_claims")
        quoted = pg_admin.execute("SELECT quote_ident(%s)", (store.schema,)).fetchone()
        assert quoted is not None
        prefix = quoted[0] + "."
        assert SEED_COLUMNS == got["columns"]
        assert [
            (name, ddl.replace("auth.", prefix)) for name, ddl in SEED_INDEXES
        ] == got["indexes"]
        assert SEED_CONSTRAINTS == got["constraints"]
        assert SUPABASE_COMMENT == got["comment"] == TABLE_COMMENT

    def test_the_created_table_matches_supabases_ddl(
        self, pg_admin: Conn, supabase_tables: SupabaseTables
    ) -> None:
        """Beside a table built with Supabase's own DDL, the catalog differs only by
        Supabase's foreign key."""
        ours = PostgresClaimStore(pg_admin, schema=supabase_tables.schema, table="ours")
        ours.create_schema()
        theirs = catalog(pg_admin, supabase_tables.schema, "mfa_amr_claims")
        mine = catalog(pg_admin, supabase_tables.schema, "ours")
        assert theirs["columns"] == mine["columns"]
        assert theirs["comment"] == mine["comment"]
        assert (
            sorted(
                [("mfa_amr_claims_session_id_fkey", "FOREIGN KEY"), *SEED_CONSTRAINTS]
            )
            == theirs["constraints"]
        )
        assert [
            ("ours_id_pkey", "PRIMARY KEY"),
            ("ours_session_id_authentication_method_key", "UNIQUE"),
        ] == mine["constraints"]

    def test_create_schema_is_idempotent(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """Creating the table again changes nothing and loses no claim."""
        claim = store.record(uuid.uuid4(), "password")
        before = catalog(pg_admin, store.schema, "mfa_amr_claims")
        store.create_schema()
        store.create_schema()
        assert before == catalog(pg_admin, store.schema, "mfa_amr_claims")
        assert [claim] == store.claims(claim.session_id)

    def test_schema_sql_runs_as_a_migration(
        self, pg_admin: Conn, pg_schema: str
    ) -> None:
        """The script schema_sql() returns runs twice as plain SQL and gives the table
        the store reads."""
        script = schema_sql(pg_schema, "migrated")
        pg_admin.execute(script.encode())
        pg_admin.execute(script.encode())
        store = PostgresClaimStore(pg_admin, schema=pg_schema, table="migrated")
        assert script == store.schema_sql()
        assert "password" == store.record(uuid.uuid4(), "password").method

    def test_schema_sql_defaults_to_auth_mfa_amr_claims(self) -> None:
        """The default script names auth.mfa_amr_claims and the seed's constraints."""
        script = schema_sql()
        assert 'CREATE SCHEMA IF NOT EXISTS "auth";' in script
        assert 'CREATE TABLE IF NOT EXISTS "auth"."mfa_amr_claims"' in script
        assert 'CONSTRAINT "amr_id_pk" PRIMARY KEY (id)' in script
        assert (
            'CONSTRAINT "mfa_amr_claims_session_id_authentication_method_pkey" '
            "UNIQUE (session_id, authentication_method)"
        ) in script

    def test_other_tables_derive_their_constraint_names(
        self, pg_admin: Conn, pg_schema: str
    ) -> None:
        """Tables of other names share a schema with the default one: their
        constraints are named after them, and their claims stay apart."""
        stores = {
            table: PostgresClaimStore(pg_admin, schema=pg_schema, table=table)
            for table in ("mfa_amr_claims", "amr", "tenant_b_claims")
        }
        sid = uuid.uuid4()
        for table, store in stores.items():
            store.create_schema()
            store.record(sid, "password" if table == "amr" else "totp")
        for table, store in stores.items():
            pkey, unique = constraint_names(table)
            assert [(pkey, "PRIMARY KEY"), (unique, "UNIQUE")] == sorted(
                catalog(pg_admin, pg_schema, table)["constraints"],  # type: ignore[call-overload]
                key=lambda c: c[1],
            )
            assert ["password" if table == "amr" else "totp"] == [
                c.method for c in store.claims(sid)
            ]
        assert ("amr_id_pkey", "amr_session_id_authentication_method_key") == (
            constraint_names("amr")
        )

    def test_long_table_names_share_a_schema(
        self, pg_admin: Conn, pg_schema: str
    ) -> None:
        """Two 63-byte table names with a long common prefix get distinct
        constraint names, none of which PostgreSQL has to truncate."""
        one, two = "c" * 62 + "1", "c" * 62 + "2"
        for table in (one, two):
            PostgresClaimStore(pg_admin, schema=pg_schema, table=table).create_schema()
        names = [
            c[0]
            for table in (one, two)
            for c in catalog(pg_admin, pg_schema, table)["constraints"]  # type: ignore[attr-defined]
        ]
        assert sorted([*constraint_names(one), *constraint_names(two)]) == sorted(names)
        assert 4 == len(set(names))


class TestNames:
    """Schema and table names are identifiers, never SQL."""

    def test_quotes_semicolons_and_spaces_are_plain_names(
        self, pg_admin: Conn, pg_conn: Conn, clock: FakeClock
    ) -> None:
        """A schema and a table named with quotes, semicolons, spaces, comment marks
        and placeholder lookalikes work for every operation, and nothing else is
        touched."""
        store = PostgresClaimStore(
            pg_conn, schema=WEIRD_SCHEMA, table=WEIRD_TABLE, clock=clock
        )
        try:
            store.create_schema()
            sid, other = uuid.uuid4(), uuid.uuid4()
            claim = store.record(sid, "password")
            assert [claim] == store.record_many([(sid, "password")])
            store.record(other, "totp")
            assert [claim] == store.claims(sid)
            assert {sid: [claim]} == store.claims_many([sid])
            assert claim == store.get(claim.id)
            assert store.revoke(other, "totp")
            assert 0 == store.revoke_everywhere([other], "totp")
            assert 1 == store.purge(before=START + timedelta(seconds=1))
            assert 0 == store.delete_sessions([sid])
            assert [(WEIRD_TABLE,)] == pg_admin.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s",
                (WEIRD_SCHEMA,),
            ).fetchall()
            assert pg_admin.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = 'public'"
            ).fetchone()
        finally:
            pg_admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(WEIRD_SCHEMA)
                )
            )

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        table=st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"),
            min_size=1,
            max_size=20,
        ).filter(lambda t: len(t.encode()) <= 63)
    )
    def test_any_table_name_is_kept_as_given(
        self, pg_admin: Conn, pg_schema: str, table: str
    ) -> None:
        """Whatever characters a table name has, the table of exactly that name is
        created and used."""
        store = PostgresClaimStore(pg_admin, schema=pg_schema, table=table)
        store.create_schema()
        try:
            sid = uuid.uuid4()
            assert ["password"] == [store.record(sid, "password").method]
            assert [("password",)] == pg_admin.execute(
                sql.SQL("SELECT authentication_method FROM {}").format(
                    sql.Identifier(pg_schema, table)
                )
            ).fetchall()
        finally:
            pg_admin.execute(
                sql.SQL("DROP TABLE {}").format(sql.Identifier(pg_schema, table))
            )

    @pytest.mark.parametrize(
        ("schema", "table"),
        [
            ("", "t"),
            ("s", ""),
            ("s\x00", "t"),
            ("s", "t" * 64),
            ("é" * 32, "t"),
            (None, "t"),
        ],
    )
    def test_names_postgres_would_change_are_refused(
        self, schema: object, table: object
    ) -> None:
        """Empty names, NUL and names over 63 bytes (PostgreSQL would truncate them)
        are refused before any connection is used."""
        with pytest.raises(InvalidInputError):
            PostgresClaimStore.connect("host=/nonexistent", schema=schema, table=table)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            schema_sql(schema, table)  # type: ignore[arg-type]


# -- Supabase's table ------------------------------------------------------------------


class TestSupabaseTable:
    """The store runs unchanged on Supabase's table, with its foreign key and row
    level security, without create_schema()."""

    @pytest.fixture
    def sb_store(
        self, pg_conn: Conn, supabase_tables: SupabaseTables, clock: FakeClock
    ) -> PostgresClaimStore:
        return PostgresClaimStore(pg_conn, schema=supabase_tables.schema, clock=clock)

    def test_row_level_security_is_on(
        self, pg_admin: Conn, supabase_tables: SupabaseTables
    ) -> None:
        """The variant really has row level security enabled and the foreign key."""
        assert (True,) == pg_admin.execute(
            "SELECT relrowsecurity FROM pg_class WHERE oid = %s::regclass",
            (f'"{supabase_tables.schema}".mfa_amr_claims',),
        ).fetchone()

    def test_every_operation_works(
        self,
        sb_store: PostgresClaimStore,
        supabase_tables: SupabaseTables,
        clock: FakeClock,
    ) -> None:
        """record, record_many, claims, claims_many, get, revoke, revoke_everywhere,
        purge and delete_sessions all work on sessions that exist."""
        clock.advance(timedelta(days=3))  # every time below is in the store's past
        one, two = supabase_tables.new_session(), supabase_tables.new_session()
        first = sb_store.record(one, "password", at=START)
        batch = sb_store.record_many(
            [(one, "totp", START), (two, "password", START + timedelta(hours=1))]
        )
        assert [first, *batch] == [sb_store.get(c.id) for c in (first, *batch)]
        assert ["password", "totp"] == [c.method for c in sb_store.claims(one)]
        assert {one: sb_store.claims(one), two: [batch[1]]} == sb_store.claims_many(
            [one, two]
        )
        assert sb_store.revoke(one, "totp")
        assert 2 == sb_store.revoke_everywhere([one, two], "password")
        sb_store.record(one, "otp", at=START)
        sb_store.record(two, "totp", at=START + timedelta(days=2))
        assert 1 == sb_store.purge(before=START + timedelta(days=1))
        assert 1 == sb_store.delete_sessions([one, two])
        assert {one: [], two: []} == sb_store.claims_many([one, two])

    def test_deleting_a_session_cascades_to_its_claims(
        self, sb_store: PostgresClaimStore, supabase_tables: SupabaseTables
    ) -> None:
        """Supabase deletes the session row; its claims go with it, others stay."""
        gone, kept = supabase_tables.new_session(), supabase_tables.new_session()
        sb_store.record_many([(gone, "password"), (gone, "totp"), (kept, "password")])
        supabase_tables.delete_session(gone)
        assert [] == sb_store.claims(gone)
        assert ["password"] == [c.method for c in sb_store.claims(kept)]

    def test_a_record_for_a_missing_session_names_the_cause(
        self, sb_store: PostgresClaimStore
    ) -> None:
        """A record for a session with no row raises SessionNotFoundError (a
        StoreError), naming the session and the foreign key, the driver's error
        chained."""
        ghost = uuid.uuid4()
        with pytest.raises(SessionNotFoundError) as caught:
            sb_store.record(ghost, "totp")
        assert isinstance(caught.value, StoreError)
        assert isinstance(caught.value, LookupError)
        assert str(ghost) in str(caught.value)
        assert "mfa_amr_claims_session_id_fkey" in str(caught.value)
        assert isinstance(caught.value.__cause__, psycopg.errors.ForeignKeyViolation)
        assert [] == sb_store.claims(ghost)

    def test_a_batch_with_a_missing_session_records_nothing(
        self, sb_store: PostgresClaimStore, supabase_tables: SupabaseTables
    ) -> None:
        """record_many is all or nothing: one missing session, and the claims of
        the sessions that exist are not written either."""
        real, ghost = supabase_tables.new_session(), uuid.uuid4()
        with pytest.raises(SessionNotFoundError) as caught:
            sb_store.record_many([(real, "password"), (ghost, "totp")])
        assert str(ghost) in str(caught.value)
        assert [] == sb_store.claims(real)


# -- order -------------------------------------------------------------------------------


class TestCollation:
    """Ties come out in code-point order even where the database collates
    linguistically."""

    @pytest.fixture
    def icu_conn(self, pg_admin: Conn, pg_dsn: str) -> Iterator[Conn]:
        """A connection to a new database collating with ICU en-US, dropped after
        the test."""
        name = f"mfa_amr_test_icu_{uuid.uuid4().hex[:12]}"
        ident = sql.Identifier(name)
        try:
            pg_admin.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
                ).format(ident)
            )
        except (
            psycopg.errors.InsufficientPrivilege,
            psycopg.errors.FeatureNotSupported,
        ) as exc:
            no_postgres(f"cannot create an ICU en-US database on this server: {exc}")
        try:
            with psycopg.connect(
                make_conninfo(pg_dsn, dbname=name), autocommit=True
            ) as conn:
                yield conn
        finally:
            pg_admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))

    def test_ties_in_an_en_us_database_come_in_code_point_order(
        self, icu_conn: Conn, clock: FakeClock
    ) -> None:
        """In an ICU en-US database, where 'x_a' sorts before 'x-b', claims recorded
        at one instant still come out 'x-b' (0x2d) before 'x_a' (0x5f)."""
        names = ["x_a", "x-b", "x.c", "x/d", "x0", "xa", "mfa/phone", "mfa_phone"]
        collated = icu_conn.execute(
            "SELECT array_agg(m ORDER BY m) FROM unnest(%s::text[]) AS m", (names,)
        ).fetchone()
        assert collated is not None
        assert sorted(names) != collated[0]  # the database really collates otherwise
        store = PostgresClaimStore(icu_conn, schema="auth", clock=clock)
        store.create_schema()
        sid = uuid.uuid4()
        store.record_many([(sid, name) for name in names])
        assert sorted(names) == [c.method for c in store.claims(sid)]
        assert sorted(names) == [c.method for c in store.claims_many([sid])[sid]]
        assert ["x-b", "x_a"] == [
            c.method for c in store.claims(sid) if c.method in ("x-b", "x_a")
        ]


# -- concurrency -------------------------------------------------------------------------


class TestConcurrency:
    """Overlapping writes through a pool never fail and never duplicate a pair."""

    def test_threads_recording_the_same_pairs(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """8 threads x 200 records of overlapping pairs: no error, one row per
        pair, one id per pair, updated_at the greatest time given, created_at one
        of the times given."""
        sessions = [uuid.uuid4() for _ in range(4)]
        methods = ["password", "totp", "mfa/phone", "x-b", "x_a"]
        given_at: dict[tuple[uuid.UUID, str], list[datetime]] = {}
        returned: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = {}
        errors: list[BaseException] = []
        lock = threading.Lock()
        with PostgresClaimStore.connect(
            pg_dsn, schema=pg_schema, min_size=8, max_size=8
        ) as store:
            store.create_schema()
            start = threading.Barrier(8)

            def work(seed: int) -> None:
                rnd = random.Random(seed)
                start.wait()
                for _ in range(200):
                    pair = (rnd.choice(sessions), rnd.choice(methods))
                    at = START + timedelta(microseconds=rnd.randrange(10**9))
                    try:
                        claim = store.record(*pair, at=at)
                    except BaseException as exc:
                        with lock:
                            errors.append(exc)
                        continue
                    with lock:
                        given_at.setdefault(pair, []).append(at)
                        returned.setdefault(pair, set()).add(claim.id)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert [] == errors
        table = rows(pg_admin, pg_schema)
        assert sorted(given_at) == [(r[0], r[1]) for r in table]
        for sid, method, created_at, updated_at in table:
            ats = given_at[sid, method]
            assert max(ats) == updated_at
            assert created_at in ats
            assert 1 == len(returned[sid, method])

    def test_threads_recording_overlapping_batches(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """8 threads x 25 batches of the same pairs in shuffled orders: no deadlock,
        no error, one row per pair with the greatest time given."""
        pairs = [
            (uuid.uuid4(), m) for m in ("password", "totp", "otp") for _ in range(4)
        ]
        errors: list[BaseException] = []
        latest: list[datetime] = []
        lock = threading.Lock()
        with PostgresClaimStore.connect(
            pg_dsn, schema=pg_schema, min_size=8, max_size=8
        ) as store:
            store.create_schema()
            start = threading.Barrier(8)

            def work(seed: int) -> None:
                rnd = random.Random(seed)
                start.wait()
                for _ in range(25):
                    batch = rnd.sample(pairs, len(pairs))
                    at = START + timedelta(microseconds=rnd.randrange(10**9))
                    try:
                        store.record_many([(s, m, at) for s, m in batch])
                    except BaseException as exc:
                        with lock:
                            errors.append(exc)
                        continue
                    with lock:
                        latest.append(at)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert [] == errors
        table = rows(pg_admin, pg_schema)
        assert sorted(pairs) == [(r[0], r[1]) for r in table]
        assert {max(latest)} == {r[3] for r in table}


# -- the caller's connection -------------------------------------------------------------


class TestCallersTransaction:
    """On a caller's connection the store joins the caller's transaction and never
    ends it."""

    def test_a_rollback_discards_a_record(
        self, pg_tx_conn: Conn, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record made inside the caller's transaction is gone after the caller
        rolls back, and was never visible to others before."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        claim = store.record(uuid.uuid4(), "password")
        assert pq.TransactionStatus.INTRANS == pg_tx_conn.info.transaction_status
        assert [] == rows(pg_admin, pg_schema)
        pg_tx_conn.rollback()
        assert [] == rows(pg_admin, pg_schema)
        assert [] == store.claims(claim.session_id)

    def test_a_commit_keeps_a_record(
        self, pg_tx_conn: Conn, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A record and a batch made inside the caller's transaction are kept when
        the caller commits."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        sid = uuid.uuid4()
        with pg_tx_conn.transaction():
            store.record(sid, "password")
            store.record_many([(sid, "totp")])
            assert [] == rows(pg_admin, pg_schema)
        assert [(sid, "password"), (sid, "totp")] == [
            r[:2] for r in rows(pg_admin, pg_schema)
        ]

    @pytest.mark.parametrize(
        ("call", "error"),
        [
            (lambda s: s.record("not-a-uuid", "totp"), InvalidClaimError),
            (lambda s: s.record(uuid.uuid4(), "TOTP"), InvalidMethodError),
            (
                lambda s: s.record(uuid.uuid4(), "token_refresh"),
                UnrecordableMethodError,
            ),
            (
                lambda s: s.record(uuid.uuid4(), "totp", at=datetime(2026, 1, 1)),
                InvalidClaimError,
            ),
            (
                lambda s: s.record_many(
                    [(uuid.uuid4(), "totp"), (uuid.uuid4(), "TOTP")]
                ),
                InvalidMethodError,
            ),
            (lambda s: s.claims_many("not a list"), InvalidInputError),
            (lambda s: s.revoke_everywhere([uuid.uuid4()], ""), InvalidMethodError),
            (
                lambda s: s.record(
                    uuid.uuid4(), "totp", at=datetime.now(UTC) + timedelta(hours=1)
                ),
                InvalidInputError,
            ),
            (lambda s: s.purge(before=datetime(2026, 1, 1)), InvalidClaimError),
        ],
    )
    def test_a_refused_call_leaves_the_transaction_usable(
        self, pg_tx_conn: Conn, pg_schema: str, pg_admin: Conn, call: Any, error: type
    ) -> None:
        """Bad input is refused before any SQL: the caller's transaction stays open
        and healthy, and what was done in it is still committed."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        sid = uuid.uuid4()
        store.record(sid, "password")
        with pytest.raises(error):
            call(store)
        assert pq.TransactionStatus.INTRANS == pg_tx_conn.info.transaction_status
        store.record(sid, "totp")
        pg_tx_conn.commit()
        assert [(sid, "password"), (sid, "totp")] == [
            r[:2] for r in rows(pg_admin, pg_schema)
        ]

    def test_a_refused_call_sends_nothing(
        self, pg_tx_conn: Conn, pg_schema: str
    ) -> None:
        """Outside a transaction, a refused call does not even open one."""
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        with pytest.raises(InvalidMethodError):
            store.record(uuid.uuid4(), "TOTP")
        assert pq.TransactionStatus.IDLE == pg_tx_conn.info.transaction_status

    def test_a_refused_write_leaves_the_transaction_usable(
        self, pg_tx_conn: Conn, supabase_tables: SupabaseTables, pg_admin: Conn
    ) -> None:
        """A record for a session that does not exist raises SessionNotFoundError
        inside the caller's transaction, which stays open and healthy: the
        caller's earlier and later work in it is committed (the write ran under a
        savepoint, rolled back alone)."""
        store = PostgresClaimStore(pg_tx_conn, schema=supabase_tables.schema)
        live = supabase_tables.new_session()
        before = store.record(live, "password")
        pg_tx_conn.execute(
            sql.SQL("UPDATE {} SET updated_at = now() WHERE id = %s").format(
                sql.Identifier(supabase_tables.schema, "sessions")
            ),
            (live,),
        )
        with pytest.raises(SessionNotFoundError):
            store.record(uuid.uuid4(), "totp")
        assert pq.TransactionStatus.INTRANS == pg_tx_conn.info.transaction_status
        after = store.record(live, "totp")
        pg_tx_conn.commit()
        assert {before, after} == set(
            PostgresClaimStore(pg_admin, schema=supabase_tables.schema).claims(live)
        )
        assert [(1,)] == pg_admin.execute(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE id = %s AND updated_at IS NOT NULL"
            ).format(sql.Identifier(supabase_tables.schema, "sessions")),
            (live,),
        ).fetchall()

    def test_an_aborted_transaction_is_reported_as_such(
        self, pg_tx_conn: Conn, pg_schema: str, pg_admin: Conn
    ) -> None:
        """In a transaction the caller's own failed statement aborted, a call raises
        a StoreError that says to roll back; after the rollback the store works."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        store = PostgresClaimStore(pg_tx_conn, schema=pg_schema)
        with pytest.raises(psycopg.errors.DivisionByZero):
            pg_tx_conn.execute("SELECT 1 / 0")
        for call in (
            lambda: store.record(uuid.uuid4(), "totp"),
            lambda: store.claims(uuid.uuid4()),
        ):
            with pytest.raises(StoreError, match="roll it back") as caught:
                call()
            assert isinstance(
                caught.value.__cause__, psycopg.errors.InFailedSqlTransaction
            )
        pg_tx_conn.rollback()
        assert "totp" == store.record(uuid.uuid4(), "totp").method

    def test_the_connection_is_never_reconfigured_or_closed(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """Row factory, autocommit, isolation and read-only settings stay the
        caller's; the store returns claims all the same, and closing or leaving the
        store leaves the connection open."""
        PostgresClaimStore(pg_admin, schema=pg_schema).create_schema()
        with psycopg.connect(pg_dsn, row_factory=dict_row) as conn:
            conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
            with PostgresClaimStore(conn, schema=pg_schema) as store:
                sid = uuid.uuid4()
                claim = store.record(sid, "password")
                assert [claim] == store.claims(sid)
                assert [claim] == store.record_many(
                    [(sid, "password", claim.updated_at)]
                )
                assert {sid: [claim]} == store.claims_many([sid])
                assert claim == store.get(claim.id)
            assert isinstance(claim, AMRClaim)
            assert dict_row is conn.row_factory
            assert conn.autocommit is False
            assert psycopg.IsolationLevel.SERIALIZABLE == conn.isolation_level
            assert {"x": 1} == conn.execute("SELECT 1 AS x").fetchone()
            assert [("serializable",)] == conn.cursor(row_factory=tuple_row).execute(
                "SHOW transaction_isolation"
            ).fetchall()
            assert not conn.closed
            conn.commit()


# -- pools ---------------------------------------------------------------------------------


class TestPools:
    """A caller's pool is borrowed from per call; connect() owns one."""

    def test_a_callers_pool_commits_each_call(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """Through a pool of connections outside autocommit, each call's write is
        committed when the connection goes back; closing the store leaves the
        pool open."""
        with ConnectionPool(pg_dsn, min_size=1, max_size=1, open=True) as pool:
            store = PostgresClaimStore(pool, schema=pg_schema)
            store.create_schema()
            sid = uuid.uuid4()
            store.record(sid, "password")
            assert [(sid, "password")] == [r[:2] for r in rows(pg_admin, pg_schema)]
            store.close()
            assert not pool.closed
            assert ["password"] == [c.method for c in store.claims(sid)]

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
        app = f"mfa-amr-test-{uuid.uuid4().hex[:8]}"
        autocommit: list[bool] = []
        with PostgresClaimStore.connect(
            pg_dsn,
            schema=pg_schema,
            min_size=2,
            max_size=2,
            name="mfa-amr-test",
            configure=lambda conn: autocommit.append(conn.autocommit),
            kwargs={"autocommit": False, "application_name": app},
        ) as store:
            store.create_schema()
            sid = uuid.uuid4()
            store.record(sid, "password")
            assert [(sid, "password")] == [r[:2] for r in rows(pg_admin, pg_schema)]
            eventually(lambda: 2 == len(autocommit), "the pool's two connections")
            assert [True, True] == autocommit
            assert 2 == len(backends(pg_admin, app))
            assert "connection given by 'mfa-amr-test'" in caplog.messages
        eventually(lambda: not backends(pg_admin, app), "the pool's closing")
        store.close()  # closing twice does nothing
        with pytest.raises(StoreUnavailableError):
            store.claims(sid)

    @pytest.mark.parametrize("value", [True, False])
    def test_connect_refuses_open(self, value: bool) -> None:
        """connect(open=...) is refused, either way, with a pointer to building a
        ConnectionPool and passing it to the constructor; no pool is made."""
        with pytest.raises(InvalidInputError) as caught:
            PostgresClaimStore.connect("host=/nonexistent", open=value)
        message = str(caught.value)
        assert "connect() opens its own pool" in message
        assert "psycopg_pool.ConnectionPool" in message
        assert "PostgresClaimStore(pool)" in message
        assert "Async" not in message

    def test_a_source_that_is_not_a_connection_or_pool_is_refused(self) -> None:
        """A DSN string or anything else as source is refused with a pointer to
        connect()."""
        with pytest.raises(InvalidInputError, match="connect"):
            PostgresClaimStore("host=localhost")  # type: ignore[arg-type]


# -- errors ----------------------------------------------------------------------------------


class TestErrors:
    """Driver errors become StoreUnavailableError or StoreError, chained."""

    def test_an_unreachable_server(self, pg_schema: str) -> None:
        """Nothing listening: connect() itself raises StoreUnavailableError, a
        ConnectionError, chaining psycopg's error, at once."""
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as caught:
            PostgresClaimStore.connect(
                "host=127.0.0.1 port=1 dbname=test", schema=pg_schema, min_size=1
            )
        assert time.monotonic() - started < 2
        assert isinstance(caught.value, ConnectionError)
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)
        assert "Connection refused" in str(caught.value)

    def test_a_dropped_connection(
        self, store: PostgresClaimStore, pg_conn: Conn, pg_admin: Conn
    ) -> None:
        """The server ends the caller's connection: StoreUnavailableError now and on
        the next call."""
        pg_admin.execute(
            "SELECT pg_terminate_backend(%s, 5000)", (pg_conn.info.backend_pid,)
        )
        with pytest.raises(StoreUnavailableError) as caught:
            store.record(uuid.uuid4(), "password")
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)
        with pytest.raises(StoreUnavailableError):
            store.claims(uuid.uuid4())

    def test_a_dropped_pool_connection_is_replaced(
        self, pg_dsn: str, pg_schema: str, pg_admin: Conn
    ) -> None:
        """A pooled connection the server ended is found out before it is lent
        (the pool connect() opens checks each one): the next call succeeds on a
        new connection."""
        app = f"mfa-amr-test-{uuid.uuid4().hex[:8]}"
        with PostgresClaimStore.connect(
            pg_dsn,
            schema=pg_schema,
            min_size=1,
            max_size=1,
            kwargs={"application_name": app},
        ) as store:
            store.create_schema()
            (pid,) = backends(pg_admin, app)
            pg_admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            assert [] == store.claims(uuid.uuid4())
            assert [pid] != backends(pg_admin, app)

    def test_a_closed_connection(
        self, store: PostgresClaimStore, pg_conn: Conn
    ) -> None:
        """The caller closed its connection: StoreUnavailableError."""
        pg_conn.close()
        with pytest.raises(StoreUnavailableError):
            store.claims(uuid.uuid4())

    def test_other_database_errors(self, pg_conn: Conn, pg_schema: str) -> None:
        """A missing table is a StoreError but not StoreUnavailableError, chaining
        the driver's error."""
        store = PostgresClaimStore(pg_conn, schema=pg_schema, table="missing")
        with pytest.raises(StoreError) as caught:
            store.record(uuid.uuid4(), "password")
        assert not isinstance(caught.value, StoreUnavailableError)
        assert isinstance(caught.value.__cause__, psycopg.errors.UndefinedTable)
        assert "recording a claim" in str(caught.value)

    def test_invalid_input_is_refused_before_any_sql(
        self, store: PostgresClaimStore, pg_conn: Conn
    ) -> None:
        """On a closed connection, every kind of bad input still raises the input
        error, never StoreUnavailableError: nothing was sent."""
        pg_conn.close()
        untyped: Any = store  # the calls below break the annotations on purpose
        sid = uuid.uuid4()
        calls = [
            (lambda: untyped.record("nope", "totp"), InvalidClaimError),
            (lambda: untyped.record(sid, "Totp"), InvalidMethodError),
            (lambda: untyped.record(sid, "token_refresh"), UnrecordableMethodError),
            (lambda: untyped.record_many([(sid, "totp"), (sid,)]), InvalidInputError),
            (lambda: untyped.record_many("items"), InvalidInputError),
            (lambda: untyped.claims(42), InvalidClaimError),
            (lambda: untyped.claims_many(sid), InvalidInputError),
            (lambda: untyped.claims_many([sid, "x"]), InvalidClaimError),
            (lambda: untyped.get("x"), InvalidClaimError),
            (lambda: untyped.revoke(sid, ""), InvalidMethodError),
            (lambda: untyped.revoke_everywhere(str(sid), "totp"), InvalidInputError),
            (lambda: untyped.delete_sessions([None]), InvalidClaimError),
            (lambda: untyped.purge(before=datetime(2026, 1, 1)), InvalidClaimError),
        ]
        for call, error in calls:
            with pytest.raises(error):
                call()  # type: ignore[no-untyped-call]

    def test_empty_batches_send_nothing(
        self, store: PostgresClaimStore, pg_conn: Conn
    ) -> None:
        """Empty record_many, claims_many, revoke_everywhere and delete_sessions
        answer without the server."""
        pg_conn.close()
        assert [] == store.record_many([])
        assert {} == store.claims_many([])
        assert 0 == store.revoke_everywhere([], "totp")
        assert 0 == store.delete_sessions([])


# -- rows ------------------------------------------------------------------------------------


class TestRows:
    """Rows come back as they are in the table, with UTC times."""

    def test_rows_written_by_another_system_are_read_as_they_are(
        self, store: PostgresClaimStore, pg_admin: Conn
    ) -> None:
        """Unknown names, names breaking the syntax, and created_at after
        updated_at (another writer's clock skew) are read back unchanged and never
        make a read fail."""
        sid = uuid.uuid4()
        odd = ["future/method", "Legacy Method", "ünïcode", "x" * 100]
        table = sql.Identifier(store.schema, store.table)
        for n, name in enumerate(odd):
            pg_admin.execute(
                sql.SQL(
                    "INSERT INTO {} (id, session_id, authentication_method, "
                    "created_at, updated_at) VALUES (%s, %s, %s, %s, %s)"
                ).format(table),
                (
                    uuid.uuid4(),
                    sid,
                    name,
                    START + timedelta(days=1),
                    START + timedelta(seconds=n),
                ),
            )
        got = store.claims(sid)
        assert list(reversed(odd)) == [c.method for c in got]
        assert {START + timedelta(days=1)} == {c.created_at for c in got}
        assert got == store.claims_many([sid])[sid]
        assert got == [store.get(c.id) for c in got]

    def test_times_are_utc_whatever_the_connections_time_zone(
        self, store: PostgresClaimStore, pg_conn: Conn
    ) -> None:
        """With the caller's session in Asia/Kolkata, times given in any zone come
        back as the same instants in UTC, to the microsecond."""
        pg_conn.execute("SET TimeZone = 'Asia/Kolkata'")
        sid = uuid.uuid4()
        at = datetime(
            2026, 1, 14, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-8))
        )
        claim = store.record(sid, "password", at=at)
        for got in (claim, *store.claims(sid), store.get(claim.id)):
            assert got is not None
            assert at == got.created_at == got.updated_at
            assert UTC is got.created_at.tzinfo is got.updated_at.tzinfo
        assert "Asia/Kolkata" == pg_conn.execute("SHOW TimeZone").fetchone()[0]  # type: ignore[index]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        items=st.lists(
            st.tuples(
                st.integers(0, 2),
                st.sampled_from(["password", "totp", "x-b", "x_a"]),
                st.integers(-3, 3),
            ),
            max_size=12,
        )
    )
    def test_a_batch_equals_records_one_after_another(
        self, store: PostgresClaimStore, items: list[tuple[int, str, int]]
    ) -> None:
        """record_many's one statement leaves the table as the in-memory store's
        records one after another, duplicates included."""
        sids = [uuid.uuid4() for _ in range(3)]
        batch = [(sids[k], m, START + timedelta(seconds=s)) for k, m, s in items]
        memory = InMemoryClaimStore()
        for sid, m, at in batch:
            memory.record(sid, m, at=at)

        def shape(claims: list[AMRClaim]) -> list[tuple[object, ...]]:
            return [
                (c.session_id, c.method, c.created_at, c.updated_at) for c in claims
            ]

        got = store.record_many(batch)
        assert shape(memory.record_many(batch)) == shape(got)
        for sid in sids:
            assert shape(memory.claims(sid)) == shape(store.claims(sid))


# -- round trips -------------------------------------------------------------------------------


class CountingCursor(psycopg.Cursor[Any]):
    """A cursor that counts the statements it sends."""

    sent: ClassVar[list[str]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        CountingCursor.sent.append(str(query))
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        CountingCursor.sent.append(f"executemany: {query}")
        super().executemany(query, params_seq, **kwargs)


class TestRoundTrips:
    """Every operation is one statement."""

    def test_each_operation_sends_one_statement(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """record, record_many (of 50 items), claims, claims_many (of 50 sessions),
        get, revoke, revoke_everywhere, delete_sessions and purge each execute
        exactly one statement, of the expected kind."""
        with psycopg.connect(
            pg_dsn, autocommit=True, cursor_factory=CountingCursor
        ) as conn:
            store = PostgresClaimStore(conn, schema=pg_schema)
            store.create_schema()
            sids = [uuid.uuid4() for _ in range(50)]
            operations: list[tuple[str, Any]] = [
                ("INSERT INTO", lambda: store.record(sids[0], "password")),
                (
                    "WITH written AS (\nINSERT INTO",
                    lambda: store.record_many([(s, "totp") for s in sids]),
                ),
                ("SELECT", lambda: store.claims(sids[0])),
                ("SELECT", lambda: store.claims_many(sids)),
                ("SELECT", lambda: store.get(sids[0])),
                ("WITH gone AS (\n    DELETE", lambda: store.revoke(sids[0], "totp")),
                (
                    "WITH gone AS (\n    DELETE",
                    lambda: store.revoke_everywhere(sids, "totp"),
                ),
                (
                    "WITH gone AS (\n    DELETE",
                    lambda: store.delete_sessions(sids[:2]),
                ),
                ("WITH page AS (", lambda: store.purge(before=START)),
            ]
            for kind, operation in operations:
                CountingCursor.sent.clear()
                operation()
                assert 1 == len(CountingCursor.sent), CountingCursor.sent
                assert CountingCursor.sent[0].startswith(kind)
            CountingCursor.sent.clear()
            store.record(sids[0], "password")
            assert (
                "ON CONFLICT (session_id, authentication_method)"
                in CountingCursor.sent[0]
            )
            assert "GREATEST" in CountingCursor.sent[0]
            assert "RETURNING" in CountingCursor.sent[0]
