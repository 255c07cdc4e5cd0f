"""Shared test configuration: Hypothesis profiles, the PostgreSQL server, and the
examples in the docs (README.md, docs/*.md and the docstrings of src/mfa_amr), which
Sybil collects as tests.

It lives at the root so that the examples under README.md and docs/ see the same
fixtures as tests/.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import pytest
from hypothesis import HealthCheck, settings
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator, pad
from sybil.integration.pytest import SybilItem
from sybil.parsers.abstract import DocTestStringParser
from sybil.parsers.markdown.lexers import (
    DirectiveInHTMLCommentLexer,
    FencedCodeBlockLexer,
)
from sybil.parsers.rest import DocTestParser
from sybil.sybil import SybilCollection

if TYPE_CHECKING:
    import psycopg
    from sybil.typing import Evaluator

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


@contextlib.contextmanager
def _new_database(
    pg_admin: psycopg.Connection[Any], pg_dsn: str
) -> Iterator[tuple[str, str]]:
    """(name, DSN) of a new, empty database, dropped (with its connections) at the
    end."""
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
        yield name, make_conninfo(pg_dsn, dbname=name)
    finally:
        pg_admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))


@pytest.fixture
def scratch_database(pg_admin: psycopg.Connection[Any], pg_dsn: str) -> Iterator[str]:
    """The DSN of a new, empty database, dropped afterwards: for code that creates
    auth.mfa_amr_claims, which must not touch the test database's."""
    with _new_database(pg_admin, pg_dsn) as (_, dsn):
        yield dsn


@pytest.fixture(scope="module")
def docs_database_url(pg_admin: psycopg.Connection[Any], pg_dsn: str) -> Iterator[str]:
    """For a page whose examples need PostgreSQL (to Sybil, a page is a module): a
    new, empty database whose DSN is also in DATABASE_URL, where the examples read
    it; dropped after the page, which must have closed every connection it opened."""
    with (
        _new_database(pg_admin, pg_dsn) as (name, dsn),
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("DATABASE_URL", dsn)
        yield dsn
        _no_connections_left(pg_admin, name)


def _no_connections_left(pg_admin: psycopg.Connection[Any], name: str) -> None:
    """Fail unless no session is connected to database `name`. A backend ends a
    moment after its client closes, hence the short wait."""
    count = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
    deadline = time.monotonic() + 5
    while True:
        row = pg_admin.execute(count, (name,)).fetchone()
        left = row[0] if row else 0
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the examples left {left} connection(s) open to {name}")
        time.sleep(0.05)


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


# -- A server of the tests' own -------------------------------------------------------
# The fault tests (marker `faults`) restart, stop and kill -9 a PostgreSQL server,
# which the shared one must never be: they start one of their own, initdb'ed into a
# temporary directory, on a free port and a socket directory of its own, as the OS
# user `postgres` when the tests run as root (PostgreSQL refuses to run as root).
# Without the server binaries they skip, unless MFA_AMR_REQUIRE_POSTGRES=1.

OWN_SERVER_PASSWORD = "mfa-amr-own-server"


def _server_bindir() -> Path | None:
    """The directory of initdb, pg_ctl and postgres: $MFA_AMR_PG_BINDIR, else
    pg_config's, else the newest /usr/lib/postgresql/*/bin, else PATH's."""
    names = ("initdb", "pg_ctl", "postgres")
    candidates: list[Path] = []
    if os.environ.get("MFA_AMR_PG_BINDIR"):
        candidates.append(Path(os.environ["MFA_AMR_PG_BINDIR"]))
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        )
        candidates.append(Path(out.stdout.strip()))
    candidates.extend(
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in names):
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class OwnServer:
    """A PostgreSQL server the tests start, break and stop: initdb'ed with TCP
    connections on 127.0.0.1 under scram-sha-256 (the password is
    ``OWN_SERVER_PASSWORD``) and trust on its own socket directory.

    ``fsync`` is off (a faster start; a killed server's writes are still in the
    operating system's cache, so crash recovery finds every commit), and
    ``synchronous_commit`` on: a commit that returned is in the WAL.
    """

    def __init__(self, bindir: Path, root: Path, run_as: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = _free_port()
        self._run_as = run_as

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self._run_as, *args], capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(
                f"{' '.join(args)} failed ({done.returncode}): {done.stderr}\n{log}"
            )
        return done

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", *args)

    def init(self) -> None:
        """initdb, then start, then set the password TCP connections need."""
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = " ".join(
            (
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c max_connections=60",
                "-c shared_buffers=16MB",
            )
        )
        self._pg_ctl("-l", str(self.log), "-o", options, "start")
        self.execute(f"ALTER ROLE postgres PASSWORD '{OWN_SERVER_PASSWORD}'")

    def execute(self, statement: str) -> None:
        """Run one statement as postgres over the socket (trust)."""
        import psycopg

        with psycopg.connect(self.dsn(over_socket=True), autocommit=True) as conn:
            conn.execute(statement)

    def dsn(
        self, *, password: str = OWN_SERVER_PASSWORD, over_socket: bool = False
    ) -> str:
        """A DSN of the ``postgres`` database: over TCP with ``password``, or over
        the socket directory (trust)."""
        if over_socket:
            return f"host={self.root} port={self.port} user=postgres dbname=postgres"
        return (
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres "
            f"password={password}"
        )

    def restart(self, mode: str) -> None:
        """Stop (``fast``: backends end their sessions; ``immediate``: killed, crash
        recovery at start) and start again; return once it accepts connections."""
        # -l again: without it the new server would log to pg_ctl's output, whose
        # pipe would then never close.
        self._pg_ctl("-l", str(self.log), "-m", mode, "restart")

    def kill_backend(self, pid: int, seconds: float = 30) -> None:
        """kill -9 one of the server's backends, then wait until the postmaster has
        ended every session, recovered and taken connections again (its log says
        it is ready once more)."""
        ready = "database system is ready to accept connections"
        before = self.log.read_text().count(ready)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + seconds
        while self.log.read_text().count(ready) <= before:
            if time.monotonic() > deadline:
                pytest.fail(f"the test server did not recover in {seconds} s")
            time.sleep(0.02)

    def wait_until_up(self, seconds: float = 30) -> None:
        """Wait until the server accepts connections again (after a crash, the
        postmaster restarts itself through crash recovery)."""
        import psycopg

        deadline = time.monotonic() + seconds
        while True:
            try:
                with psycopg.connect(self.dsn(over_socket=True), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the test server did not come back in {seconds} s")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop at once, if running."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-m",
            "immediate",
            "stop",
            check=False,
        )


