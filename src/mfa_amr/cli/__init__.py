"""The ``mfa-amr`` command: a demo, and an operator's tools for the claims table and
for tokens.

- ``demo``: a login session played on the in-memory store.
- ``schema``, ``migrate``, ``doctor``: the table's DDL, creating it, checking it.
- ``claims``: a session's claims, level and token claims.
- ``explain``, ``challenge``: a token and a step-up challenge, read.
- ``purge``, ``revoke``, ``revoke-everywhere``, ``delete-sessions``: removing claims.

Every command has ``--json`` for scripts. An error is one line naming its cause, on
standard error, with exit status 2: never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Final

from mfa_amr._errors import MfaAmrError
from mfa_amr._levels import AAL
from mfa_amr.cli._demo import DEMO_SESSION, demo
from mfa_amr.cli._output import USAGE_ERROR, CommandError, Output
from mfa_amr.cli._tokens import (
    PRESETS,
    challenge,
    explain,
    max_age_seconds,
    method_names,
)

Handler = Callable[[argparse.Namespace, Output], int]

# The database commands need the postgres extra; without it the others still run,
# and a database command says what to install.
DATABASE_HANDLERS: dict[str, Handler]
DEFAULTS: dict[str, str]
try:
    from mfa_amr.cli._database import HANDLERS
    from mfa_amr.stores.postgres import DEFAULT_SCHEMA, DEFAULT_TABLE
except ImportError as exc:
    if not (exc.name or "").startswith("psycopg"):
        raise
    DATABASE_HANDLERS, DEFAULTS, _NO_POSTGRES = {}, {}, str(exc)
else:
    DATABASE_HANDLERS, _NO_POSTGRES = dict(HANDLERS), ""
    DEFAULTS = {"schema": DEFAULT_SCHEMA, "table": DEFAULT_TABLE}

__all__ = ["DEMO_SESSION", "build_parser", "main"]

_DATABASE_COMMANDS: Final = (
    "schema",
    "migrate",
    "doctor",
    "claims",
    "purge",
    "revoke",
    "revoke-everywhere",
    "delete-sessions",
)


def _version() -> str:
    try:
        return metadata.version("mfa-amr")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "unknown"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _table_options(parser: argparse.ArgumentParser, *, dsn: bool = True) -> None:
    if dsn:
        parser.add_argument(
            "--dsn",
            help="libpq connection string or URI (default: $MFA_AMR_DSN, else "
            "libpq's own environment: PGHOST, PGDATABASE, ...)",
        )
    for name in ("schema", "table"):
        default = DEFAULTS.get(name)
        parser.add_argument(
            f"--{name}",
            default=default,
            help=f"default: {default or '(needs the postgres extra)'}",
        )
    _json_option(parser)


def _policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        choices=sorted(PRESETS),
        default="supabase",
        help="the policy that judges: Supabase Auth's rule, or NIST's with "
        "freshness (default: supabase)",
    )
    parser.add_argument(
        "--now",
        help="the instant of the judgement: Unix seconds, an ISO 8601 date or "
        "datetime, or a span ago such as 2h (default: now)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mfa-amr``."""
    parser = argparse.ArgumentParser(
        prog="mfa-amr",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Record how users authenticated in each session, decide the assurance "
            "level, and write the JWT amr claim; check a claims table and read "
            "tokens.",
            79,
        ),
        epilog=_examples(
            "mfa-amr demo",
            "mfa-amr doctor --dsn postgresql://postgres@db/postgres",
            "mfa-amr explain eyJhbGciOi... --aal aal2",
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, summary: str, description: str, *examples: str
    ) -> argparse.ArgumentParser:
        """A subcommand whose help ends with its examples, kept as written."""
        return commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(description, 79),
            epilog=_examples(*examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo_parser = command(
        "demo",
        "play a login session on the in-memory store (no database needed)",
        "Play one login session on the in-memory store: a password sign-in, a TOTP "
        "step-up, a WebAuthn verification, then the TOTP factor removed. After each "
        "step, print the session's claims and the token claims they give, in the "
        "Supabase and RFC 8176 amr styles, under the supabase and nist presets. A "
        "fake clock keeps the output the same on every run.",
        "mfa-amr demo",
        "mfa-amr demo --json",
    )
    _json_option(demo_parser)
    demo_parser.set_defaults(handler=demo)

    schema_parser = command(
        "schema",
        "print the claims table's DDL",
        "Print the script that creates the schema and the claims table (Supabase's "
        "auth.mfa_amr_claims by default), idempotently: paste it into a migration.",
        "mfa-amr schema > 0001_mfa_amr_claims.sql",
        "mfa-amr schema --schema tenant_a --table claims",
    )
    _table_options(schema_parser, dsn=False)

    migrate_parser = command(
        "migrate",
        "create the claims table if it does not exist, then check it",
        "Create the schema and the table if they do not exist (safe when several "
        "deploys run it at once), then run doctor on the result. Exit status: 0, 1 "
        "(warnings) or 2 (errors).",
        "mfa-amr migrate --dsn postgresql://auth@db/app",
        "MFA_AMR_DSN=postgresql://auth@db/app mfa-amr migrate --json",
    )
    _table_options(migrate_parser)

    doctor_parser = command(
        "doctor",
        "check an existing claims table",
        "Check a claims table against what the stores need, one finding a line with "
        "its verdict (ok, warning, error) and what to do: the columns, the keys, the "
        "foreign key to a sessions table, the grants and row level security for the "
        "connecting role, the collation, rows with names outside the syntax or times "
        "in the future, pooler settings. Exit status: 0, 1 (warnings) or 2 (errors).",
        "mfa-amr doctor --dsn postgresql://postgres@db.project.supabase.co/postgres",
        "mfa-amr doctor --schema tenant_a --table claims --json",
    )
    _table_options(doctor_parser)

    claims_parser = command(
        "claims",
        "show a session's claims, level and token claims",
        "Show a session's claims as a table, the level they give, the next level "
        "once the user has a verified MFA factor, and its token claims in both amr "
        "styles.",
        "mfa-amr claims 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b --policy nist",
    )
    claims_parser.add_argument("session_id", metavar="SESSION_ID")
    _table_options(claims_parser)
    _policy_option(claims_parser)

    explain_parser = command(
        "explain",
        "read a token and judge it by requirements",
        "Read a JWT (its signature is NOT verified: decoded for reading only) or a "
        "JSON payload, given or on standard input: print its amr entries, the level "
        "it claims and the level they prove, auth_time, and, with requirements, the "
        "verdict and the WWW-Authenticate header a resource server answers with. "
        "Exit status: 0 when the requirements are met, 1 when a step-up is needed, "
        "2 when the token is malformed.",
        "mfa-amr explain eyJhbGciOiJIUzI1NiJ9.eyJhYWwiOiJhYWwxIn0.sig --aal aal2",
        'echo \'{"aal": "aal2", "amr": ["pwd", "otp", "mfa"]}\' | mfa-amr explain - --policy nist',
        'mfa-amr explain "$TOKEN" --methods otp,pop --max-age 300 --json',
    )
    explain_parser.add_argument(
        "token",
        metavar="TOKEN",
        nargs="?",
        help="a JWT or a JSON payload; - or nothing: read standard input",
    )
    _policy_option(explain_parser)
    explain_parser.add_argument(
        "--aal", choices=[level.value for level in AAL], help="the least level"
    )
    explain_parser.add_argument(
        "--methods",
        type=method_names,
        help="methods or RFC 8176 values any one of which will do, comma-separated",
    )
    explain_parser.add_argument(
        "--max-age",
        type=max_age_seconds,
        metavar="SECONDS",
        help="the most seconds since the last authentication",
    )
    explain_parser.add_argument(
        "--phishing-resistant",
        choices=["yes", "hardware"],
        help="need a phishing-resistant sign-in (hardware: with a hardware-bound key)",
    )
    _json_option(explain_parser)
    explain_parser.set_defaults(handler=explain)

    challenge_parser = command(
        "challenge",
        "read a WWW-Authenticate step-up challenge",
        "Parse a WWW-Authenticate value and print its RFC 9470 step-up challenge "
        "(error, acr_values, max_age, ...) as a client reads it. Exit status 2 when "
        "it holds none.",
        'mfa-amr challenge \'Bearer error="insufficient_user_authentication", acr_values="aal2 aal3", max_age=300\'',
    )
    challenge_parser.add_argument("header", metavar="HEADER")
    _json_option(challenge_parser)
    challenge_parser.set_defaults(handler=challenge)

    purge_parser = command(
        "purge",
        "remove the claims of sessions idle since a date",
        "Remove every claim of each session whose newest claim is older than "
        "--before (retention); with --dry-run, count them.",
        "mfa-amr purge --before 90d --dry-run",
        "mfa-amr purge --before 2026-09-01 --batch-size 1000",
    )
    purge_parser.add_argument(
        "--before",
        required=True,
        help="an ISO 8601 date or datetime, Unix seconds, or a span ago: 90d, 12h, 30m",
    )
    purge_parser.add_argument(
        "--dry-run", action="store_true", help="count what would go; remove nothing"
    )
    purge_parser.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        metavar="N",
        help="claims one statement looks at: each batch is a short transaction of "
        "its own, so records never wait long behind the purge (default: 5000)",
    )
    _table_options(purge_parser)

    revoke_parser = command(
        "revoke",
        "remove a session's claim for a method",
        "Remove a session's claim for a method (a factor was removed).",
        "mfa-amr revoke 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b mfa/phone",
    )
    revoke_parser.add_argument("session_id", metavar="SESSION_ID")
    revoke_parser.add_argument("method", metavar="METHOD")
    _table_options(revoke_parser)

    everywhere_parser = command(
        "revoke-everywhere",
        "remove a method's claims from many sessions",
        "Remove a method's claims from every session listed, one id a line (blank "
        "lines and lines starting with # are skipped).",
        "mfa-amr revoke-everywhere mfa/webauthn --sessions-from sessions.txt",
        "psql -Atc 'select id from auth.sessions where user_id = ...' | "
        "mfa-amr revoke-everywhere totp --sessions-from -",
    )
    everywhere_parser.add_argument("method", metavar="METHOD")
    everywhere_parser.add_argument(
        "--sessions-from",
        required=True,
        metavar="FILE",
        help="a file, or - for standard input",
    )
    _table_options(everywhere_parser)

    delete_parser = command(
        "delete-sessions",
        "remove every claim of sessions",
        "Remove every claim of the sessions given (sign-out).",
        "mfa-amr delete-sessions 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
    )
    delete_parser.add_argument("session_ids", metavar="SESSION_ID", nargs="+")
    _table_options(delete_parser)

    for name in _DATABASE_COMMANDS:
        commands.choices[name].set_defaults(handler=DATABASE_HANDLERS.get(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mfa-amr`` with ``argv`` (default: the process's arguments); return the
    exit status: 0 on success, 2 for a usage error or a failure, and what each
    command documents besides (``doctor``, ``migrate``, ``explain``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    if args.command is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write("mfa-amr: error: a command is required (try: mfa-amr demo)\n")
        return USAGE_ERROR
    out = Output(json=getattr(args, "json", False))
    handler: Handler | None = args.handler
    try:
        if handler is None:
            raise CommandError(
                f"{args.command} needs the postgres extra ({_NO_POSTGRES}): pip "
                "install 'mfa-amr[postgres]'"
            )
        return handler(args, out)
    except (CommandError, MfaAmrError) as exc:
        sys.stderr.write(f"mfa-amr: error: {exc}\n")
        return USAGE_ERROR
