"""Shared test configuration: Hypothesis profiles, and the PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    import psycopg

    from mfa_amr.testing import AsyncRunner

settings.register_profile("dev", max_examples=100)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,  # a loaded CI machine must not turn slowness into failures
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# -- PostgreSQL ----------------------------------------------------------------------
# Tests that need a server take the `pg_dsn` fixture (directly or through the ones
# below) and carry the `postgres` marker. Without a reachable server they skip with
# the reason, unless MFA_AMR_REQUIRE_POSTGRES=1 (set by .ci/run) turns that into a
# failure, so CI can never pass by skipping them.

DEFAULT_TEST_DSN = "host=127.0.0.1 port=5432 dbname=test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--test-dsn",
        default=None,
        help="libpq DSN of the PostgreSQL database for the postgres tests "
        f"(default: $MFA_AMR_TEST_DSN, else {DEFAULT_TEST_DSN!r})",
    )


def _test_dsn(config: pytest.Config) -> str:
    option = config.getoption("--test-dsn")
    if option:
        return str(option)
    return os.environ.get("MFA_AMR_TEST_DSN") or DEFAULT_TEST_DSN


def no_postgres(reason: str) -> NoReturn:
    """Skip a test the server cannot serve, or fail it when
    MFA_AMR_REQUIRE_POSTGRES=1 (CI), so that CI cannot pass by skipping."""
    if os.environ.get("MFA_AMR_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (MFA_AMR_REQUIRE_POSTGRES=1: not skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_dsn(pytestconfig: pytest.Config) -> str:
    """The DSN of a reachable PostgreSQL server, checked once per session."""
    dsn = _test_dsn(pytestconfig)
    try:
        import psycopg
    except ImportError as exc:
        no_postgres(f"psycopg is not installed ({exc}): pip install '.[test]'")
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        no_postgres(
            f"no PostgreSQL server reachable at {dsn!r} ({first}); give one with "
            "--test-dsn or MFA_AMR_TEST_DSN"
        )
    return dsn


@pytest.fixture(scope="session")
def pg_admin(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection for setting up and tearing down test databases."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def scratch_database(pg_admin: psycopg.Connection[Any], pg_dsn: str) -> Iterator[str]:
    """The DSN of a new, empty database, dropped afterwards: for docs whose examples
    create auth.mfa_amr_claims, which must not touch the test database's."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = f"mfa_amr_test_docs_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(name)
    try:
        pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    except psycopg.errors.InsufficientPrivilege as exc:
        no_postgres(f"the test role cannot create a scratch database: {exc}")
    try:
        yield make_conninfo(pg_dsn, dbname=name)
    finally:
        pg_admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))


@pytest.fixture
def pg_schema(pg_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """A schema of the test's own, randomly named, dropped with its content after
    the test."""
    from psycopg import sql

    name = f"mfa_amr_test_{uuid.uuid4().hex[:16]}"
    ident = sql.Identifier(name)
    pg_admin.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
    try:
        yield name
    finally:
        # A connection a test left inside a transaction would block the drop
        # forever: fail the teardown instead of hanging the suite.
        pg_admin.execute("SET lock_timeout = '20s'")
        try:
            pg_admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
        finally:
            pg_admin.execute("RESET lock_timeout")


@pytest.fixture
def pg_conn(pg_dsn: str, pg_schema: str) -> Iterator[psycopg.Connection[Any]]:
    """A caller's connection, in autocommit mode; it depends on ``pg_schema`` so
    that it is closed before the schema is dropped."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_tx_conn(pg_dsn: str, pg_schema: str) -> Iterator[psycopg.Connection[Any]]:
    """A caller's connection outside autocommit (statements open a transaction),
    closed (committing what is open) before the schema is dropped."""
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        yield conn


# -- asyncio -------------------------------------------------------------------------
# psycopg's async connections belong to the event loop they were created in: a test
# that drives them from synchronous code (the contract suite, the state machine) runs
# every coroutine on the one loop of its `aio` runner, where `pg_aconn` was made.


@pytest.fixture
def aio() -> Iterator[AsyncRunner]:
    """An event loop for the test, closed after it (pending tasks cancelled)."""
    from mfa_amr.testing import AsyncRunner

    with AsyncRunner() as runner:
        yield runner


@pytest.fixture
def pg_aconn(
    aio: AsyncRunner, pg_dsn: str, pg_schema: str
) -> Iterator[psycopg.AsyncConnection[Any]]:
    """A caller's autocommit ``AsyncConnection`` on the loop of ``aio``; it depends
    on ``pg_schema`` so that it is closed before the schema is dropped."""
    import psycopg

    conn = aio.run(psycopg.AsyncConnection.connect(pg_dsn, autocommit=True))
    try:
        yield conn
    finally:
        aio.run(conn.close())


class SupabaseTables:
    """Supabase Auth's tables as deployed, in a test's schema: ``sessions``, and
    ``mfa_amr_claims`` with its foreign key to it (ON DELETE CASCADE), row level
    security enabled and Supabase's comment. Built with Supabase's DDL, not with
    ``create_schema()``."""

    DDL = """\
CREATE TABLE {schema}.sessions (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL,
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);
CREATE TABLE {schema}.mfa_amr_claims (
    session_id uuid NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    authentication_method text NOT NULL,
    id uuid NOT NULL,
    CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey
        UNIQUE (session_id, authentication_method),
    CONSTRAINT amr_id_pk PRIMARY KEY (id),
    CONSTRAINT mfa_amr_claims_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES {schema}.sessions (id) ON DELETE CASCADE
);
ALTER TABLE {schema}.mfa_amr_claims ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE {schema}.mfa_amr_claims IS
    'auth: stores authenticator method reference claims for multi factor authentication';
"""
    INSERT = (
        "INSERT INTO {schema}.sessions (id, user_id, created_at, updated_at) "
        "VALUES (%s, %s, now(), now())"
    )
    DELETE = "DELETE FROM {schema}.sessions WHERE id = %s"

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        from psycopg import sql

        self.conn = conn
        self.schema = schema
        ident = sql.Identifier(schema)
        self._insert = sql.SQL(self.INSERT).format(schema=ident)
        self._delete = sql.SQL(self.DELETE).format(schema=ident)
        conn.execute(sql.SQL(self.DDL).format(schema=ident))

    def new_session(self) -> uuid.UUID:
        """Insert a session row; return its id."""
        sid = uuid.uuid4()
        self.conn.execute(self._insert, (sid, uuid.uuid4()))
        return sid

    def delete_session(self, sid: uuid.UUID) -> None:
        """Delete a session row (its claims go with it, by the foreign key)."""
        self.conn.execute(self._delete, (sid,))


@pytest.fixture
def supabase_tables(
    pg_admin: psycopg.Connection[Any], pg_schema: str
) -> SupabaseTables:
    """Supabase's sessions and claims tables in the test's schema."""
    return SupabaseTables(pg_admin, pg_schema)