@pytest.fixture(scope="module")
def own_server() -> Iterator[OwnServer]:
    """A PostgreSQL server of the module's own, to restart and kill (see
    :class:`OwnServer`); stopped and deleted after the module."""
    bindir = _server_bindir()
    if bindir is None:
        no_postgres(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: set "
            "MFA_AMR_PG_BINDIR, or put pg_config or initdb on PATH"
        )
    run_as: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            no_postgres("running as root, and there is no postgres user to run as")
        runuser = shutil.which("runuser")
        if runuser is None:
            no_postgres("running as root, and there is no runuser to become postgres")
        run_as = [runuser, "-u", "postgres", "--"]
        owner = (entry.pw_uid, entry.pw_gid)
    root = Path(tempfile.mkdtemp(prefix="mfa_amr_pg_"))
    if owner is not None:
        os.chown(root, *owner)
    server = OwnServer(bindir, root, run_as)
    try:
        server.init()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- The docs' examples --------------------------------------------------------------
# Sybil makes a test of every example in README.md, docs/*.md and the docstrings of
# src/mfa_amr (`>>>` doctests). A page's examples run in order, in one namespace;
# README.md's blocks each run in a namespace of their own, as a reader copies one.
#
# What a ```python block is, an HTML comment on the line above its fence says:
#
#   (nothing)                    it runs: as a doctest if it begins with `>>>` (the
#                                output it shows is compared), else as a script;
#   <!-- compile-only: why -->   it needs what mfa-amr does not depend on (a web
#                                framework, PyJWT): it is compiled, not run;
#   <!-- test module -->         a complete pytest module: it must pass under pytest;
#   <!-- postgres: ... -->       (README.md) it runs against a scratch database.
#
# A ```json block shows a result: `<!-- result: EXPR -->` above it, EXPR evaluated in
# the page's namespace, must give that JSON. Any other comment above a python or json
# block, or a json block without one, fails: no example is left out by a typo.
#
# docs/postgres.md, docs/asyncio.md, the PostgreSQL blocks of README.md and the
# docstrings of stores/postgres.py run against a database of their own (the
# `docs_database_url` fixture, one per page) and carry the `postgres` marker.

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

_FENCES = FencedCodeBlockLexer(language=r"[\w-]+")
_COMMENTS = DirectiveInHTMLCommentLexer(directive=r"test module|[\w-]+")
_COMMENT_END = re.compile(r"--+>[ \t]*\n")


class _Comment(NamedTuple):
    directive: str
    argument: str
    text: str


_NO_COMMENT = _Comment("", "", "")


def _comments_above(document: Document) -> dict[int, _Comment]:
    """{where the line after each of the page's HTML comments starts: the comment}."""
    above = {}
    for comment in _COMMENTS(document):
        end = _COMMENT_END.match(document.text, comment.end)
        if end is not None:
            above[end.end()] = _Comment(
                str(comment.lexemes["directive"]),
                str(comment.lexemes["arguments"]).strip(),
                document.text[comment.start : end.end()].strip(),
            )
    return above


def _compile_only(example: Example) -> None:
    """Compile, without running, a block that needs what mfa-amr does not have."""
    source = pad(example.parsed, example.line + example.parsed.line_offset)
    compile(source, example.path, "exec", dont_inherit=True)


_PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-Werror")


