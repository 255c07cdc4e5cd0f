"""``mfa-amr doctor``: an existing claims table checked against what the stores need,
one finding a line, each with a verdict and what to do.

Every query reads PostgreSQL's catalog or counts rows; nothing is changed. Rows are
counted as the connecting role sees them: under row level security, rows its
policies hide are not counted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs
import psycopg
from psycopg import sql

from mfa_amr._grammar import DEFAULT_SKEW, METHOD_CHARACTER, METHOD_MAX_LENGTH
from mfa_amr._methods import DEFAULT_CATALOG
from mfa_amr.cli._output import plural
from mfa_amr.stores._sql import constraint_names, escaped_table

__all__ = ["Finding", "Verdict", "diagnose", "worst"]


class Verdict(enum.IntEnum):
    """How bad a finding is; the exit status of ``doctor`` is the worst one's."""

    OK = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


@attrs.frozen
class Finding:
    """One line of the diagnosis: what was checked, its verdict, what was found and
    what to do."""

    check: str
    verdict: Verdict
    message: str

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "verdict": str(self.verdict),
            "message": self.message,
        }


def worst(findings: Iterable[Finding]) -> Verdict:
    """The worst verdict among the findings (OK for none)."""
    return max((f.verdict for f in findings), default=Verdict.OK)


_OK, _WARNING, _ERROR = Verdict.OK, Verdict.WARNING, Verdict.ERROR

# The seed's columns: (name, type as format_type() writes it).
COLUMNS: Final = (
    ("session_id", "uuid"),
    ("created_at", "timestamp with time zone"),
    ("updated_at", "timestamp with time zone"),
    ("authentication_method", "text"),
    ("id", "uuid"),
)

_TABLE: Final = """\
SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity,
       pg_get_userbyid(c.relowner) = current_user AS owned,
       has_schema_privilege(current_user, n.oid, 'USAGE')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"""

_COLUMNS: Final = """\
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_attribute a
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""

# Constraints and unique indexes, each with its columns in key order.
_KEYS: Final = """\
SELECT con.conname, con.contype, con.confdeltype, con.confrelid::regclass::text,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.i)
FROM pg_constraint con WHERE con.conrelid = %s AND con.contype IN ('p', 'u', 'f')
UNION ALL
SELECT ic.relname, 'i', NULL, NULL,
       ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n
             ORDER BY k.i)
FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid
WHERE ix.indrelid = %s AND ix.indisunique AND ix.indpred IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)"""

_ROLE: Final = """\
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       has_table_privilege(current_user, %s::oid, 'SELECT'),
       has_table_privilege(current_user, %s::oid, 'INSERT'),
       has_table_privilege(current_user, %s::oid, 'UPDATE'),
       has_table_privilege(current_user, %s::oid, 'DELETE')
FROM pg_roles r WHERE r.rolname = current_user"""

# The policies that apply to the connecting role, by command ('*' is ALL).
_POLICIES: Final = """\
SELECT p.polcmd, p.polpermissive
FROM pg_policy p
WHERE p.polrelid = %s
  AND (0 = ANY(p.polroles)
       OR EXISTS (SELECT 1 FROM unnest(p.polroles) r(oid)
                  WHERE pg_has_role(current_user, r.oid, 'MEMBER')))"""

_COLLATION: Final = (
    "SELECT datcollate FROM pg_database WHERE datname = current_database()"
)

_ROWS: Final = sql.SQL(
    """\
SELECT count(*),
       count(*) FILTER (WHERE authentication_method !~ %(syntax)s),
       count(*) FILTER (WHERE authentication_method ~ %(syntax)s
                          AND NOT authentication_method = ANY(%(known)s)),
       count(*) FILTER (WHERE greatest(created_at, updated_at)
                                > now() + make_interval(secs => %(skew)s)),
       count(*) FILTER (WHERE least(created_at, updated_at)
                                < '1970-01-01T00:00:00Z'),
       count(*) FILTER (WHERE created_at > updated_at)
FROM {table}"""
)

_EXAMPLES: Final = sql.SQL(
    """\
