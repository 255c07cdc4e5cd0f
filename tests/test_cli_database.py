"""The database commands of ``mfa-amr`` on a real server, each in a scratch schema:
``schema``, ``migrate``, ``doctor`` (a healthy table, Supabase's with its foreign key
and row level security as a superuser and as a role of its own, broken rows and
broken tables), ``claims``, ``purge``, ``revoke``, ``revoke-everywhere``,
``delete-sessions``; where the DSN comes from; errors in one line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from mfa_amr import AmrStyle, Policy
from mfa_amr._grammar import is_valid_method
from mfa_amr.cli import main
from mfa_amr.cli._doctor import SYNTAX
from mfa_amr.stores._sql import constraint_names
from mfa_amr.stores.postgres import PostgresClaimStore, schema_sql
from mfa_amr.testing import FakeClock
from strategies import METHOD_ALPHABET, noncanonical_spellings, valid_method_names

if TYPE_CHECKING:
    import psycopg

    from conftest import SupabaseTables

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SESSION = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
OTHER = uuid.UUID("0b7e4c8a-2d1f-4e3a-9b6c-5a4d3e2f1c0b")

HEALTHY = [
    ("table", "ok"),
    ("columns", "ok"),
    ("primary key", "ok"),
    ("unique", "ok"),
    ("foreign key", "ok"),
    ("grants", "ok"),
    ("row level security", "ok"),
    ("collation", "ok"),
    ("rows", "ok"),
    ("method names", "ok"),
    ("times", "ok"),
    ("pooler", "ok"),
]


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    """``main(argv)`` in-process, standard input given: (status, stdout, stderr)."""
    with pytest.MonkeyPatch.context() as patch:
        if stdin is not None:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """``main([*argv, "--json"])``: (status, the document); nothing on stderr."""
    status, out, err = run(capsys, *argv, "--json")
    assert "" == err
    return status, json.loads(out)


def one_error_line(err: str) -> str:
    """The message of stderr's one error line (without the prefix)."""
    assert 1 == err.count("\n"), err
    assert "Traceback" not in err
    assert err.startswith("mfa-amr: error: ")
    return err.removeprefix("mfa-amr: error: ").rstrip("\n")


def diagnose(
    capsys: pytest.CaptureFixture[str], dsn: str, schema: str, *argv: str
) -> tuple[int, list[tuple[str, str, str]]]:
    """``doctor --json``: (status, [(check, verdict, message), ...])."""
    status, document = run_json(
        capsys, "doctor", "--dsn", dsn, "--schema", schema, *argv
    )
    assert document["status"] == ["ok", "warning", "error"][status]
    return status, [
        (f["check"], f["verdict"], f["message"]) for f in document["findings"]
    ]


def verdicts(findings: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(check, verdict) for check, verdict, _ in findings]


def not_ok(findings: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [f for f in findings if f[1] != "ok"]


def _read(fd: int) -> bytes:
    """What a pseudo-terminal holds; b"" once its other end is closed."""
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the other end is gone
        return b""


def dead_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def target(pg_dsn: str, pg_schema: str) -> list[str]:
    """--dsn and --schema of the test's scratch schema."""
    return ["--dsn", pg_dsn, "--schema", pg_schema]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(
    pg_conn: psycopg.Connection[Any], pg_schema: str, clock: FakeClock
) -> PostgresClaimStore:
    """A store on the scratch schema's table, created, on a fake clock."""
    made = PostgresClaimStore(pg_conn, schema=pg_schema, clock=clock)
    made.create_schema()
    return made


@pytest.fixture
def role(pg_admin: psycopg.Connection[Any], pg_schema: str) -> Iterator[str]:
    """A login role of the test's own, neither superuser nor BYPASSRLS, with no
    privilege; dropped (with its grants and policies) after the test."""
    name = f"mfa_amr_test_role_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(name)
    pg_admin.execute(
        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(ident)
    )
    try:
        yield name
    finally:
        pg_admin.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        pg_admin.execute(sql.SQL("DROP ROLE {}").format(ident))


def grant(
    pg_admin: psycopg.Connection[Any],
    schema: str,
    role: str,
    privileges: str = "SELECT, INSERT, UPDATE, DELETE",
    *,
    usage: bool = True,
) -> None:
    """Give ``role`` USAGE on ``schema`` and ``privileges`` on its claims table."""
    who = sql.Identifier(role)
    if usage:
        pg_admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), who
            )
        )
    if privileges:
        pg_admin.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privileges), sql.Identifier(schema, "mfa_amr_claims"), who
            )
        )


def policy(
    pg_admin: psycopg.Connection[Any], schema: str, role: str, command: str
) -> None:
    """A permissive policy FOR ``command`` TO ``role`` letting every row through."""
    using = "" if command == "INSERT" else " USING (true)"
    check = "" if command in ("SELECT", "DELETE") else " WITH CHECK (true)"
    pg_admin.execute(
        sql.SQL("CREATE POLICY {} ON {} FOR {} TO {}" + using + check).format(
            sql.Identifier(f"cli_test_{command.lower()}"),
            sql.Identifier(schema, "mfa_amr_claims"),
            sql.SQL(command),
            sql.Identifier(role),
        )
    )


# -- schema ---------------------------------------------------------------------------


class TestSchema:
    def test_prints_the_ddl(self, capsys: pytest.CaptureFixture[str]) -> None:
        """schema prints schema_sql() of the default table, and exits 0."""
        status, out, err = run(capsys, "schema")
        assert (0, "") == (status, err)
        assert schema_sql() == out

    def test_schema_and_table(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--schema and --table name the table of the DDL."""
        _, out, _ = run(capsys, "schema", "--schema", "tenant_a", "--table", "claims")
        assert schema_sql("tenant_a", "claims") == out

    def test_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json gives the names and the script."""
        status, document = run_json(capsys, "schema", "--table", "claims")
        assert 0 == status
        assert {
            "schema": "auth",
            "table": "claims",
            "sql": schema_sql("auth", "claims"),
        } == document

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--schema", ""], "--schema must be a non-empty str"),
            (["--table", "x" * 64], "--table 'xxxx"),
        ],
    )
    def test_a_name_postgresql_would_not_keep(
        self, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
    ) -> None:
        """An empty or too long name: exit 2, one line."""
        status, out, err = run(capsys, "schema", *argv)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(message)

    def test_the_script_creates_what_doctor_accepts(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """The printed script, run by psql or a migration, makes a healthy table."""
        _, out, _ = run(capsys, "schema", "--schema", pg_schema)
        pg_admin.execute(out.encode())
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert (0, HEALTHY) == (status, verdicts(findings))


# -- migrate --------------------------------------------------------------------------


class TestMigrate:
    def test_creates_the_table_then_checks_it(
        self, capsys: pytest.CaptureFixture[str], target: list[str], pg_schema: str
    ) -> None:
        """migrate creates the table, then prints the doctor's findings: exit 0."""
        status, out, err = run(capsys, "migrate", *target)
        _, findings, _ = run(capsys, "doctor", *target)
        assert (0, "") == (status, err)
        assert f"{pg_schema}.mfa_amr_claims is in place\n{findings}" == out
        assert len(HEALTHY) == len(findings.splitlines())
        assert all(line.startswith("ok       ") for line in findings.splitlines())

    def test_is_idempotent(
        self,
        capsys: pytest.CaptureFixture[str],
        target: list[str],
        store: PostgresClaimStore,
    ) -> None:
        """On a table that exists, with claims, migrate changes nothing."""
        store.record(SESSION, "password")
        first = run(capsys, "migrate", *target)
        assert first == run(capsys, "migrate", *target)
        assert ["password"] == [c.method for c in store.claims(SESSION)]

    def test_json(
        self, capsys: pytest.CaptureFixture[str], target: list[str], pg_schema: str
    ) -> None:
        """--json gives the table migrated, every finding and the status."""
        status, document = run_json(capsys, "migrate", *target, "--table", "claims")
        assert 0 == status
        assert f"{pg_schema}.claims" == document["migrated"]
        assert "ok" == document["status"]
        assert HEALTHY == [(f["check"], f["verdict"]) for f in document["findings"]]

    def test_on_supabases_table(
        self,
        capsys: pytest.CaptureFixture[str],
        target: list[str],
        supabase_tables: SupabaseTables,
    ) -> None:
        """On Supabase's table, migrate changes nothing and sees its foreign key."""
        status, document = run_json(capsys, "migrate", *target)
        foreign = [f for f in document["findings"] if f["check"] == "foreign key"]
        assert 0 == status
        assert "mfa_amr_claims_session_id_fkey to" in foreign[0]["message"]

    def test_three_at_once(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        pg_dsn: str,
    ) -> None:
        """Three migrates of a new schema at once all succeed, ten times over."""
        statuses: list[int] = []
        names = [f"mfa_amr_test_{uuid.uuid4().hex[:16]}" for _ in range(10)]
        try:
            for name in names:
                barrier = threading.Barrier(3)

                def migrate(
                    name: str = name, barrier: threading.Barrier = barrier
                ) -> None:
                    barrier.wait()
                    statuses.append(
                        main(["migrate", "--dsn", pg_dsn, "--schema", name, "--json"])
                    )

                threads = [threading.Thread(target=migrate) for _ in range(3)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            for name in names:
                pg_admin.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(name)
                    )
                )
        capsys.readouterr()
        assert [0] * 30 == statuses


