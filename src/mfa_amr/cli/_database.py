"""The commands that work on a claims table: ``schema``, ``migrate``, ``doctor``,
``claims``, ``purge``, ``revoke``, ``revoke-everywhere`` and ``delete-sessions``.

They need the ``postgres`` extra. Each opens one connection (autocommit: every
operation commits by itself), from ``--dsn``, else ``MFA_AMR_DSN``, else libpq's own
environment (``PGHOST``, ``PGDATABASE``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg.conninfo import conninfo_to_dict

from mfa_amr._claims import AmrStyle
from mfa_amr._grammar import to_uuid
from mfa_amr.cli._doctor import Verdict, diagnose, lines, worst
from mfa_amr.cli._output import (
    CommandError,
    Output,
    current_instant,
    iso,
    judged_at,
    parse_instant,
    plural,
    table,
)
from mfa_amr.cli._tokens import PRESETS
from mfa_amr.stores._sql import Statements, check_identifier, store_error
from mfa_amr.stores.postgres import PostgresClaimStore, schema_sql

__all__ = ["HANDLERS"]

DSN_VARIABLE: Final = "MFA_AMR_DSN"

COUNTING: Final = "counting the claims a purge would remove"
"""What ``purge --dry-run`` does, for its error messages."""


def _dsn(args: argparse.Namespace) -> str:
    """``--dsn``, else ``$MFA_AMR_DSN``, else ``""``: libpq's own environment."""
    return str(args.dsn or os.environ.get(DSN_VARIABLE) or "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_names(args: argparse.Namespace) -> None:
    check_identifier(args.schema, "--schema")
    check_identifier(args.table, "--table")


@contextmanager
def _connection(args: argparse.Namespace) -> Iterator[psycopg.Connection[Any]]:
    """One autocommit connection for the command, to ``--schema``.``--table``
    checked first; a server that cannot be reached, or a driver error the store
    does not translate (the doctor's own queries), is one line, not a traceback."""
    _check_names(args)
    dsn = _dsn(args)
    try:
        # Ten seconds unless the DSN or libpq's environment says otherwise: an
        # operator would rather hear that a server is unreachable than wait.
        given = "connect_timeout" in conninfo_to_dict(dsn)
        wait = None if given or "PGCONNECT_TIMEOUT" in os.environ else 10
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=wait)
    except psycopg.Error as exc:
        raise CommandError(
            f"cannot connect to PostgreSQL: {_first_line(exc)}"
        ) from None
    with conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise CommandError(f"PostgreSQL refused: {_first_line(exc)}") from None


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[PostgresClaimStore]:
    with _connection(args) as conn:
        yield PostgresClaimStore(conn, schema=args.schema, table=args.table)


def schema(args: argparse.Namespace, out: Output) -> int:
    """Print the DDL of the claims table."""
    _check_names(args)
    ddl = schema_sql(args.schema, args.table)
    if out.json:
        out.document({"schema": args.schema, "table": args.table, "sql": ddl})
    else:
        out.stdout.write(ddl)
    return 0


def _findings(
    conn: psycopg.Connection[Any],
    args: argparse.Namespace,
    out: Output,
    head: dict[str, object],
) -> int:
    found = diagnose(conn, args.schema, args.table)
    status = int(worst(found))
    if out.json:
        out.document(
            {
                **head,
                "findings": [f.to_dict() for f in found],
                "status": str(Verdict(status)),
            }
        )
    else:
        for line in lines(found):
            out.line(line)
    return status


def migrate(args: argparse.Namespace, out: Output) -> int:
    """Create the schema and the table if they do not exist (safe when several
    deploys run it at once), then diagnose the result: 0, 1 (warnings), 2
    (errors)."""
    with _connection(args) as conn:
        PostgresClaimStore(conn, schema=args.schema, table=args.table).create_schema()
        if not out.json:
            out.line(f"{args.schema}.{args.table} is in place")
        return _findings(conn, args, out, {"migrated": f"{args.schema}.{args.table}"})


def doctor(args: argparse.Namespace, out: Output) -> int:
    """Diagnose an existing table: 0 when all is well, 1 with warnings, 2 with
    errors."""
    with _connection(args) as conn:
        return _findings(conn, args, out, {"table": f"{args.schema}.{args.table}"})


def claims(args: argparse.Namespace, out: Output) -> int:
    """Show a session's claims, its level, and its token claims in both styles."""
    session_id = to_uuid(args.session_id, "SESSION_ID")
    now = judged_at(args)
    policy = PRESETS[args.policy]()
    with _store(args) as store:
        held = store.claims(session_id)
    # A verified factor changes only next_aal: one assessment gives both levels.
    assessed = policy.assess(held, now=now, verified_factors=("a verified factor",))
    tokens = {
        style.value: policy.token_claims(session_id, held, style=style, now=now)
        for style in AmrStyle
    }
    level = assessed.aal
    if out.json:
        out.document(
            {
                "session_id": str(session_id),
                "policy": args.policy,
                "now": iso(now),
                "claims": [
                    {
                        "id": str(c.id),
                        "method": c.method,
                        "created_at": iso(c.created_at),
                        "updated_at": iso(c.updated_at),
                    }
                    for c in held
                ],
                "aal": level.value,
                "next_aal_with_a_verified_factor": assessed.next_aal.value,
                "token_claims": tokens,
            }
        )
        return 0
    out.line(f"session {session_id}, {args.policy} policy, at {iso(now)}")
    for line in table(
        ("method", "created_at", "updated_at"),
        [(c.method, iso(c.created_at), iso(c.updated_at)) for c in held],
    ):
        out.line(f"  {line}")
    out.line(f"level: {level}")
    out.line(
        f"next level, once the user has a verified MFA factor: {assessed.next_aal}"
    )
    for style, claims_ in tokens.items():
        out.line(f"token claims, {style} style: {json.dumps(claims_)}")
    return 0