SELECT DISTINCT authentication_method COLLATE "C" FROM {table}
WHERE authentication_method {test} %(syntax)s {known}
ORDER BY 1 LIMIT 5"""
)

SYNTAX: Final = f"^{METHOD_CHARACTER}{{1,{METHOD_MAX_LENGTH}}}$"
"""The method syntax as a PostgreSQL regular expression (``~`` matches): anchored,
as ``$`` in PostgreSQL matches only at the end of the text."""
_KNOWN: Final = sorted(spec.name for spec in DEFAULT_CATALOG)
_POOLER_PORTS: Final = frozenset({6432, 6543})  # PgBouncer's and Supavisor's defaults


# The columns the row checks read: without them (or with another type) the counts
# would fail or mean nothing.
_READ_BY_ROW_CHECKS: Final = frozenset(
    {"authentication_method", "created_at", "updated_at"}
)


def _columns(
    cur: psycopg.Cursor[Any], oid: int, shown: str
) -> tuple[list[Finding], set[str]]:
    """The column findings, and the seed's columns missing or of another type."""
    found = {
        name: (kind, notnull, default)
        for name, kind, notnull, default in cur.execute(_COLUMNS, (oid,))
    }
    out = []
    broken = set()
    for name, kind in COLUMNS:
        if name not in found:
            broken.add(name)
            out.append(
                Finding(
                    "columns",
                    _ERROR,
                    f"column {name} is missing: ALTER TABLE {shown} ADD COLUMN {name} {kind} NOT NULL (on a table with rows, give it a value first)",
                )
            )
            continue
        actual, notnull, _ = found[name]
        if actual != kind:
            broken.add(name)
            out.append(
                Finding(
                    "columns",
                    _ERROR,
                    f"column {name} is {actual}, not {kind}: the stores read and write {kind}",
                )
            )
        elif not notnull:
            out.append(
                Finding(
                    "columns",
                    _WARNING,
                    f"column {name} may be NULL, unlike the seed's: ALTER TABLE {shown} ALTER COLUMN {name} SET NOT NULL",
                )
            )
    extra = [(n, v) for n, v in found.items() if n not in dict(COLUMNS)]
    for name, (_, notnull, default) in extra:
        if notnull and not default:
            out.append(
                Finding(
                    "columns",
                    _ERROR,
                    f"extra column {name} is NOT NULL without a default: every record is refused; give it a default or drop its NOT NULL",
                )
            )
        else:
            out.append(
                Finding(
                    "columns",
                    _WARNING,
                    f"extra column {name}: the stores neither read nor write it",
                )
            )
    if not out:
        out.append(
            Finding(
                "columns",
                _OK,
                "the five columns of the seed, with their types and NOT NULL",
            )
        )
    return out, broken


def _keys(cur: psycopg.Cursor[Any], oid: int, table: str, shown: str) -> list[Finding]:
    rows = cur.execute(_KEYS, (oid, oid)).fetchall()
    # Quoted, as the table's name is: the SQL suggested must run as printed, for a
    # table named with spaces or capitals too.
    primary_name, unique_name = (
        sql.Identifier(name).as_string(cur) for name in constraint_names(table)
    )
    out = []
    primary = [r for r in rows if r[1] == "p"]
    if not primary:
        out.append(
            Finding(
                "primary key",
                _ERROR,
                f"no primary key: get() looks claims up by id; ALTER TABLE {shown} ADD CONSTRAINT {primary_name} PRIMARY KEY (id)",
            )
        )
    elif primary[0][4] != ["id"]:
        out.append(
            Finding(
                "primary key",
                _WARNING,
                f"the primary key is on ({', '.join(primary[0][4])}), not (id): get() looks claims up by id; the seed's key is {primary_name} PRIMARY KEY (id)",
            )
        )
    else:
        out.append(Finding("primary key", _OK, f"{primary[0][0]} on (id)"))
    # A primary key on the pair is as good a conflict target as a unique key.
    unique = [
        r
        for r in rows
        if r[1] in ("p", "u", "i")
        and sorted(r[4]) == ["authentication_method", "session_id"]
    ]
    if unique:
        out.append(
            Finding(
                "unique",
                _OK,
                f"{unique[0][0]} on (session_id, authentication_method): record's upsert has its conflict target",
            )
        )
    else:
        out.append(
            Finding(
                "unique",
                _ERROR,
                f"no unique constraint on (session_id, authentication_method): every record fails (its ON CONFLICT needs one); ALTER TABLE {shown} ADD CONSTRAINT {unique_name} UNIQUE (session_id, authentication_method)",
            )
        )
    foreign = [r for r in rows if r[1] == "f" and r[4] == ["session_id"]]
    if not foreign:
        out.append(
            Finding(
                "foreign key",
                _OK,
                "none to a sessions table: claims of a deleted session stay until delete_sessions or purge removes them",
            )
        )
    elif foreign[0][2] == "c":
        out.append(
            Finding(
                "foreign key",
                _OK,
                f"{foreign[0][0]} to {foreign[0][3]} ON DELETE CASCADE: a session's claims go with it; record raises SessionNotFoundError for a session that does not exist",
            )
        )
    else:
        out.append(
            Finding(
                "foreign key",
                _WARNING,
                f"{foreign[0][0]} to {foreign[0][3]} without ON DELETE CASCADE: deleting a session with claims fails; Supabase's key cascades",
            )
        )
    return out


