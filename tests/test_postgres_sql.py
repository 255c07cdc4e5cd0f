"""mfa_amr.stores._sql: the PostgreSQL stores' names, parameters and error mapping,
without a server."""

from __future__ import annotations

import importlib.util
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from mfa_amr import InMemoryClaimStore, Policy
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    RevocationRefusedError,
    SessionNotFoundError,
    StoreConfigurationError,
    StoreError,
    StoreUnavailableError,
    TableNotFoundError,
    UnrecordableMethodError,
)
from mfa_amr.stores._input import session_ids
from mfa_amr.stores._sql import (
    CREATING,
    Operations,
    Statements,
    check_identifier,
    claim_row,
    connect_error,
    constraint_names,
    record_many_params,
    source_error,
    store_error,
)
from mfa_amr.testing import START, FakeClock

UTC = UTC
SUPABASE = Policy.supabase()


class TestNames:
    """Names are checked and constraint names derived as PostgreSQL needs."""

    def test_the_default_table_keeps_the_seeds_constraint_names(self) -> None:
        """mfa_amr_claims gets amr_id_pk and the _pkey-suffixed unique constraint."""
        assert (
            "amr_id_pk",
            "mfa_amr_claims_session_id_authentication_method_pkey",
        ) == constraint_names("mfa_amr_claims")

    @given(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)
        .filter(lambda t: len(t.encode()) <= 63)
        .filter(lambda t: t != "mfa_amr_claims")
    )
    def test_derived_names_fit_and_never_collide_with_the_defaults(
        self, table: str
    ) -> None:
        """Any other table's constraint names fit in 63 bytes, differ from each
        other and from the default table's."""
        pkey, unique = constraint_names(table)
        assert pkey != unique
        assert len(pkey.encode()) <= 63
        assert len(unique.encode()) <= 63
        assert not {pkey, unique} & set(constraint_names("mfa_amr_claims"))

    def test_long_names_keep_a_digest_of_the_whole_name(self) -> None:
        """Two 63-byte names sharing their start get different constraint names."""
        one, two = "é" * 31 + "1", "é" * 31 + "2"
        assert set(constraint_names(one)).isdisjoint(constraint_names(two))
        assert all(
            name.endswith(("_id_pkey", "_session_id_authentication_method_key"))
            for name in constraint_names(one)
        )

    @pytest.mark.parametrize(
        "name", ["", "a\x00b", "x" * 64, "é" * 32, None, 42, "\ud800"]
    )
    def test_names_postgres_would_not_keep_are_refused(self, name: object) -> None:
        """Empty, NUL, over 63 UTF-8 bytes, unencodable or not a str: refused."""
        with pytest.raises(InvalidInputError):
            check_identifier(name, "table")

    def test_percent_signs_survive_psycopgs_placeholder_parsing(self) -> None:
        """A '%' in a name is doubled in statements sent with parameters, and kept
        as it is in the DDL, which is sent without."""
        statements = Statements.for_table("s%", "t%s")
        assert '"s%%"."t%%s"' in statements.record
        assert '"s%"."t%s"' in statements.ddl