def _purgeable(
    conn: psycopg.Connection[Any], args: argparse.Namespace, before: datetime
) -> int:
    """The claims ``purge`` would remove at ``before``, counted by the store's own
    statement, and its failures told as the store tells the purge's."""
    statements = Statements.for_table(args.schema, args.table)
    try:
        row = conn.execute(statements.purgeable, {"before": before}).fetchone()
    except psycopg.Error as exc:
        raise store_error(exc, COUNTING, table=statements.shown) from exc
    count: int = row[0] if row else 0
    return count


def purge(args: argparse.Namespace, out: Output) -> int:
    """Remove every claim of the sessions idle since before ``--before``; with
    ``--dry-run``, count them."""
    cutoff = parse_instant(args.before, now=current_instant(), what="--before")
    # On a terminal, a line that counts up as the batches go; never in --json or a
    # pipe, where only the total is printed.
    shown = not out.json and out.stdout.isatty()

    def progress(removed: int) -> None:
        out.stdout.write(f"\rpurging: {plural(removed, 'claim')} so far")
        out.stdout.flush()

    with _connection(args) as conn:
        store = PostgresClaimStore(conn, schema=args.schema, table=args.table)
        if args.dry_run:
            count = _purgeable(conn, args, cutoff)
        else:
            count = store.purge(
                before=cutoff,
                batch_size=args.batch_size,
                progress=progress if shown else None,
            )
            if shown:
                out.line()
    if out.json:
        out.document({"before": iso(cutoff), "dry_run": args.dry_run, "claims": count})
    elif args.dry_run:
        out.line(
            f"{plural(count, 'claim')} of sessions idle since before {iso(cutoff)} "
            "would be purged (dry run: nothing removed)"
        )
    else:
        out.line(
            f"purged {plural(count, 'claim')} of sessions idle since before "
            f"{iso(cutoff)}"
        )
    return 0


def revoke(args: argparse.Namespace, out: Output) -> int:
    """Remove a session's claim for a method."""
    session_id = to_uuid(args.session_id, "SESSION_ID")
    with _store(args) as store:
        removed = store.revoke(session_id, args.method)
    if out.json:
        out.document(
            {
                "session_id": str(session_id),
                "method": args.method,
                "removed": int(removed),
            }
        )
    elif removed:
        out.line(f"removed the {args.method!r} claim of session {session_id}")
    else:
        out.line(f"session {session_id} has no {args.method!r} claim: nothing removed")
    return 0


def _source_name(source: str) -> str:
    return "standard input" if source == "-" else source


def _session_ids(source: str) -> list[uuid.UUID]:
    """The distinct session ids listed in ``source`` (a file, or ``-``: standard
    input), one a line; blank lines and lines starting with ``#`` are skipped.

    Raises:
        CommandError: the file cannot be read.
        InvalidClaimError: a line is not a session id, naming the line.
    """
    name = _source_name(source)
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"cannot read {name}: not UTF-8 text ({exc.reason})"
        ) from None
    sids = [
        to_uuid(line.strip(), f"line {number} of {name}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return list(dict.fromkeys(sids))


def _distinct(values: Sequence[str]) -> list[uuid.UUID]:
    return list(dict.fromkeys(to_uuid(v, "SESSION_ID") for v in values))


def revoke_everywhere(args: argparse.Namespace, out: Output) -> int:
    """Remove a method's claims from every session listed, one id a line."""
    sids = _session_ids(args.sessions_from)
    if not sids:
        out.warn(f"{_source_name(args.sessions_from)} lists no session id")
    with _store(args) as store:
        removed = store.revoke_everywhere(sids, args.method)
    if out.json:
        out.document({"method": args.method, "sessions": len(sids), "removed": removed})
    else:
        out.line(
            f"removed {plural(removed, 'claim')} for {args.method!r} across the "
            f"{plural(len(sids), 'session')} listed"
        )
    return 0


def delete_sessions(args: argparse.Namespace, out: Output) -> int:
    """Remove every claim of the sessions given."""
    sids = _distinct(args.session_ids)
    with _store(args) as store:
        removed = store.delete_sessions(sids)
    if out.json:
        out.document({"sessions": len(sids), "removed": removed})
    else:
        out.line(
            f"removed {plural(removed, 'claim')} of the "
            f"{plural(len(sids), 'session')} given"
        )
    return 0


HANDLERS: Final[dict[str, Callable[[argparse.Namespace, Output], int]]] = {
    "schema": schema,
    "migrate": migrate,
    "doctor": doctor,
    "claims": claims,
    "purge": purge,
    "revoke": revoke,
    "revoke-everywhere": revoke_everywhere,
    "delete-sessions": delete_sessions,
}
"""The handler of each database command."""
