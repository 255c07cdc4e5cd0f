"""AsyncPostgresClaimStore: the shared contract and the state machine, on a real
server, through BlockingClaimStore.

Two ways to hold the table: a caller's autocommit AsyncConnection, and an
AsyncConnectionPool (the caller's for the contract, the store's own from connect()
for the machine). Every coroutine of a test runs on the one loop of the test's
`aio` runner, where its connections were made.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any, ClassVar

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
from psycopg_pool import AsyncConnectionPool

from mfa_amr.stores import ClaimStore
from mfa_amr.stores.postgres import AsyncPostgresClaimStore
from mfa_amr.testing import (
    AsyncRunner,
    BlockingClaimStore,
    ClaimStoreContract,
    ClaimStoreMachine,
    FakeClock,
)

pytestmark = pytest.mark.postgres

# As for the sync store (tests/test_postgres_contract.py): bounded so the suite stays
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


class TestAsyncPostgresContractOnAConnection(ClaimStoreContract):
    """The contract, on a caller's autocommit AsyncConnection."""

    hypothesis_settings = PROPERTY_SETTINGS

    @pytest.fixture
    def store(
        self,
        clock: FakeClock,
        aio: AsyncRunner,
        pg_aconn: psycopg.AsyncConnection[Any],
        pg_schema: str,
    ) -> BlockingClaimStore:
        store = AsyncPostgresClaimStore(pg_aconn, schema=pg_schema, clock=clock)
        aio.run(store.create_schema())
        return BlockingClaimStore(store, aio)


class TestAsyncPostgresContractOnAPool(ClaimStoreContract):
    """The contract, through a caller's AsyncConnectionPool of connections that
    commit on return."""

    hypothesis_settings = PROPERTY_SETTINGS

    @pytest.fixture
    def store(
        self, clock: FakeClock, aio: AsyncRunner, pg_dsn: str, pg_schema: str
    ) -> Iterator[BlockingClaimStore]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            pg_dsn, min_size=1, max_size=2, open=False
        )
        aio.run(pool.open(wait=True))
        try:
            store = AsyncPostgresClaimStore(pool, schema=pg_schema, clock=clock)
            aio.run(store.create_schema())
            yield BlockingClaimStore(store, aio)
        finally:
            aio.run(pool.close())


# -- the state machine ---------------------------------------------------------------


class _Database:
    """Where the machines' stores live: set per test by the autouse fixture."""

    dsn: ClassVar[str]
    schema: ClassVar[str]
    runner: ClassVar[AsyncRunner]
    conn: ClassVar[psycopg.AsyncConnection[Any]]


@pytest.fixture(autouse=True)
def _machine_database(
    pg_dsn: str,
    pg_schema: str,
    aio: AsyncRunner,
    pg_aconn: psycopg.AsyncConnection[Any],
) -> None:
    _Database.dsn = pg_dsn
    _Database.schema = pg_schema
    _Database.runner = aio
    _Database.conn = pg_aconn


def _truncated_table(table: str) -> None:
    """A claims table in the test's schema, created once and emptied for each run."""
    store = AsyncPostgresClaimStore(
        _Database.conn, schema=_Database.schema, table=table
    )
    _Database.runner.run(store.create_schema())
    _Database.runner.run(
        _Database.conn.execute(
            sql.SQL("TRUNCATE {}").format(sql.Identifier(_Database.schema, table))
        )
    )


class AsyncConnectionMachine(ClaimStoreMachine):
    """The machine on a caller's autocommit AsyncConnection."""

    def make_store(self, clock: FakeClock) -> ClaimStore:
        _truncated_table("mfa_amr_claims")
        store = AsyncPostgresClaimStore(
            _Database.conn, schema=_Database.schema, clock=clock
        )
        return BlockingClaimStore(store, _Database.runner)


class AsyncPoolMachine(ClaimStoreMachine):
    """The machine on a store that owns its AsyncConnectionPool (connect())."""

    def make_store(self, clock: FakeClock) -> ClaimStore:
        _truncated_table("pooled_claims")
        store = _Database.runner.run(
            AsyncPostgresClaimStore.connect(
                _Database.dsn,
                schema=_Database.schema,
                table="pooled_claims",
                clock=clock,
                min_size=1,
                max_size=1,
            )
        )
        return BlockingClaimStore(store, _Database.runner)

    def teardown_store(self, store: ClaimStore) -> None:
        assert isinstance(store, BlockingClaimStore)
        assert isinstance(store.store, AsyncPostgresClaimStore)
        _Database.runner.run(store.store.close())


TestAsyncPostgresMachineOnAConnection = AsyncConnectionMachine.TestCase
TestAsyncPostgresMachineOnAConnection.settings = MACHINE_SETTINGS
TestAsyncPostgresMachineOnAPool = AsyncPoolMachine.TestCase
TestAsyncPostgresMachineOnAPool.settings = MACHINE_SETTINGS