# -- doctor ---------------------------------------------------------------------------


class TestDoctorHealthy:
    def test_a_table_made_by_migrate(
        self,
        capsys: pytest.CaptureFixture[str],
        target: list[str],
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """Every check of a table migrate made is ok: exit 0."""
        run(capsys, "migrate", *target)
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert (0, HEALTHY) == (status, verdicts(findings))
        messages = {check: message for check, _, message in findings}
        assert (
            "the five columns of the seed, with their types and NOT NULL"
            == (messages["columns"])
        )
        assert "amr_id_pk on (id)" == messages["primary key"]
        assert messages["foreign key"].startswith("none to a sessions table")
        assert "off" == messages["row level security"]
        assert "0 claims (as this role sees them)" == messages["rows"]

    def test_text_is_one_aligned_line_per_finding(
        self, capsys: pytest.CaptureFixture[str], target: list[str], pg_schema: str
    ) -> None:
        """In text, each finding is a line: verdict, check, message, aligned."""
        run(capsys, "migrate", *target)
        status, out, err = run(capsys, "doctor", *target)
        assert (0, "") == (status, err)
        lines = out.splitlines()
        assert len(HEALTHY) == len(lines)
        assert (
            f"ok       table               {pg_schema}.mfa_amr_claims exists"
            == (lines[0])
        )
        assert "ok       row level security  off" == lines[6]

    def test_counts_the_claims(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """The rows finding counts the claims; well-formed ones raise nothing."""
        store.record_many([(SESSION, "password"), (SESSION, "totp"), (OTHER, "otp")])
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert (0, HEALTHY) == (status, verdicts(findings))
        assert ("rows", "ok", "3 claims (as this role sees them)") == findings[8]

    def test_a_missing_table(
        self, capsys: pytest.CaptureFixture[str], pg_dsn: str, pg_schema: str
    ) -> None:
        """No table: one error saying how to create it, exit 2."""
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert 2 == status
        assert [
            (
                "table",
                "error",
                f"{pg_schema}.mfa_amr_claims does not exist: create it with "
                "`mfa-amr migrate` (or schema_sql() in your migrations)",
            )
        ] == findings


class TestDoctorSupabase:
    """Supabase's table: the foreign key to sessions, and row level security on."""

    def test_as_the_superuser(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
    ) -> None:
        """The cascading foreign key is ok, and a superuser bypasses RLS: exit 0."""
        superuser = pg_admin.execute("SELECT current_user").fetchone()
        assert superuser is not None
        status, findings = diagnose(capsys, pg_dsn, supabase_tables.schema)
        messages = {check: message for check, _, message in findings}
        assert (0, HEALTHY) == (status, verdicts(findings))
        assert (
            f"mfa_amr_claims_session_id_fkey to {supabase_tables.schema}.sessions ON "
            "DELETE CASCADE: a session's claims go with it; record raises "
            "SessionNotFoundError for a session that does not exist"
        ) == messages["foreign key"]
        assert (
            f"on; {superuser[0]} bypasses it (a superuser)"
            == (messages["row level security"])
        )

    def test_a_role_with_grants_but_no_policy(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """Grants but no policy: an error per operation saying what it needs."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role)
        status, findings = diagnose(capsys, make_conninfo(pg_dsn, user=role), schema)
        table = f'"{schema}"."mfa_amr_claims"'
        assert 2 == status
        assert (
            "grants",
            "ok",
            f"{role} has USAGE on the schema, and SELECT, INSERT, UPDATE and DELETE "
            "on the table",
        ) in findings
        assert [
            (
                "row level security",
                "error",
                f"on, and no SELECT policy applies to {role}: claims, claims_many, "
                f'get are refused; CREATE POLICY ... ON {table} FOR SELECT TO "{role}" '
                "..., or connect as a role with BYPASSRLS",
            ),
            (
                "row level security",
                "error",
                f"on, and no INSERT policy applies to {role}: record, record_many "
                f'(insert) are refused; CREATE POLICY ... ON {table} FOR INSERT TO "{role}" '
                "..., or connect as a role with BYPASSRLS",
            ),
            (
                "row level security",
                "error",
                f"on, and no UPDATE policy applies to {role}: record, record_many "
                f'(update) are refused; CREATE POLICY ... ON {table} FOR UPDATE TO "{role}" '
                "..., or connect as a role with BYPASSRLS",
            ),
            (
                "row level security",
                "error",
                f"on, and no DELETE policy applies to {role}: revoke, "
                "revoke_everywhere, delete_sessions, purge are refused "
                f"(RevocationRefusedError); CREATE POLICY ... ON {table} FOR DELETE "
                f'TO "{role}" ..., or connect as a role with BYPASSRLS',
            ),
            (
                "rows",
                "warning",
                "not checked: this role cannot read the rows; fix its access, then "
                "run doctor again",
            ),
        ] == not_ok(findings)

    def test_a_role_with_grants_and_policies(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """Grants and a policy per command: all ok, the visible rows counted."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role)
        for command in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            policy(pg_admin, schema, role, command)
        sid = supabase_tables.new_session()
        PostgresClaimStore(pg_admin, schema=schema).record(sid, "password")
        status, findings = diagnose(capsys, make_conninfo(pg_dsn, user=role), schema)
        assert 0 == status
        assert [] == not_ok(findings)
        rls = [
            message for check, _, message in findings if check == "row level security"
        ]
        assert [
            f"on; a SELECT policy applies to {role}: claims, claims_many, get can work",
            f"on; an INSERT policy applies to {role}: record, record_many (insert) "
            "can work",
            f"on; an UPDATE policy applies to {role}: record, record_many (update) "
            "can work",
            f"on; a DELETE policy applies to {role}: revoke, revoke_everywhere, "
            "delete_sessions, purge can work",
        ] == rls
        assert ("rows", "ok", "1 claim (as this role sees them)") in findings

    def test_a_policy_for_all_commands(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """One policy FOR ALL TO PUBLIC serves every operation."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role)
        pg_admin.execute(
            sql.SQL("CREATE POLICY everyone ON {} USING (true)").format(
                sql.Identifier(schema, "mfa_amr_claims")
            )
        )
        status, findings = diagnose(capsys, make_conninfo(pg_dsn, user=role), schema)
        assert (0, []) == (status, not_ok(findings))

    def test_what_the_doctor_says_is_what_happens(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """A DELETE the doctor says RLS refuses is refused to revoke too."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role)
        policy(pg_admin, schema, role, "SELECT")
        sid = supabase_tables.new_session()
        PostgresClaimStore(pg_admin, schema=schema).record(sid, "totp")
        as_role = make_conninfo(pg_dsn, user=role)
        status, findings = diagnose(capsys, as_role, schema)
        assert 2 == status
        assert [
            ("row level security", "error", "INSERT"),
            ("row level security", "error", "UPDATE"),
            ("row level security", "error", "DELETE"),
        ] == [(c, v, m.split(" policy")[0].split()[-1]) for c, v, m in not_ok(findings)]
        status, out, err = run(
            capsys, "revoke", str(sid), "totp", "--dsn", as_role, "--schema", schema
        )
        assert (2, "") == (status, out)
        assert role in one_error_line(err)
        assert ["totp"] == [
            c.method for c in PostgresClaimStore(pg_admin, schema=schema).claims(sid)
        ]

    def test_a_role_without_grants(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """A role without privileges: an error per privilege, with its GRANT."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role, "")
        for command in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            policy(pg_admin, schema, role, command)
        status, findings = diagnose(capsys, make_conninfo(pg_dsn, user=role), schema)
        table = f'"{schema}"."mfa_amr_claims"'
        assert 2 == status
        assert [
            (
                "grants",
                "error",
                f"{role} lacks SELECT on the table: claims, claims_many, get fail; "
                f'GRANT SELECT ON {table} TO "{role}"',
            ),
            (
                "grants",
                "error",
                f"{role} lacks INSERT on the table: record, record_many (insert) fail; "
                f'GRANT INSERT ON {table} TO "{role}"',
            ),
            (
                "grants",
                "error",
                f"{role} lacks UPDATE on the table: record, record_many (update) fail; "
                f'GRANT UPDATE ON {table} TO "{role}"',
            ),
            (
                "grants",
                "error",
                f"{role} lacks DELETE on the table: revoke, revoke_everywhere, "
                f'delete_sessions, purge fail; GRANT DELETE ON {table} TO "{role}"',
            ),
            (
                "rows",
                "warning",
                "not checked: this role cannot read the rows; fix its access, then "
                "run doctor again",
            ),
        ] == not_ok(findings)

    def test_a_role_without_usage_on_the_schema(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
        role: str,
    ) -> None:
        """Table grants without USAGE on the schema are an error."""
        schema = supabase_tables.schema
        grant(pg_admin, schema, role, usage=False)
        status, findings = diagnose(capsys, make_conninfo(pg_dsn, user=role), schema)
        assert 2 == status
        assert (
            "grants",
            "error",
            f"{role} lacks USAGE on the schema {schema}: every operation fails; "
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        ) == not_ok(findings)[0]

    def test_a_foreign_key_without_cascade(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        supabase_tables: SupabaseTables,
        pg_dsn: str,
    ) -> None:
        """A foreign key that does not cascade is a warning: exit 1."""
        table = sql.Identifier(supabase_tables.schema, "mfa_amr_claims")
        pg_admin.execute(
            sql.SQL(
                "ALTER TABLE {table} DROP CONSTRAINT mfa_amr_claims_session_id_fkey, "
                "ADD CONSTRAINT mfa_amr_claims_session_id_fkey FOREIGN KEY "
                "(session_id) REFERENCES {sessions} (id)"
            ).format(
                table=table,
                sessions=sql.Identifier(supabase_tables.schema, "sessions"),
            )
        )
        status, findings = diagnose(capsys, pg_dsn, supabase_tables.schema)
        assert 1 == status
        assert [
            (
                "foreign key",
                "warning",
                "mfa_amr_claims_session_id_fkey to "
                f"{supabase_tables.schema}.sessions without ON DELETE CASCADE: "
                "deleting a session with claims fails; Supabase's key cascades",
            )
        ] == not_ok(findings)


SEED_DDL = """\
CREATE TABLE {table} (
    session_id uuid NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    authentication_method text NOT NULL,
    id uuid NOT NULL,
    CONSTRAINT amr_id_pk PRIMARY KEY (id),
    CONSTRAINT pair UNIQUE (session_id, authentication_method)
)"""


def _without(text: str, part: str) -> str:
    assert part in text
    return text.replace(part, "")


BROKEN_TABLES = {
    "no unique constraint": (
        _without(
            SEED_DDL,
            ",\n    CONSTRAINT pair UNIQUE (session_id, authentication_method)",
        ),
        2,
        [
            (
                "unique",
                "error",
                "no unique constraint on (session_id, authentication_method): every "
                "record fails (its ON CONFLICT needs one); ALTER TABLE {table} ADD "
                'CONSTRAINT "mfa_amr_claims_session_id_authentication_method_pkey" '
                "UNIQUE (session_id, authentication_method)",
            )
        ],
    ),
    "a unique index instead of a constraint": (
        _without(
            SEED_DDL,
            ",\n    CONSTRAINT pair UNIQUE (session_id, authentication_method)",
        )
        + ";\nCREATE UNIQUE INDEX pair_index ON {table} "
        "(authentication_method, session_id)",
        0,
        [],
    ),
    "the pair as primary key": (
        SEED_DDL.replace(
            "CONSTRAINT amr_id_pk PRIMARY KEY (id),\n"
            "    CONSTRAINT pair UNIQUE (session_id, authentication_method)",
            "PRIMARY KEY (session_id, authentication_method)",
        ),
        1,
        [
            (
                "primary key",
                "warning",
                "the primary key is on (session_id, authentication_method), not "
                "(id): get() looks claims up by id; the seed's key is "
                '"amr_id_pk" PRIMARY KEY (id)',
            )
        ],
    ),
    "no primary key": (
        _without(SEED_DDL, "    CONSTRAINT amr_id_pk PRIMARY KEY (id),\n"),
        2,
        [
            (
                "primary key",
                "error",
                "no primary key: get() looks claims up by id; ALTER TABLE {table} "
                'ADD CONSTRAINT "amr_id_pk" PRIMARY KEY (id)',
            )
        ],
    ),
    "a missing column": (
        _without(SEED_DDL, "    updated_at timestamp with time zone NOT NULL,\n"),
        2,
        [
            (
                "columns",
                "error",
                "column updated_at is missing: ALTER TABLE {table} ADD COLUMN "
                "updated_at timestamp with time zone NOT NULL (on a table with rows, "
                "give it a value first)",
            ),
            (
                "rows",
                "warning",
                "not checked: column updated_at is missing or of another type; fix "
                "that, then run doctor again",
            ),
        ],
    ),
    "a wrong type": (
        SEED_DDL.replace(
            "authentication_method text NOT NULL",
            "authentication_method varchar(64) NOT NULL",
        ).replace("created_at timestamp with time zone", "created_at timestamp"),
        2,
        [
            (
                "columns",
                "error",
                "column created_at is timestamp without time zone, not timestamp "
                "with time zone: the stores read and write timestamp with time zone",
            ),
            (
                "columns",
                "error",
                "column authentication_method is character varying(64), not text: "
                "the stores read and write text",
            ),
            (
                "rows",
                "warning",
                "not checked: columns authentication_method, created_at are missing "
                "or of another type; fix that, then run doctor again",
            ),
        ],
    ),
    "a nullable column": (
        SEED_DDL.replace("session_id uuid NOT NULL", "session_id uuid"),
        1,
        [
            (
                "columns",
                "warning",
                "column session_id may be NULL, unlike the seed's: ALTER TABLE "
                "{table} ALTER COLUMN session_id SET NOT NULL",
            )
        ],
    ),
    "an extra NOT NULL column without a default": (
        SEED_DDL.replace(
            "    id uuid NOT NULL,", "    id uuid NOT NULL,\n    tenant text NOT NULL,"
        ),
        2,
        [
            (
                "columns",
                "error",
                "extra column tenant is NOT NULL without a default: every record is "
                "refused; give it a default or drop its NOT NULL",
            )
        ],
    ),
    "an extra column with a default": (
        SEED_DDL.replace(
            "    id uuid NOT NULL,",
            "    id uuid NOT NULL,\n    tenant text NOT NULL DEFAULT 'main',",
        ),
        1,
        [
            (
                "columns",
                "warning",
                "extra column tenant: the stores neither read nor write it",
            )
        ],
    ),
}


class TestDoctorBroken:
    @pytest.mark.parametrize(
        ("ddl", "status", "expected"),
        list(BROKEN_TABLES.values()),
        ids=list(BROKEN_TABLES),
    )
    def test_a_broken_table(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        pg_dsn: str,
        pg_schema: str,
        ddl: str,
        status: int,
        expected: list[tuple[str, str, str]],
    ) -> None:
        """Each departure from the seed's table gives its finding and exit status."""
        table = sql.Identifier(pg_schema, "mfa_amr_claims")
        pg_admin.execute(sql.SQL(ddl).format(table=table))
        shown = table.as_string(pg_admin)
        got_status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert [
            (check, verdict, message.format(table=shown))
            for check, verdict, message in expected
        ] == not_ok(findings)
        assert status == got_status

    @pytest.fixture
    def broken_rows(
        self,
        pg_admin: psycopg.Connection[Any],
        store: PostgresClaimStore,
        pg_schema: str,
    ) -> Callable[..., None]:
        """A function inserting a row another writer could have left, straight
        into the migrated table: its method, and its times as SQL expressions."""
        insert = sql.SQL(
            "INSERT INTO {table} (id, session_id, authentication_method, created_at, "
            "updated_at) VALUES (gen_random_uuid(), gen_random_uuid(), %s, {created}, "
            "{updated})"
        )

        def add(
            method: str, created: str = "now()", updated: str | None = None
        ) -> None:
            query = insert.format(
                table=sql.Identifier(pg_schema, "mfa_amr_claims"),
                created=sql.SQL(created),
                updated=sql.SQL(updated or created),
            )
            pg_admin.execute(query, (method,))

        return add

    def test_broken_rows(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        broken_rows: Callable[..., None],
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """Bad names, future, pre-1970 and inverted times: each a finding; exit 2."""
        store.record(SESSION, "password")
        broken_rows("TOTP")
        broken_rows("sso:okta")
        broken_rows("TOTP ")
        broken_rows("carrier_pigeon")
        broken_rows("totp", "now() + interval '1 day'")
        broken_rows("otp", "now() + interval '2 days'")
        broken_rows("password", "'1969-07-20T20:17:00Z'")
        broken_rows("mfa/phone", "now()", "now() - interval '1 hour'")
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert 2 == status
        assert ("rows", "ok", "9 claims (as this role sees them)") in findings
        assert [
            (
                "method names",
                "warning",
                "3 rows with names outside the method syntax (such as 'TOTP', "
                "'TOTP ', 'sso:okta'): another writer's; read back as they are, "
                "counted for nothing",
            ),
            (
                "method names",
                "warning",
                "1 row with a name the default catalog does not know (such as "
                "'carrier_pigeon'): counted for nothing unless a policy adds it",
            ),
            (
                "times",
                "warning",
                "2 rows dated more than 60 s in the future: a writer's clock is "
                "ahead; they prove no freshness until then",
            ),
            (
                "times",
                "error",
                "1 row dated before 1970: a token cannot carry such a time; fix or "
                "delete it",
            ),
            (
                "times",
                "warning",
                "1 row with created_at after updated_at: another writer's; the "
                "stores never write that",
            ),
        ] == not_ok(findings)

    def test_warnings_only_exit_1(
        self,
        capsys: pytest.CaptureFixture[str],
        broken_rows: Callable[..., None],
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """Rows that only warn exit 1, and are told in the singular."""
        broken_rows("carrier_pigeon")
        broken_rows("totp", "now() + interval '1 day'")
        status, findings = diagnose(capsys, pg_dsn, pg_schema)
        assert 1 == status
        assert [
            (
                "method names",
                "warning",
                "1 row with a name the default catalog does not know (such as "
                "'carrier_pigeon'): counted for nothing unless a policy adds it",
            ),
            (
                "times",
                "warning",
                "1 row dated more than 60 s in the future: a writer's clock is "
                "ahead; it proves no freshness until then",
            ),
        ] == not_ok(findings)


class TestDoctorPooler:
    @pytest.fixture
    def pooler_port(self, pg_dsn: str) -> Iterator[int]:
        """A TCP relay to the server on PgBouncer's port (or Supavisor's), as a
        pooler would stand in front of it."""
        params = conninfo_to_dict(pg_dsn)
        upstream = (
            str(params.get("host", "127.0.0.1")),
            int(str(params.get("port", 5432))),
        )
        listener = socket.socket()
        for port in (6432, 6543):
            with contextlib.suppress(OSError):
                listener.bind(("127.0.0.1", port))
                break
        else:
            pytest.fail("ports 6432 and 6543 are both taken")
        listener.listen()

        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := source.recv(65536):
                    sink.sendall(data)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        def relay(client: socket.socket) -> None:
            with client, socket.create_connection(upstream) as server:
                back = threading.Thread(target=pump, args=(server, client), daemon=True)
                back.start()
                pump(client, server)
                back.join()

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    client, _ = listener.accept()
                    threading.Thread(target=relay, args=(client,), daemon=True).start()

        acceptor = threading.Thread(target=serve, daemon=True)
        acceptor.start()
        try:
            yield port
        finally:
            # shutdown wakes the blocked accept(); close alone would leave it waiting
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            acceptor.join(timeout=5)

    def test_behind_a_pooler_port(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        pg_dsn: str,
        pg_schema: str,
        pooler_port: int,
    ) -> None:
        """Through a pooler's port, doctor warns about prepared statements."""
        dsn = make_conninfo(pg_dsn, host="127.0.0.1", port=str(pooler_port))
        status, findings = diagnose(capsys, dsn, pg_schema)
        assert 1 == status
        assert [
            (
                "pooler",
                "warning",
                f"port {pooler_port} is PgBouncer's or Supavisor's: in transaction "
                "pooling mode turn psycopg's prepared statements off "
                "(prepare_threshold=None; see docs/postgres.md)",
            )
        ] == not_ok(findings)


# Names that psycopg, SQL or a careless quoting would misread: a '%' (a placeholder to
# psycopg), a double quote, spaces and capitals.
ODD_TABLES = ["Odd Name", 'a "50%" table', "%s %(before)s %%"]


class TestDoctorAdvice:
    @pytest.mark.parametrize("table", ODD_TABLES)
    def test_what_doctor_advises_doctor_accepts(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        pg_dsn: str,
        pg_schema: str,
        table: str,
    ) -> None:
        """The SQL doctor suggests for a missing primary key and unique constraint
        runs as printed, on a table of any name, and doctor then finds both ok,
        named as the stores name them; the store's upsert works."""
        keyless = _without(
            _without(SEED_DDL, "    CONSTRAINT amr_id_pk PRIMARY KEY (id),\n"),
            ",\n    CONSTRAINT pair UNIQUE (session_id, authentication_method)",
        )
        pg_admin.execute(
            sql.SQL(keyless).format(table=sql.Identifier(pg_schema, table))
        )
        status, findings = diagnose(capsys, pg_dsn, pg_schema, "--table", table)
        advised = {
            check: message[message.index("ALTER TABLE ") :]
            for check, _, message in not_ok(findings)
        }
        assert (2, ["primary key", "unique"]) == (status, sorted(advised))
        for statement in advised.values():
            pg_admin.execute(statement.encode())  # as psql runs it: no parameters
        status, findings = diagnose(capsys, pg_dsn, pg_schema, "--table", table)
        assert (0, HEALTHY) == (status, verdicts(findings))
        messages = {check: message for check, _, message in findings}
        primary_key, unique = constraint_names(table)
        assert f"{primary_key} on (id)" == messages["primary key"]
        assert messages["unique"].startswith(f"{unique} on (session_id, ")
        made = PostgresClaimStore(pg_admin, schema=pg_schema, table=table)
        made.record(SESSION, "password")
        assert ["password"] == [
            c.method for c in made.record_many([(SESSION, "password")])
        ]


def _sendable(text: str) -> bool:
    """Whether PostgreSQL's text can hold ``text``: UTF-8, no NUL."""
    return "\x00" not in text and text.encode(errors="replace") == text.encode(
        errors="surrogatepass"
    )


_ASCII = st.characters(max_codepoint=0x7F)
_ANY = st.characters(codec="utf-8")
# Mostly ASCII, near the syntax and its length bound; some Unicode.
method_like = st.one_of(
    valid_method_names,
    st.text(METHOD_ALPHABET, min_size=60, max_size=70),
    st.text(st.sampled_from(METHOD_ALPHABET + "AZ \t\n:@%$^\\"), max_size=70),
    st.text(_ASCII, max_size=70),
    noncanonical_spellings(),
    st.text(_ANY, max_size=8),
).filter(_sendable)


class TestDoctorSyntax:
    @settings(max_examples=300, deadline=None)
    @given(method_like)
    @example("")
    @example("totp\n")
    @example("\ntotp")
    @example("a" * 64)
    @example("a" * 65)
    @example("mfa/webauthn")
    @example("x-y_z.1")
    @example("TOTP")
    @example("[a]")
    def test_the_sql_regex_is_the_method_syntax(
        self, pg_admin: psycopg.Connection[Any], name: str
    ) -> None:
        """PostgreSQL's ~ with the doctor's regex accepts exactly the names
        is_valid_method accepts."""
        row = pg_admin.execute("SELECT %s ~ %s", (name, SYNTAX)).fetchone()
        assert row is not None
        assert is_valid_method(name) == row[0]


# -- claims ---------------------------------------------------------------------------


@pytest.fixture
def stepped_up(store: PostgresClaimStore, clock: FakeClock) -> PostgresClaimStore:
    """SESSION signed in with a password at T0 and stepped up with TOTP 40 s later."""
    store.record(SESSION, "password")
    clock.advance(timedelta(seconds=40))
    store.record(SESSION, "totp")
    return store


class TestClaims:
    def test_text(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """claims prints the table, the levels and both styles' token claims."""
        status, out, err = run(
            capsys, "claims", str(SESSION), *target, "--now", "2026-11-26T09:01:00Z"
        )
        assert (0, "") == (status, err)
        assert (
            "session 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b, supabase policy, at "
            "2026-11-26T09:01:00Z\n"
            "  method    created_at            updated_at\n"
            "  --------  --------------------  --------------------\n"
            "  totp      2026-11-26T09:00:40Z  2026-11-26T09:00:40Z\n"
            "  password  2026-11-26T09:00:00Z  2026-11-26T09:00:00Z\n"
            "level: aal2\n"
            "next level, once the user has a verified MFA factor: aal2\n"
            'token claims, supabase style: {"aal": "aal2", "amr": [{"method": '
            '"totp", "timestamp": 1795683640}, {"method": "password", "timestamp": '
            '1795683600}], "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}\n'
            'token claims, rfc8176 style: {"aal": "aal2", "amr": ["otp", "pwd", '
            '"mfa"], "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "acr": '
            '"aal2", "auth_time": 1795683640}\n'
        ) == out

    def test_json_is_what_the_policy_gives(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """claims --json gives the stored claims and what the policy makes of them."""
        later = T0 + timedelta(hours=13)
        status, document = run_json(
            capsys,
            "claims",
            str(SESSION),
            *target,
            "--policy",
            "nist",
            "--now",
            later.isoformat(),
        )
        held = stepped_up.claims(SESSION)
        nist = Policy.nist()
        assert 0 == status
        assert {
            "session_id": str(SESSION),
            "policy": "nist",
            "now": "2026-11-26T22:00:00Z",
            "claims": [
                {
                    "id": str(c.id),
                    "method": c.method,
                    "created_at": c.created_at.isoformat().replace("+00:00", "Z"),
                    "updated_at": c.updated_at.isoformat().replace("+00:00", "Z"),
                }
                for c in held
            ],
            "aal": "aal1",
            "next_aal_with_a_verified_factor": "aal2",
            "token_claims": {
                style.value: nist.token_claims(SESSION, held, style=style, now=later)
                for style in AmrStyle
            },
        } == document

    def test_a_session_without_claims(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """A session with no claims: an empty table, aal1, no amr."""
        status, out, _ = run(capsys, "claims", str(OTHER), *target, "--now", "0")
        assert 0 == status
        assert "  (none)\nlevel: aal1\n" in out
        assert (
            'token claims, supabase style: {"aal": "aal1", "session_id": '
            f'"{OTHER}"}}\n'
        ) in out

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["not-a-session"], "SESSION_ID must be a UUID or its string form"),
            ([str(SESSION), "--now", "soon"], "--now must be Unix seconds"),
            ([str(SESSION), "--table", "nope"], 'the claims table "'),
        ],
    )
    def test_errors(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        target: list[str],
        argv: list[str],
        message: str,
    ) -> None:
        """A bad session id, a bad --now, a missing table: exit 2, one line."""
        status, out, err = run(capsys, "claims", *target, *argv)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(message)

    @pytest.mark.parametrize(
        ("policy", "after", "aal"),
        [
            ("supabase", timedelta(minutes=1), "aal2"),
            ("nist", timedelta(minutes=1), "aal2"),
            ("supabase", timedelta(hours=13), "aal2"),
            ("nist", timedelta(hours=13), "aal1"),
        ],
    )
    def test_explain_reads_back_the_level(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
        policy: str,
        after: timedelta,
        aal: str,
    ) -> None:
        """The token claims claims --json gives, in either style, read by explain
        under the same policy at the same instant, claim and prove its level."""
        judged = ["--policy", policy, "--now", (T0 + after).isoformat()]
        _, document = run_json(capsys, "claims", str(SESSION), *target, *judged)
        assert aal == document["aal"]
        for style, claims in document["token_claims"].items():
            status, read = run_json(capsys, "explain", json.dumps(claims), *judged)
            assert (0, style) == (status, read["amr"]["style"])
            assert (aal, aal, aal) == (
                read["claimed"],
                read["computed"],
                read["effective"],
            )


# -- purge ----------------------------------------------------------------------------


class TestPurge:
    @pytest.fixture
    def aged(self, store: PostgresClaimStore, clock: FakeClock) -> PostgresClaimStore:
        """SESSION idle since T0 (two claims), OTHER active again 30 days later,
        a third session recorded 60 days later."""
        store.record_many(
            [(SESSION, "password"), (SESSION, "totp"), (OTHER, "password")]
        )
        clock.advance(timedelta(days=30))
        store.record(OTHER, "totp")
        clock.advance(timedelta(days=30))
        store.record(uuid.uuid4(), "password")
        return store

    def test_dry_run_agrees_with_the_purge(
        self,
        capsys: pytest.CaptureFixture[str],
        aged: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """--dry-run counts exactly what purge then removes, removing nothing."""
        before = ["--before", "2026-12-10"]
        status, dry = run_json(capsys, "purge", *target, *before, "--dry-run")
        assert (0, True) == (status, dry["dry_run"])
        assert 2 == len(aged.claims(SESSION))
        status, done = run_json(capsys, "purge", *target, *before)
        assert (0, False) == (status, done["dry_run"])
        assert (2, 2) == (dry["claims"], done["claims"])
        assert "2026-12-10T00:00:00Z" == done["before"]
        assert ([], 2) == (aged.claims(SESSION), len(aged.claims(OTHER)))
        _, again = run_json(capsys, "purge", *target, *before, "--dry-run")
        assert 0 == again["claims"]

    @pytest.mark.parametrize("cutoff", ["2026-11-01", "2027-01-01", "2027-02-01"])
    def test_agreement_at_each_cutoff(
        self,
        capsys: pytest.CaptureFixture[str],
        aged: PostgresClaimStore,
        target: list[str],
        cutoff: str,
    ) -> None:
        """The dry run and the purge agree at cutoffs before, among and after."""
        _, dry = run_json(capsys, "purge", *target, "--before", cutoff, "--dry-run")
        _, done = run_json(capsys, "purge", *target, "--before", cutoff)
        assert dry["claims"] == done["claims"]

    def test_text(
        self,
        capsys: pytest.CaptureFixture[str],
        aged: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """The text says what would go, then what went."""
        _, dry, _ = run(capsys, "purge", *target, "--before", "2026-12-10", "--dry-run")
        _, done, _ = run(capsys, "purge", *target, "--before", "2026-12-10")
        assert (
            "2 claims of sessions idle since before 2026-12-10T00:00:00Z would be "
            "purged (dry run: nothing removed)\n"
        ) == dry
        assert (
            "purged 2 claims of sessions idle since before 2026-12-10T00:00:00Z\n"
        ) == done

    def test_batches_and_a_progress_line_on_a_terminal(
        self, pg_dsn: str, pg_schema: str, store: PostgresClaimStore
    ) -> None:
        """On a terminal, purge counts the claims removed as its batches go (one
        line rewritten), then prints the total; --batch-size sets the batches."""
        store.record_many([(uuid.uuid4(), "password") for _ in range(7)])
        command = [sys.executable, "-m", "mfa_amr", "purge", "--dsn", pg_dsn]
        command += ["--schema", pg_schema, "--before", "2027-01-01"]
        controller, terminal = pty.openpty()
        try:
            done = subprocess.run(
                [*command, "--batch-size", "3"],
                stdout=terminal,
                stderr=subprocess.PIPE,
                check=False,
                timeout=60,
            )
            os.close(terminal)
            terminal = -1
            shown = b""
            while chunk := _read(controller):
                shown += chunk
        finally:
            os.close(controller)
            if terminal != -1:
                os.close(terminal)
        assert (0, b"") == (done.returncode, done.stderr)
        progress, total, _ = shown.decode().replace("\r\n", "\n").split("\n")
        assert [
            "",
            "purging: 3 claims so far",
            "purging: 6 claims so far",
            "purging: 7 claims so far",
        ] == progress.split("\r")
        assert "purged 7 claims of sessions idle since before 2027-01-01T00:00:00Z" == (
            total
        )

    def test_no_progress_line_in_a_pipe(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """Off a terminal (a pipe, a log) only the total is printed."""
        store.record_many([(uuid.uuid4(), "password") for _ in range(4)])
        _, out, _ = run(
            capsys, "purge", *target, "--before", "2027-01-01", "--batch-size", "1"
        )
        assert (
            "purged 4 claims of sessions idle since before 2027-01-01T00:00:00Z\n"
            == out
        )

    @pytest.mark.parametrize("size", ["0", "-1", "many"])
    def test_a_bad_batch_size(
        self, capsys: pytest.CaptureFixture[str], target: list[str], size: str
    ) -> None:
        """A batch size that is not a positive whole number is refused in one line."""
        status, _, err = run(
            capsys, "purge", *target, "--before", "1d", "--batch-size", size
        )
        assert 2 == status
        assert "batch" in err.splitlines()[-1]

    @pytest.mark.parametrize(
        ("span", "ago", "claims"),
        [
            ("7d", timedelta(days=7), 1),
            ("12h", timedelta(hours=12), 2),
            ("30m", timedelta(minutes=30), 2),
            ("20d", timedelta(days=20), 0),
        ],
    )
    def test_a_span_ago(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_conn: psycopg.Connection[Any],
        pg_schema: str,
        target: list[str],
        span: str,
        ago: timedelta,
        claims: int,
    ) -> None:
        """--before as a span (7d, 12h, 30m) is that long before now."""
        real = PostgresClaimStore(pg_conn, schema=pg_schema)  # the real clock
        real.create_schema()
        now = datetime.now(UTC)
        real.record(SESSION, "password", at=now - timedelta(days=10))
        real.record(OTHER, "password", at=now - timedelta(days=1))
        real.record(uuid.uuid4(), "password")
        _, document = run_json(capsys, "purge", *target, "--before", span, "--dry-run")
        cutoff = datetime.fromisoformat(document["before"])
        assert 0 == cutoff.microsecond
        assert ago - timedelta(seconds=5) <= now - cutoff <= ago + timedelta(seconds=5)
        assert claims == document["claims"]

    @pytest.mark.parametrize(
        ("before", "message"),
        [
            (
                "last week",
                "--before must be Unix seconds, an ISO 8601 date or datetime",
            ),
            (
                "2026-13-01",
                "--before must be Unix seconds, an ISO 8601 date or datetime",
            ),
            ("90y", "--before must be Unix seconds, an ISO 8601 date or datetime"),
            ("1969-12-31", "--before must lie between 1970-01-01T00:00:00Z and"),
            ("999999d", "--before must lie between 1970-01-01T00:00:00Z and"),
            ("99999999999999", "--before must lie between 1970-01-01T00:00:00Z and"),
        ],
    )
    def test_a_bad_before(
        self,
        capsys: pytest.CaptureFixture[str],
        target: list[str],
        before: str,
        message: str,
    ) -> None:
        """An unusable --before: exit 2, one line, before any connection."""
        dead = ["--dsn", f"host=127.0.0.1 port={dead_port()}"]
        status, out, err = run(capsys, "purge", *dead, "--before", before)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(message)


# -- revoke, revoke-everywhere, delete-sessions ---------------------------------------


class TestRevoke:
    def test_removes_the_claim(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """revoke removes the claim and says so; again, it says nothing went."""
        status, out, err = run(capsys, "revoke", str(SESSION), "totp", *target)
        assert (0, "") == (status, err)
        assert f"removed the 'totp' claim of session {SESSION}\n" == out
        assert ["password"] == [c.method for c in stepped_up.claims(SESSION)]
        _, out, _ = run(capsys, "revoke", str(SESSION), "totp", *target)
        assert f"session {SESSION} has no 'totp' claim: nothing removed\n" == out

    def test_json(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """--json: the session, the method and how many claims went (1, then 0)."""
        argv = ["revoke", str(SESSION).upper(), "password", *target]
        first = run_json(capsys, *argv)
        second = run_json(capsys, *argv)
        assert (
            0,
            {"session_id": str(SESSION), "method": "password", "removed": 1},
        ) == (first)
        assert 0 == second[1]["removed"]

    def test_a_name_outside_the_syntax(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        pg_admin: psycopg.Connection[Any],
        pg_schema: str,
        target: list[str],
    ) -> None:
        """A name another writer stored outside the syntax can be revoked."""
        pg_admin.execute(
            sql.SQL(
                "INSERT INTO {} VALUES (%s, now(), now(), 'TOTP', gen_random_uuid())"
            ).format(sql.Identifier(pg_schema, "mfa_amr_claims")),
            (SESSION,),
        )
        _, document = run_json(capsys, "revoke", str(SESSION), "TOTP", *target)
        assert 1 == document["removed"]

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["nope", "totp"], "SESSION_ID must be a UUID or its string form"),
            ([str(SESSION), ""], "the method name to revoke is empty"),
        ],
    )
    def test_errors(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        target: list[str],
        argv: list[str],
        message: str,
    ) -> None:
        """A bad session id or an empty method: exit 2, one line."""
        status, out, err = run(capsys, "revoke", *argv, *target)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(message)


class TestRevokeEverywhere:
    @pytest.fixture
    def three(self, store: PostgresClaimStore) -> list[uuid.UUID]:
        """Three sessions with password and totp claims."""
        sids = [uuid.uuid4() for _ in range(3)]
        store.record_many([(s, m) for s in sids for m in ("password", "totp")])
        return sids

    def test_from_a_file(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        three: list[uuid.UUID],
        target: list[str],
        tmp_path: Path,
    ) -> None:
        """Sessions listed in a file (blank lines, # comments skipped) lose it."""
        listed = tmp_path / "sessions.txt"
        listed.write_text(
            f"# sessions of user 42\n\n{three[0]}\n   \n  # {three[2]}\n  {three[1]}  \n",
            encoding="utf-8",
        )
        status, out, err = run(
            capsys, "revoke-everywhere", "totp", "--sessions-from", str(listed), *target
        )
        assert (0, "") == (status, err)
        assert "removed 2 claims for 'totp' across the 2 sessions listed\n" == out
        assert [["password"], ["password"], ["password", "totp"]] == [
            sorted(c.method for c in store.claims(s)) for s in three
        ]

    def test_from_standard_input(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        three: list[uuid.UUID],
        target: list[str],
    ) -> None:
        """--sessions-from - reads standard input; --json gives the counts."""
        status, out, err = run(
            capsys,
            "revoke-everywhere",
            "password",
            "--sessions-from",
            "-",
            *target,
            "--json",
            stdin="".join(f"{s}\n" for s in [*three, three[0]]),
        )
        assert (0, "") == (status, err)
        assert {"method": "password", "sessions": 3, "removed": 3} == json.loads(out)
        assert [["totp"]] * 3 == [[c.method for c in store.claims(s)] for s in three]

    def test_one_session_in_the_singular(
        self,
        capsys: pytest.CaptureFixture[str],
        three: list[uuid.UUID],
        target: list[str],
    ) -> None:
        """One claim from one session is said in the singular."""
        _, out, _ = run(
            capsys,
            "revoke-everywhere",
            "totp",
            "--sessions-from",
            "-",
            *target,
            stdin=f"{three[0]}\n",
        )
        assert "removed 1 claim for 'totp' across the 1 session listed\n" == out

    def test_an_empty_list_warns(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """A list with no session id removes nothing and warns."""
        status, out, err = run(
            capsys,
            "revoke-everywhere",
            "totp",
            "--sessions-from",
            "-",
            *target,
            stdin="# nothing\n\n",
        )
        assert 0 == status
        assert "removed 0 claims for 'totp' across the 0 sessions listed\n" == out
        assert "mfa-amr: warning: standard input lists no session id\n" == err

    def test_a_bad_line_names_its_number(
        self,
        capsys: pytest.CaptureFixture[str],
        store: PostgresClaimStore,
        three: list[uuid.UUID],
        target: list[str],
        tmp_path: Path,
    ) -> None:
        """A line that is no session id: exit 2, naming the file and line."""
        listed = tmp_path / "sessions.txt"
        listed.write_text(f"{three[0]}\n# ok\nuser-42\n", encoding="utf-8")
        status, out, err = run(
            capsys, "revoke-everywhere", "totp", "--sessions-from", str(listed), *target
        )
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(
            f"line 3 of {listed} must be a UUID or its string form"
        )
        assert 2 == len(store.claims(three[0]))

    @pytest.mark.parametrize(
        ("content", "message"),
        [(None, "No such file or directory"), (b"\xff\xfe", "not UTF-8 text")],
    )
    def test_an_unreadable_file(
        self,
        capsys: pytest.CaptureFixture[str],
        target: list[str],
        tmp_path: Path,
        content: bytes | None,
        message: str,
    ) -> None:
        """A missing or binary file: exit 2, one line naming it."""
        listed = tmp_path / "sessions.txt"
        if content is not None:
            listed.write_bytes(content)
        status, out, err = run(
            capsys, "revoke-everywhere", "totp", "--sessions-from", str(listed), *target
        )
        assert (2, "") == (status, out)
        error = one_error_line(err)
        assert error.startswith(f"cannot read {listed}: ")
        assert message in error


class TestDeleteSessions:
    def test_removes_every_claim_of_the_sessions(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """Every claim of the sessions given goes, each session counted once."""
        stepped_up.record(OTHER, "password")
        kept = uuid.uuid4()
        stepped_up.record(kept, "password")
        status, out, err = run(
            capsys, "delete-sessions", str(SESSION), str(OTHER), str(SESSION), *target
        )
        assert (0, "") == (status, err)
        assert "removed 3 claims of the 2 sessions given\n" == out
        assert ([], [], 1) == (
            stepped_up.claims(SESSION),
            stepped_up.claims(OTHER),
            len(stepped_up.claims(kept)),
        )

    def test_json(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """--json: the sessions given and the claims removed."""
        status, document = run_json(capsys, "delete-sessions", str(SESSION), *target)
        assert (0, {"sessions": 1, "removed": 2}) == (status, document)

    def test_a_bad_session_id(
        self,
        capsys: pytest.CaptureFixture[str],
        stepped_up: PostgresClaimStore,
        target: list[str],
    ) -> None:
        """A bad id among good ones: exit 2, one line, nothing removed."""
        status, out, err = run(capsys, "delete-sessions", str(SESSION), "42", *target)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith("SESSION_ID must be a UUID")
        assert 2 == len(stepped_up.claims(SESSION))


# -- every database command -----------------------------------------------------------


COMMANDS: dict[str, list[str]] = {
    "migrate": [],
    "doctor": [],
    "claims": [str(SESSION)],
    "purge": ["--before", "2000-01-01", "--dry-run"],
    "revoke": [str(SESSION), "webauthn"],
    "revoke-everywhere": ["webauthn", "--sessions-from", "-"],
    "delete-sessions": [str(OTHER)],
}


class TestEveryCommand:
    @pytest.mark.parametrize(
        ("command", "argv"), list(COMMANDS.items()), ids=list(COMMANDS)
    )
    def test_schema_and_table(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_conn: psycopg.Connection[Any],
        pg_dsn: str,
        pg_schema: str,
        command: str,
        argv: list[str],
    ) -> None:
        """Each command acts on the --schema/--table named, with --json."""
        custom = PostgresClaimStore(pg_conn, schema=pg_schema, table="tenant_claims")
        custom.create_schema()
        custom.record(SESSION, "password")
        where = ["--dsn", pg_dsn, "--schema", pg_schema, "--table", "tenant_claims"]
        status, out, err = run(
            capsys, command, *argv, *where, "--json", stdin=f"{SESSION}\n"
        )
        assert (0, "") == (status, err)
        assert isinstance(json.loads(out), dict)
        assert ["password"] == [c.method for c in custom.claims(SESSION)]
        status, _ = run_json(capsys, "doctor", "--dsn", pg_dsn, "--schema", pg_schema)
        assert 2 == status  # the default table was never created

    @pytest.mark.parametrize(
        ("command", "argv"), list(COMMANDS.items()), ids=list(COMMANDS)
    )
    def test_an_unreachable_server(
        self, capsys: pytest.CaptureFixture[str], command: str, argv: list[str]
    ) -> None:
        """A server nothing answers for: exit 2, one line naming it."""
        port = dead_port()
        status, out, err = run(
            capsys,
            command,
            *argv,
            "--dsn",
            f"host=127.0.0.1 port={port} dbname=x",
            stdin=f"{SESSION}\n",
        )
        assert (2, "") == (status, out)
        error = one_error_line(err)
        assert error.startswith("cannot connect to PostgreSQL: ")
        assert f"port {port} failed" in error

    def test_a_malformed_dsn(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A DSN libpq cannot parse: exit 2, one line with libpq's reason."""
        status, out, err = run(capsys, "doctor", "--dsn", "not a dsn")
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith("cannot connect to PostgreSQL: ")

    def test_a_refused_role(
        self, capsys: pytest.CaptureFixture[str], pg_dsn: str
    ) -> None:
        """A role the server refuses: exit 2 in one line with its reason."""
        dsn = make_conninfo(pg_dsn, user=f"nobody_{uuid.uuid4().hex[:8]}")
        status, out, err = run(capsys, "doctor", "--dsn", dsn)
        assert (2, "") == (status, out)
        assert "does not exist" in one_error_line(err)


class TestOddNames:
    """A schema and a table named with '%', quotes and spaces, which psycopg must
    not read as placeholders."""

    @pytest.fixture
    def odd(
        self, pg_admin: psycopg.Connection[Any], pg_dsn: str
    ) -> Iterator[list[str]]:
        """--dsn, --schema and --table of a schema and table of odd names (neither
        created); the schema is dropped after the test."""
        schema = f'mfa_amr_test_{uuid.uuid4().hex[:12]} 100% "odd"'
        try:
            yield ["--dsn", pg_dsn, "--schema", schema, "--table", 'a "50%" table']
        finally:
            pg_admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)
                )
            )

    @pytest.fixture
    def odd_store(
        self, capsys: pytest.CaptureFixture[str], odd: list[str], clock: FakeClock
    ) -> Iterator[PostgresClaimStore]:
        """A store on the odd table, made by migrate, on a fake clock."""
        status, _ = run_json(capsys, "migrate", *odd)
        assert 0 == status
        with PostgresClaimStore.connect(
            odd[1], schema=odd[3], table=odd[5], clock=clock
        ) as made:
            yield made

    def test_migrate_and_doctor(
        self, capsys: pytest.CaptureFixture[str], odd: list[str]
    ) -> None:
        """migrate creates the odd table and finds it healthy, as doctor does."""
        status, out, err = run(capsys, "migrate", *odd)
        assert (0, "") == (status, err)
        assert out.startswith(f"{odd[3]}.{odd[5]} is in place\n")
        status, document = run_json(capsys, "doctor", *odd)
        assert 0 == status
        assert HEALTHY == [(f["check"], f["verdict"]) for f in document["findings"]]
        assert f"{odd[3]}.{odd[5]}" == document["table"]

    def test_doctor_reads_the_rows(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        odd: list[str],
        odd_store: PostgresClaimStore,
    ) -> None:
        """doctor counts the odd table's rows and names its bad ones."""
        odd_store.record(SESSION, "password")
        pg_admin.execute(  # no parameters: the '%' of the names stays as it is
            sql.SQL(
                "INSERT INTO {} VALUES (gen_random_uuid(), now(), now(), {}, "
                "gen_random_uuid())"
            ).format(sql.Identifier(odd[3], odd[5]), sql.Literal("TOTP"))
        )
        status, document = run_json(capsys, "doctor", *odd)
        findings = [
            (f["check"], f["verdict"], f["message"]) for f in document["findings"]
        ]
        assert 1 == status
        assert ("rows", "ok", "2 claims (as this role sees them)") in findings
        assert [
            (
                "method names",
                "warning",
                "1 row with a name outside the method syntax (such as 'TOTP'): "
                "another writer's; read back as it is, counted for nothing",
            )
        ] == not_ok(findings)

    def test_a_dry_run_agrees_with_the_purge(
        self,
        capsys: pytest.CaptureFixture[str],
        odd: list[str],
        odd_store: PostgresClaimStore,
        clock: FakeClock,
    ) -> None:
        """On the odd table, --dry-run counts what purge then removes."""
        odd_store.record_many([(SESSION, "password"), (SESSION, "totp")])
        clock.advance(timedelta(days=30))
        odd_store.record(OTHER, "password")
        before = ["--before", (T0 + timedelta(days=1)).isoformat()]
        status, dry = run_json(capsys, "purge", *odd, *before, "--dry-run")
        assert (0, 2) == (status, dry["claims"])
        assert 2 == len(odd_store.claims(SESSION))
        status, done = run_json(capsys, "purge", *odd, *before)
        assert (0, 2) == (status, done["claims"])
        assert ([], 1) == (odd_store.claims(SESSION), len(odd_store.claims(OTHER)))

    def test_a_dry_run_of_a_missing_table_fails_as_the_purge_does(
        self,
        capsys: pytest.CaptureFixture[str],
        pg_admin: psycopg.Connection[Any],
        odd: list[str],
    ) -> None:
        """Without the table, --dry-run and purge fail with the store's one line,
        naming the table; only what each was doing differs."""
        _, out, dry = run(capsys, "purge", *odd, "--before", "1d", "--dry-run")
        assert "" == out
        _, out, real = run(capsys, "purge", *odd, "--before", "1d")
        assert "" == out
        shown = sql.Identifier(odd[3], odd[5]).as_string(pg_admin)
        assert one_error_line(dry).startswith(
            f"the claims table {shown} does not exist"
        )
        assert one_error_line(real) == one_error_line(dry).replace(
            "while counting the claims a purge would remove",
            "while purging old claims",
        )


class TestWhereTheDsnComesFrom:
    @pytest.fixture
    def env(self, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
        """No MFA_AMR_DSN and no libpq variables to begin with."""
        for name in (
            "MFA_AMR_DSN",
            "PGHOST",
            "PGPORT",
            "PGDATABASE",
            "PGUSER",
            "PGPASSWORD",
            "PGSERVICE",
            "PGCONNECT_TIMEOUT",
        ):
            monkeypatch.delenv(name, raising=False)
        return monkeypatch

    def dead(self) -> str:
        return f"host=127.0.0.1 port={dead_port()} dbname=test"

    def test_dsn_wins_over_the_environment(
        self,
        capsys: pytest.CaptureFixture[str],
        env: pytest.MonkeyPatch,
        store: PostgresClaimStore,
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """--dsn is used even when MFA_AMR_DSN names another server."""
        env.setenv("MFA_AMR_DSN", self.dead())
        status, _ = run_json(capsys, "doctor", "--dsn", pg_dsn, "--schema", pg_schema)
        assert 0 == status

    def test_mfa_amr_dsn(
        self,
        capsys: pytest.CaptureFixture[str],
        env: pytest.MonkeyPatch,
        store: PostgresClaimStore,
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """Without --dsn, MFA_AMR_DSN is used, over libpq's own variables."""
        port = conninfo_to_dict(pg_dsn).get("port") or 5432
        env.setenv("MFA_AMR_DSN", make_conninfo(pg_dsn, port=str(port)))
        env.setenv("PGPORT", str(dead_port()))
        status, _ = run_json(capsys, "doctor", "--schema", pg_schema)
        assert 0 == status
        env.setenv("MFA_AMR_DSN", self.dead())
        status, out, err = run(capsys, "doctor", "--schema", pg_schema)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith("cannot connect to PostgreSQL")

    def test_libpq_environment(
        self,
        capsys: pytest.CaptureFixture[str],
        env: pytest.MonkeyPatch,
        store: PostgresClaimStore,
        pg_dsn: str,
        pg_schema: str,
    ) -> None:
        """Without --dsn or MFA_AMR_DSN, libpq's PG* variables say where."""
        params = conninfo_to_dict(pg_dsn)
        for key, name in (
            ("host", "PGHOST"),
            ("port", "PGPORT"),
            ("dbname", "PGDATABASE"),
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
        ):
            if key in params:
                env.setenv(name, str(params[key]))
        status, document = run_json(capsys, "doctor", "--schema", pg_schema)
        assert 0 == status
        assert f"{pg_schema}.mfa_amr_claims" == document["table"]
        port = dead_port()
        env.setenv("PGPORT", str(port))
        status, out, err = run(capsys, "doctor", "--schema", pg_schema)
        assert (2, "") == (status, out)
        assert f"port {port} failed" in one_error_line(err)


class TestConsoleScript:
    def test_doctor_through_the_script(
        self, store: PostgresClaimStore, pg_dsn: str, pg_schema: str
    ) -> None:
        """Through the script: doctor exits 0 when healthy, 2 when unreachable."""
        script = Path(sys.executable).with_name("mfa-amr")
        assert script.exists(), f"no console script next to {sys.executable}"
        runs = {
            "healthy": ["doctor", "--dsn", pg_dsn, "--schema", pg_schema],
            "unreachable": ["doctor", "--dsn", f"host=127.0.0.1 port={dead_port()}"],
        }
        started = {
            name: subprocess.Popen(
                [str(script), *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, argv in runs.items()
        }
        done = {name: p.communicate(timeout=60) for name, p in started.items()}
        assert {"healthy": 0, "unreachable": 2} == {
            name: p.returncode for name, p in started.items()
        }
        out, err = done["healthy"]
        assert ("", len(HEALTHY)) == (err, len(out.splitlines()))
        out, err = done["unreachable"]
        assert "" == out
        assert one_error_line(err).startswith("cannot connect to PostgreSQL: ")