class TestRecordManyParams:
    """A batch is validated whole and collapsed to one row per pair."""

    @given(
        st.lists(
            st.tuples(
                st.integers(0, 2),
                st.sampled_from(["password", "totp", "x-b"]),
                st.integers(-5, 5),
            ),
            max_size=20,
        )
    )
    def test_one_row_per_pair_as_if_recorded_one_after_another(
        self, items: list[tuple[int, str, int]]
    ) -> None:
        """Each distinct pair becomes one row, created at its first time and updated
        at its greatest, like sequential records in the in-memory store; pairs come
        back in first-appearance order and rows go in one fixed order."""
        sids = [uuid.UUID(int=n + 1) for n in range(3)]
        batch = [(sids[k], m, START + timedelta(seconds=s)) for k, m, s in items]
        pairs, (ids, row_sids, names, created, updated) = record_many_params(
            batch, SUPABASE, FakeClock()
        )
        memory = InMemoryClaimStore()
        expected = memory.record_many(batch)
        assert [(c.session_id, c.method) for c in expected] == pairs
        rows = {
            (sid, name): (first, last)
            for sid, name, first, last in zip(
                row_sids, names, created, updated, strict=True
            )
        }
        assert {
            (c.session_id, c.method): (c.created_at, c.updated_at) for c in expected
        } == rows
        assert len(pairs) == len(set(ids))
        assert sorted(rows, key=lambda p: (p[0].int, p[1])) == list(
            zip(row_sids, names, strict=True)
        )

    def test_the_clock_is_read_once(self) -> None:
        """Items without a time share one reading of the clock."""
        readings: list[datetime] = []

        def clock() -> datetime:
            readings.append(START + timedelta(seconds=len(readings)))
            return readings[-1]

        sid = uuid.uuid4()
        # at=None means the clock, as the protocol's docstring says; RecordItem's
        # annotation leaves None out.
        items: list[Any] = [(sid, "password"), (sid, "totp", None), (sid, "otp")]
        _, params = record_many_params(items, SUPABASE, clock)
        assert [START] == readings
        assert [START] * 3 == params[3]

    @pytest.mark.parametrize(
        ("items", "error"),
        [
            ("password", InvalidInputError),
            (42, InvalidInputError),
            ([(uuid.UUID(int=1),)], InvalidInputError),
            ([(uuid.UUID(int=1), "totp", START, 1)], InvalidInputError),
            ([{"session_id": uuid.UUID(int=1)}], InvalidInputError),
            ([("nope", "totp")], InvalidClaimError),
            ([(uuid.UUID(int=1), "TOTP")], InvalidMethodError),
            ([(uuid.UUID(int=1), "token_refresh")], UnrecordableMethodError),
            ([(uuid.UUID(int=1), "totp", datetime(2026, 1, 1))], InvalidClaimError),
        ],
    )
    def test_bad_batches_are_refused(self, items: object, error: type) -> None:
        """A batch of the wrong shape, or with any bad item, is refused whole."""
        with pytest.raises(error):
            record_many_params(items, SUPABASE, FakeClock())  # type: ignore[arg-type]


class TestSessionIds:
    """Iterables of session ids are validated, deduplicated, kept in order."""

    def test_duplicates_go_and_order_stays(self) -> None:
        """Repeated ids, as UUIDs or strings, appear once, first place kept."""
        a, b = uuid.UUID(int=2), uuid.UUID(int=1)
        assert [a, b] == session_ids([a, str(b), str(a), b], "claims_many")

    @pytest.mark.parametrize(
        "value", [uuid.UUID(int=1), str(uuid.UUID(int=1)), b"x", 7]
    )
    def test_a_single_id_is_not_iterated(self, value: object) -> None:
        """One id (or a non-iterable) where a list is expected is refused."""
        with pytest.raises(InvalidInputError):
            session_ids(value, "claims_many")  # type: ignore[arg-type]


class TestOperations:
    """Operations describe each call without executing it."""

    def test_create_schema_sends_the_script_without_parameters(self) -> None:
        """create_schema is the table's DDL with no parameters (so one simple query
        running every statement) and no rows to fetch."""
        ops = Operations.for_table("s", "t")
        call = ops.create_schema()
        assert (CREATING, ops.statements.ddl, None, False) == (
            call.doing,
            call.query,
            call.params,
            call.returns_rows,
        )


class TestSources:
    """A source a store cannot use is refused with a pointer to what to use."""

    def test_something_else_says_what_is_taken(self) -> None:
        """Neither a connection nor a pool: the store's own words, with the type."""
        error = source_error("host=db", "source must be a pool", "use connect()")
        assert "source must be a pool, got str; use connect()" == str(error)
        assert isinstance(error, InvalidInputError)

    def test_the_other_kind_is_pointed_to_its_store(self) -> None:
        """A synchronous pool points to PostgresClaimStore, an asyncio one to
        AsyncPostgresClaimStore."""
        sync_pool: ConnectionPool[Any] = ConnectionPool("", open=False)
        async_pool: AsyncConnectionPool[Any] = AsyncConnectionPool("", open=False)
        assert (
            "source is a ConnectionPool: use PostgresClaimStore for synchronous "
            "connections and pools"
        ) == str(source_error(sync_pool, "", ""))
        assert (
            "source is a AsyncConnectionPool: use AsyncPostgresClaimStore for asyncio "
            "connections and pools"
        ) == str(source_error(async_pool, "", ""))