# What each operation needs: the privilege, and the policy command under RLS.
_OPERATIONS: Final = (
    ("claims, claims_many, get", "SELECT", "r"),
    ("record, record_many (insert)", "INSERT", "a"),
    ("record, record_many (update)", "UPDATE", "w"),
    ("revoke, revoke_everywhere, delete_sessions, purge", "DELETE", "d"),
)


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "AEIOU" else f"a {word}"


@attrs.frozen
class _Table:
    """What the catalog says of the table, for the access checks."""

    oid: int
    schema: str
    shown: str  # its qualified name, quoted as SQL
    rls: bool
    forced: bool
    owned: bool
    usage: bool  # the role's USAGE on the schema


def _access(cur: psycopg.Cursor[Any], t: _Table) -> tuple[list[Finding], bool]:
    """The grant and row level security findings, and whether the role reads the
    table's rows (for the row checks)."""
    role, superuser, bypass, *granted = cur.execute(
        _ROLE, (t.oid, t.oid, t.oid, t.oid)
    ).fetchone() or ("?", False, False, False, False, False, False)
    who = sql.Identifier(role).as_string(cur)
    out = []
    if not t.usage:
        out.append(
            Finding(
                "grants",
                _ERROR,
                f"{role} lacks USAGE on the schema {t.schema}: every operation fails; GRANT USAGE ON SCHEMA {sql.Identifier(t.schema).as_string(cur)} TO {who}",
            )
        )
    for (operations, privilege, _), has in zip(_OPERATIONS, granted, strict=True):
        if not has:
            out.append(
                Finding(
                    "grants",
                    _ERROR,
                    f"{role} lacks {privilege} on the table: {operations} fail; GRANT {privilege} ON {t.shown} TO {who}",
                )
            )
    if not out:
        out.append(
            Finding(
                "grants",
                _OK,
                f"{role} has USAGE on the schema, and SELECT, INSERT, UPDATE and DELETE on the table",
            )
        )
    readable = t.usage and granted[0]
    if not t.rls:
        out.append(Finding("row level security", _OK, "off"))
        return out, readable
    if superuser or bypass or (t.owned and not t.forced):
        why = (
            "a superuser"
            if superuser
            else ("BYPASSRLS" if bypass else "the table's owner")
        )
        out.append(
            Finding("row level security", _OK, f"on; {role} bypasses it ({why})")
        )
        return out, readable
    policies = cur.execute(_POLICIES, (t.oid,)).fetchall()
    commands = {cmd for cmd, permissive in policies if permissive}
    for operations, privilege, command in _OPERATIONS:
        policy = _article(privilege)
        if command in commands or "*" in commands:
            out.append(
                Finding(
                    "row level security",
                    _OK,
                    f"on; {policy} policy applies to {role}: {operations} can work",
                )
            )
        else:
            if privilege == "SELECT":
                readable = False
            refused = " (RevocationRefusedError)" if privilege == "DELETE" else ""
            out.append(
                Finding(
                    "row level security",
                    _ERROR,
                    f"on, and no {privilege} policy applies to {role}: {operations} are refused{refused}; CREATE POLICY ... ON {t.shown} FOR {privilege} TO {who} ..., or connect as a role with BYPASSRLS",
                )
            )
    return out, readable


