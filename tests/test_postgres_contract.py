"""PostgresClaimStore: the shared contract and the state machine, on a real server.

Three ways to hold the table: a caller's autocommit connection, a pool, and a
Supabase-style table (foreign key to a sessions table, row level security) whose
session rows the tests create.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from mfa_amr.stores import ClaimStore
from mfa_amr.stores.postgres import PostgresClaimStore
from mfa_amr.testing import ClaimStoreContract, ClaimStoreMachine, FakeClock

if TYPE_CHECKING:
    from conftest import SupabaseTables

pytestmark = pytest.mark.postgres

# Each example of a property test costs a few round trips: bounded so the suite stays
# within minutes on a 2-core CI machine, whatever the Hypothesis profile.
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
MACHINE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestPostgresContractOnAConnection(ClaimStoreContract):
    """The contract, on a caller's autocommit connection."""

    hypothesis_settings = PROPERTY_SETTINGS

    @pytest.fixture
    def store(
        self, clock: FakeClock, pg_conn: psycopg.Connection[Any], pg_schema: str
    ) -> PostgresClaimStore:
        store = PostgresClaimStore(pg_conn, schema=pg_schema, clock=clock)
        store.create_schema()
        return store


class TestPostgresContractOnAPool(ClaimStoreContract):
    """The contract, through a pool of connections that commit on return."""

    hypothesis_settings = PROPERTY_SETTINGS

    @pytest.fixture
    def store(
        self, clock: FakeClock, pg_dsn: str, pg_schema: str
    ) -> Iterator[PostgresClaimStore]:
        with ConnectionPool(pg_dsn, min_size=1, max_size=2, open=True) as pool:
            store = PostgresClaimStore(pool, schema=pg_schema, clock=clock)
            store.create_schema()
            yield store


class TestPostgresContractOnASupabaseTable(ClaimStoreContract):
    """The contract, on Supabase's table with its foreign key and row level
    security, without create_schema(); each session is a real sessions row."""

    hypothesis_settings = PROPERTY_SETTINGS

    @pytest.fixture
    def store(
        self,
        clock: FakeClock,
        pg_conn: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
    ) -> PostgresClaimStore:
        self._tables = supabase_tables
        return PostgresClaimStore(pg_conn, schema=supabase_tables.schema, clock=clock)

    def new_session_id(self, store: ClaimStore) -> uuid.UUID:
        return self._tables.new_session()


# -- the state machine ---------------------------------------------------------------


class _Database:
    """Where the machines' stores live: set per test by the autouse fixture."""

    dsn: ClassVar[str]
    schema: ClassVar[str]
    conn: ClassVar[psycopg.Connection[Any]]


@pytest.fixture(autouse=True)
def _machine_database(
    pg_dsn: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    _Database.dsn = pg_dsn
    _Database.schema = pg_schema
    _Database.conn = pg_conn


def _truncated_table(table: str) -> None:
    """A claims table in the test's schema, created once and emptied for each run."""
    store = PostgresClaimStore(_Database.conn, schema=_Database.schema, table=table)
    store.create_schema()
    _Database.conn.execute(
        sql.SQL("TRUNCATE {}").format(sql.Identifier(_Database.schema, table))
    )


class ConnectionMachine(ClaimStoreMachine):
    """The machine on a caller's autocommit connection."""

    def make_store(self, clock: FakeClock) -> ClaimStore:
        _truncated_table("mfa_amr_claims")
        return PostgresClaimStore(_Database.conn, schema=_Database.schema, clock=clock)


class PoolMachine(ClaimStoreMachine):
    """The machine on a store that owns its pool (autocommit connections)."""

    def make_store(self, clock: FakeClock) -> ClaimStore:
        _truncated_table("pooled_claims")
        return PostgresClaimStore.connect(
            _Database.dsn,
            schema=_Database.schema,
            table="pooled_claims",
            clock=clock,
            min_size=1,
            max_size=1,
        )

    def teardown_store(self, store: ClaimStore) -> None:
        assert isinstance(store, PostgresClaimStore)
        store.close()


TestPostgresMachineOnAConnection = ConnectionMachine.TestCase
TestPostgresMachineOnAConnection.settings = MACHINE_SETTINGS
TestPostgresMachineOnAPool = PoolMachine.TestCase
TestPostgresMachineOnAPool.settings = MACHINE_SETTINGS