class TestErrors:
    """psycopg errors map to the library's, by what happened."""

    @pytest.mark.parametrize(
        "exc",
        [
            psycopg.OperationalError("connection refused"),
            PoolTimeout("couldn't get a connection after 1.00 sec"),
            psycopg.errors.AdminShutdown("terminating connection"),
            psycopg.errors.ConnectionFailure("lost"),
            psycopg.errors.CannotConnectNow("starting up"),
            psycopg.errors.TooManyConnections("too many"),
        ],
    )
    def test_lost_connections_are_unavailable(self, exc: psycopg.Error) -> None:
        """A failed or dropped connection, a pool timeout: StoreUnavailableError."""
        error = store_error(exc, "reading claims")
        assert isinstance(error, StoreUnavailableError)
        assert "reading claims" in str(error)

    @pytest.mark.parametrize(
        "exc",
        [
            psycopg.errors.QueryCanceled("statement timeout"),
            psycopg.errors.DeadlockDetected("deadlock"),
            psycopg.DataError("bad value"),
        ],
    )
    def test_other_errors_are_store_errors(self, exc: psycopg.Error) -> None:
        """Errors of a working connection: StoreError, not StoreUnavailableError."""
        error = store_error(exc, "recording a claim")
        assert StoreError is type(error)

    @pytest.mark.parametrize(
        "exc",
        [
            psycopg.errors.UndefinedTable('relation "auth.x" does not exist'),
            psycopg.errors.InvalidSchemaName('schema "auth" does not exist'),
        ],
    )
    def test_a_missing_table_says_how_to_create_it(self, exc: psycopg.Error) -> None:
        """A missing table or schema: TableNotFoundError naming the table and
        create_schema() / schema_sql(), not retryable."""
        error = store_error(exc, "reading claims", table='"auth"."x"')
        assert TableNotFoundError is type(error)
        assert isinstance(error, StoreConfigurationError)
        assert not isinstance(error, StoreUnavailableError)
        for words in ('"auth"."x"', "create_schema()", "schema_sql()"):
            assert words in str(error)

    @pytest.mark.parametrize(
        ("deletes", "expected"),
        [(False, StoreConfigurationError), (True, RevocationRefusedError)],
    )
    def test_a_refused_privilege_names_the_table(
        self, deletes: bool, expected: type[StoreError]
    ) -> None:
        """A privilege or policy refusal is a StoreConfigurationError naming the
        table; when deleting, a RevocationRefusedError (a PermissionError)."""
        error = store_error(
            psycopg.errors.InsufficientPrivilege("permission denied for table x"),
            "revoking a claim",
            table='"auth"."x"',
            deletes=deletes,
        )
        assert expected is type(error)
        assert '"auth"."x"' in str(error)
        assert "permission denied" in str(error)

    @pytest.mark.parametrize(
        ("message", "expected"),
        [
            (
                'FATAL:  password authentication failed for user "svc"',
                StoreConfigurationError,
            ),
            ('FATAL:  database "nope" does not exist', StoreConfigurationError),
            ('FATAL:  role "nope" does not exist', StoreConfigurationError),
            ("FATAL:  no pg_hba.conf entry for host", StoreConfigurationError),
            ("fe_sendauth: no password supplied", StoreConfigurationError),
            ("Connection refused\n\tIs the server running", StoreUnavailableError),
            ("timeout expired", StoreUnavailableError),
            ("FATAL:  the database system is starting up", StoreUnavailableError),
            ("FATAL:  sorry, too many clients already", StoreUnavailableError),
            ("could not translate host name", StoreUnavailableError),
        ],
    )
    def test_a_failed_first_connection_names_its_cause(
        self, message: str, expected: type[StoreError]
    ) -> None:
        """A refusal by the server (password, role, database, pg_hba.conf) is a
        StoreConfigurationError; anything that may pass (refused, unreachable,
        starting, full) a StoreUnavailableError."""
        error = connect_error(
            psycopg.OperationalError(
                f'connection failed: connection to server at "db", port 5432 '
                f"failed: {message}"
            )
        )
        assert expected is type(error)
        assert message.splitlines()[0] in str(error)

    def test_a_foreign_key_violation_names_the_session(self) -> None:
        """A foreign key refusing a claim: SessionNotFoundError naming the session."""
        sid = uuid.uuid4()
        error = store_error(
            psycopg.errors.ForeignKeyViolation("insert or update violates"),
            "recording a claim",
            sid,
        )
        assert isinstance(error, SessionNotFoundError)
        assert str(sid) in str(error)


class TestRows:
    """The row factory trusts rows and attaches UTC."""

    def test_naive_utc_times_become_aware_utc(self) -> None:
        """A row's naive UTC times come back as the same instants, tzinfo UTC."""
        naive = datetime(2026, 1, 15, 9, 0, 0, 123_456)
        row = (uuid.UUID(int=1), uuid.UUID(int=2), "Not Valid!", naive, naive)
        claim = claim_row(None)(row)
        assert naive.replace(tzinfo=UTC) == claim.created_at == claim.updated_at
        assert UTC is claim.created_at.tzinfo
        assert "Not Valid!" == claim.method  # rows are not validated