def _passes_under_pytest(example: Example) -> str | None:
    """Run a block that is a complete test module with pytest, in a directory of its
    own; padded so that its line numbers are the page's."""
    source = pad(example.parsed, example.line + example.parsed.line_offset)
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "test_docs_module.py"
        module.write_text(source, encoding="utf-8")
        done = subprocess.run(
            [*_PYTEST, module.name],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    if 0 == done.returncode:
        return None
    return (
        f"the test module fails under pytest (its lines are {example.path}'s):\n"
        f"{done.stdout}{done.stderr}"
    )


class _ShowsResult:
    """Evaluate a `<!-- result: EXPR -->` and compare it with the JSON block below."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def __call__(self, example: Example) -> str | None:
        shown = json.loads(example.parsed)
        produced = eval(self.expression, example.namespace)  # the page's own text
        example.namespace.pop("__builtins__", None)
        got = json.loads(json.dumps(produced))
        if shown == got:
            return None
        return (
            f"<!-- result: {self.expression} --> gives\n"
            f"{json.dumps(got, indent=2)}\nnot the JSON shown"
        )


class _Fails:
    """The evaluator of a block no evaluator fits: it fails, saying why."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, example: Example) -> str:
        return self.message


class _InANewNamespace:
    """Empty the namespace, then evaluate: the first example of each block of a page
    whose blocks stand alone."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, example: Example) -> str | None:
        example.namespace.clear()
        return self.evaluator(example)


class MarkdownExamples:
    """The Sybil parser of a Markdown page's python and json blocks (see above).

    Args:
        postgres: None for every block of the page; True for only the blocks marked
            ``<!-- postgres: ... -->``, False for all the others.
        standalone: whether each block runs in a namespace of its own.
    """

    def __init__(self, *, postgres: bool | None = None, standalone: bool = False):
        self.postgres = postgres
        self.standalone = standalone
        self.doctests = DocTestStringParser(DocTestEvaluator(DOCTEST_FLAGS))
        self.script = PythonEvaluator()

    def __call__(self, document: Document) -> Iterator[Region]:
        above = _comments_above(document)
        for block in _FENCES(document):
            language = block.lexemes["language"]
            if language not in ("python", "json"):
                continue
            comment = above.get(block.start, _NO_COMMENT)
            if self.postgres is not None:
                if (comment.directive == "postgres") is not self.postgres:
                    continue
                if comment.directive == "postgres":
                    comment = _NO_COMMENT
            regions = list(self._regions(document, block, language, comment))
            if self.standalone and regions and regions[0].evaluator is not None:
                regions[0].evaluator = _InANewNamespace(regions[0].evaluator)
            yield from regions

    def _regions(
        self,
        document: Document,
        block: Region,
        language: str,
        comment: _Comment,
    ) -> Iterable[Region]:
        directive, argument = comment.directive, comment.argument
        source = block.lexemes["source"]
        block.parsed = source
        if language == "json":
            if directive == "result" and argument:
                block.evaluator = _ShowsResult(argument)
            else:
                block.evaluator = _Fails(
                    "a json block shows output that no test checks: put "
                    "<!-- result: EXPR --> on the line above it"
                )
        elif directive == "" and source.startswith(">>>"):
            for region in self.doctests(source, document.path):
                region.adjust(block, source)
                yield region
            return
        elif directive == "":
            block.evaluator = self.script
        elif directive == "compile-only" and argument:
            block.evaluator = _compile_only
        elif directive == "test module":
            block.evaluator = _passes_under_pytest
        else:
            block.evaluator = _Fails(
                f"{comment.text} above a python block is none of: "
                "<!-- compile-only: why -->, "
                "<!-- test module -->"
                + (", <!-- postgres: ... -->" if self.postgres is not None else "")
                + " (conftest.py)"
            )
        yield block


_POSTGRES_PAGES = ["docs/postgres.md", "docs/asyncio.md", "docs/cli.md"]
_POSTGRES_MODULES = ["src/mfa_amr/stores/postgres.py"]
_MODULES = ["src/mfa_amr/*.py", "src/mfa_amr/*/*.py"]
_DATABASE = ["docs_database_url"]
_docstrings = DocTestParser(optionflags=DOCTEST_FLAGS)

pytest_collect_file = SybilCollection(
    [
        Sybil(
            [MarkdownExamples(postgres=False, standalone=True)],
            name="readme",
            patterns=["README.md"],
        ),
        Sybil(
            [MarkdownExamples(postgres=True, standalone=True)],
            name="readme-postgres",
            patterns=["README.md"],
            fixtures=_DATABASE,
        ),
        Sybil(
            [MarkdownExamples()],
            name="docs",
            patterns=["docs/*.md"],
            excludes=_POSTGRES_PAGES,
        ),
        Sybil(
            [MarkdownExamples()],
            name="docs-postgres",
            patterns=_POSTGRES_PAGES,
            fixtures=_DATABASE,
        ),
        Sybil(
            [_docstrings],
            name="docstrings",
            patterns=_MODULES,
            excludes=_POSTGRES_MODULES,
        ),
        Sybil(
            [_docstrings],
            name="docstrings-postgres",
            patterns=_POSTGRES_MODULES,
            fixtures=_DATABASE,
        ),
    ]
).pytest()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Examples that need the server carry the `postgres` marker, as tests do."""
    if isinstance(item, SybilItem) and "pg_dsn" in item.fixturenames:
        item.add_marker(pytest.mark.postgres)