def _rows(cur: psycopg.Cursor[Any], ident: sql.Composable) -> list[Finding]:
    """The row findings; ``ident`` is the table's :func:`escaped_table`, as these
    queries go with parameters."""
    params = {"syntax": SYNTAX, "known": _KNOWN, "skew": DEFAULT_SKEW}
    total, outside, unknown, future, ancient, inverted = cur.execute(
        _ROWS.format(table=ident), params
    ).fetchone() or (0, 0, 0, 0, 0, 0)

    def examples(test: str, known: bool) -> str:
        query = _EXAMPLES.format(
            table=ident,
            test=sql.SQL(test),
            known=sql.SQL(
                "AND NOT authentication_method = ANY(%(known)s)" if known else ""
            ),
        )
        names = [row[0] for row in cur.execute(query, params)]
        return ", ".join(repr(n[:40]) for n in names)

    def they(n: int, one: str, many: str) -> str:
        return one if n == 1 else many

    out = [Finding("rows", _OK, f"{plural(total, 'claim')} (as this role sees them)")]
    if outside:
        out.append(
            Finding(
                "method names",
                _WARNING,
                f"{plural(outside, 'row')} with {they(outside, 'a name', 'names')} outside the method syntax (such as {examples('!~', False)}): another writer's; read back as {they(outside, 'it is', 'they are')}, counted for nothing",
            )
        )
    if unknown:
        out.append(
            Finding(
                "method names",
                _WARNING,
                f"{plural(unknown, 'row')} with {they(unknown, 'a name', 'names')} the default catalog does not know (such as {examples('~', True)}): counted for nothing unless a policy adds {they(unknown, 'it', 'them')}",
            )
        )
    if not outside and not unknown:
        out.append(
            Finding(
                "method names",
                _OK,
                "every name is of the syntax and in the default catalog",
            )
        )
    if future:
        out.append(
            Finding(
                "times",
                _WARNING,
                f"{plural(future, 'row')} dated more than {DEFAULT_SKEW} s in the future: a writer's clock is ahead; {they(future, 'it proves', 'they prove')} no freshness until then",
            )
        )
    if ancient:
        out.append(
            Finding(
                "times",
                _ERROR,
                f"{plural(ancient, 'row')} dated before 1970: a token cannot carry such a time; fix or delete {they(ancient, 'it', 'them')}",
            )
        )
    if inverted:
        out.append(
            Finding(
                "times",
                _WARNING,
                f"{plural(inverted, 'row')} with created_at after updated_at: another writer's; the stores never write that",
            )
        )
    if not future and not ancient and not inverted:
        out.append(Finding("times", _OK, "no row in the future or before 1970"))
    return out


def diagnose(conn: psycopg.Connection[Any], schema: str, table: str) -> list[Finding]:
    """Every finding on ``schema.table``, read through ``conn``."""
    port = conn.info.port
    with conn.cursor() as cur:
        found = cur.execute(_TABLE, (schema, table)).fetchone()
        if found is None:
            return [
                Finding(
                    "table",
                    _ERROR,
                    f"{schema}.{table} does not exist: create it with `mfa-amr migrate` (or schema_sql() in your migrations)",
                )
            ]
        oid, rls, forced, owned, usage = found
        shown = sql.Identifier(schema, table).as_string(cur)
        out = [Finding("table", _OK, f"{schema}.{table} exists")]
        columns, broken = _columns(cur, oid, shown)
        out += columns
        out += _keys(cur, oid, table, shown)
        access, readable = _access(
            cur, _Table(oid, schema, shown, rls, forced, owned, usage)
        )
        out += access
        (collation,) = cur.execute(_COLLATION).fetchone() or ("?",)
        out.append(
            Finding(
                "collation",
                _OK,
                f'the database collates by {collation}; the stores order ties by code point (COLLATE "C") whatever it is',
            )
        )
        unread = sorted(broken & _READ_BY_ROW_CHECKS)
        if unread:
            out.append(
                Finding(
                    "rows",
                    _WARNING,
                    f"not checked: {'column' if len(unread) == 1 else 'columns'} {', '.join(unread)} {'is' if len(unread) == 1 else 'are'} missing or of another type; fix that, then run doctor again",
                )
            )
        elif not readable:
            out.append(
                Finding(
                    "rows",
                    _WARNING,
                    "not checked: this role cannot read the rows; fix its access, then run doctor again",
                )
            )
        else:
            out += _rows(cur, escaped_table(schema, table))
    if port in _POOLER_PORTS:
        out.append(
            Finding(
                "pooler",
                _WARNING,
                f"port {port} is PgBouncer's or Supavisor's: in transaction pooling mode turn psycopg's prepared statements off (prepare_threshold=None; see docs/postgres.md)",
            )
        )
    else:
        out.append(
            Finding(
                "pooler",
                _OK,
                f"port {port} is not a pooler's default; behind PgBouncer or Supavisor in transaction pooling mode, turn psycopg's prepared statements off (prepare_threshold=None)",
            )
        )
    return out


def lines(findings: Sequence[Finding]) -> list[str]:
    """The findings as aligned text lines: verdict, check, message."""
    width = max(len(f.check) for f in findings)
    return [f"{f.verdict!s:<8} {f.check:<{width}}  {f.message}" for f in findings]
