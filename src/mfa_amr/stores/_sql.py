"""The PostgreSQL stores' SQL, written once: query text, parameters, row mapping.

Nothing here does I/O. :class:`~mfa_amr.stores.postgres.PostgresClaimStore` and
:class:`~mfa_amr.stores.postgres.AsyncPostgresClaimStore` take every operation from
the same :class:`Operations`: it validates the input, builds the parameters of one of
the :class:`Statements`, and says how the cursor's rows (made by :func:`claim_row`)
become the answer, as a :class:`Call`. An answer may be another call, to run next (a
purge goes batch by batch; a deletion that left a visible claim reads it again). A
store only executes the calls, awaiting or not, and translates the driver's errors
with :func:`store_error` (and a failed first connection with :func:`connect_error`);
both refuse a source they cannot use with :func:`source_error`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Generic, TypeAlias, TypeVar

import attrs
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mfa_amr._claims import AMRClaim, claim_from_row
from mfa_amr._errors import (
    InvalidInputError,
    RevocationRefusedError,
    SessionNotFoundError,
    StoreConfigurationError,
    StoreError,
    StoreUnavailableError,
    TableNotFoundError,
    WriteDiscardedError,
)
from mfa_amr._grammar import EPOCH, to_utc, to_uuid
from mfa_amr._policy import Policy
from mfa_amr.stores._input import (
    STORE_SKEW,
    check_clock,
    check_policy,
    check_skew,
    record_at,
    record_items,
    session_ids,
    stored_name,
)

if TYPE_CHECKING:
    from psycopg.rows import RowMaker

    from mfa_amr.stores._protocol import (
        Clock,
        MethodLike,
        RecordItem,
        SessionIdLike,
    )

DEFAULT_SCHEMA: Final = "auth"
DEFAULT_TABLE: Final = "mfa_amr_claims"
TABLE_COMMENT: Final = (
    "auth: stores authenticator method reference claims for multi factor authentication"
)
# The seed's constraint names, kept exactly for the default table so the catalog
# matches a Supabase deployment.
DEFAULT_PRIMARY_KEY: Final = "amr_id_pk"
DEFAULT_UNIQUE: Final = "mfa_amr_claims_session_id_authentication_method_pkey"
# PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1).
MAX_IDENTIFIER_BYTES: Final = 63

DEFAULT_PURGE_BATCH: Final = 5000
"""How many claims one statement of ``purge`` looks at, at most (and so about how
many it deletes): each batch is a short statement of its own."""

SAVEPOINT: Final = "SAVEPOINT mfa_amr_write"
RELEASE: Final = "RELEASE SAVEPOINT mfa_amr_write"
ROLLBACK_TO: Final = (
    "ROLLBACK TO SAVEPOINT mfa_amr_write; RELEASE SAVEPOINT mfa_amr_write"
)
"""A write inside the caller's transaction runs between ``SAVEPOINT`` and ``RELEASE``,
all three sent in one round trip (pipeline mode); when it fails, ``ROLLBACK_TO``
undoes it alone and the caller's transaction goes on."""

# The text a refused batch's statement fails with (see _RECORD_MANY): the store tells
# this failure from any other by it.
DISCARDED_MARK: Final = "mfa_amr: a trigger or rule discarded"

RecordParams: TypeAlias = "tuple[uuid.UUID, uuid.UUID, str, datetime, datetime]"
BatchParams: TypeAlias = (
    "tuple[list[uuid.UUID], list[uuid.UUID], list[str], list[datetime], list[datetime]]"
)
Pair: TypeAlias = "tuple[uuid.UUID, str]"
_T = TypeVar("_T")

# -- query text ---------------------------------------------------------------------
# Templates take identifiers only ({schema}, {table}, constraint names), always as
# sql.Identifier; every value is a placeholder, except the table comment, a constant
# of this module quoted by sql.Literal (COMMENT ON accepts no parameters).

# The lock makes the script safe when several deploys run it at once: without it,
# two CREATE SCHEMA IF NOT EXISTS racing both insert into pg_namespace and one fails
# on its unique index. The script is one implicit transaction (one simple query), so
# the transaction-scoped lock is held to its end; one key serves every claims table.
_DDL: Final = sql.SQL(
    """\
SELECT pg_advisory_xact_lock(hashtextextended('mfa_amr: create the claims table', 0));
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {table} (
    session_id uuid NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    authentication_method text NOT NULL,
    id uuid NOT NULL,
    CONSTRAINT {primary_key} PRIMARY KEY (id),
    CONSTRAINT {unique} UNIQUE (session_id, authentication_method)
);
COMMENT ON TABLE {table} IS {comment};
"""
)

_NAMES: Final = sql.SQL("id, session_id, authentication_method, created_at, updated_at")

# What every query returns, in the order claim_row reads. Times travel as UTC
# wall-clock timestamps without zone: psycopg then skips converting them to the
# connection's TimeZone (the caller's choice), and _claim attaches UTC with one
# subtraction and one addition, several times cheaper than astimezone().
_COLUMNS: Final = sql.SQL(
    "id, session_id, authentication_method, "
    "created_at AT TIME ZONE 'UTC' AS created_at, "
    "updated_at AT TIME ZONE 'UTC' AS updated_at"
)

# The conflict target names columns, not the constraint: it works whatever the
# unique constraint is called, and on PostgreSQL-compatible distributed engines.
# GREATEST keeps updated_at from moving backwards when clocks disagree.
_UPSERT_TAIL: Final = sql.SQL(
    """\
ON CONFLICT (session_id, authentication_method)
DO UPDATE SET updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)
RETURNING {columns}"""
)

_RECORD: Final = sql.SQL(
    """\
INSERT INTO {table} AS t ({names})
VALUES (%s, %s, %s, %s, %s)
{tail}"""
)

# One statement for the whole batch, so it is all or nothing even on an autocommit
# connection (executemany would commit item by item there). A trigger or rule that
# drops some of its rows would break that: the count of the rows written is checked
# in the statement, which fails (a cast of a text that is no number, the one way SQL
# has to raise) unless every row was written; the CASE depends on the count, so the
# planner cannot fold the failing branch into a constant and raise it early, and its
# value filters the result, so the planner cannot leave it out either. When every
# row is dropped, nothing is written and the result is empty: the store says so.
_RECORD_MANY: Final = sql.SQL(
    """\
WITH written AS (
INSERT INTO {table} AS t ({names})
SELECT * FROM unnest(
    %(ids)b::uuid[], %(sessions)b::uuid[], %(methods)b::text[],
    %(created)b::timestamp with time zone[], %(updated)b::timestamp with time zone[])
{tail}
), counted AS (
    SELECT CASE WHEN count(*) = %(rows)s::int8 THEN 0
        ELSE ({mark} || ' ' || (%(rows)s::int8 - count(*)) || ' of the batch''s '
            || %(rows)s::int8 || ' rows')::int END AS ok
    FROM written
)
SELECT written.* FROM written, counted WHERE counted.ok = 0"""
)

# COLLATE "C" compares UTF-8 bytes, which is code-point order, whatever the
# database's collation (Supabase databases usually run en_US.UTF-8).
_ORDER: Final = sql.SQL('ORDER BY updated_at DESC, authentication_method COLLATE "C"')

_CLAIMS: Final = sql.SQL("SELECT {columns} FROM {table} WHERE session_id = %s {order}")

# Binary parameters: a 1,000-UUID array is several times cheaper to send than text.
# Rows come grouped by session (in any order of sessions), so that by_session
# touches the result dictionary once per session rather than once per row.
_CLAIMS_MANY: Final = sql.SQL(
    "SELECT {columns} FROM {table} WHERE session_id = ANY(%b::uuid[]) "
    'ORDER BY session_id, updated_at DESC, authentication_method COLLATE "C"'
)

_GET: Final = sql.SQL("SELECT {columns} FROM {table} WHERE id = %s")

# A deletion that cannot act must say so. Row level security, a missing DELETE
# policy, a trigger or a rule can make a DELETE skip rows the role can see, and report
# nothing. So each deletion also reads, in the same statement and at the same
# snapshot, the rows it means to delete (what the role may see), and returns those
# the DELETE left: their ids and times, and the role, for the store to read them
# again and to name the role. Every part of one statement sees the table as it was
# when the statement began, so the read includes the rows the DELETE removed, and
# `NOT IN gone` leaves those out. A row another transaction deleted or changed
# meanwhile shows up here too; the store's second read (_CONFIRM) tells it apart.
# The aggregates give exactly one row, NULL arrays when nothing was left.
_CHECKED_DELETE: Final = sql.SQL(
    """\
WITH gone AS (
    DELETE FROM {table} WHERE {where} RETURNING id
)
SELECT (SELECT count(*) FROM gone), array_agg(id), array_agg(updated_at),
    current_user::text
FROM {table}
WHERE {where} AND id NOT IN (SELECT id FROM gone)"""
)

_REVOKE_WHERE: Final = sql.SQL(
    "session_id = %(session)s AND authentication_method = %(method)s"
)
_REVOKE_EVERYWHERE_WHERE: Final = sql.SQL(
    "session_id = ANY(%(sessions)b::uuid[]) AND authentication_method = %(method)s"
)
_DELETE_SESSIONS_WHERE: Final = sql.SQL("session_id = ANY(%(sessions)b::uuid[])")

# A session is idle since `before` when no claim of it was updated at or after then:
# the one definition of what a purge removes (every claim of such a session) and
# of what `mfa-amr purge --dry-run` counts. The claim the outer query looks at is `p`.
_IDLE: Final = sql.SQL(
    """\
NOT EXISTS (
            SELECT FROM {table} AS n
            WHERE n.session_id = p.session_id AND n.updated_at >= %(before)s)"""
)

# Purge, one batch: a page of up to %(rows)s claims in session order (the unique
# index on (session_id, authentication_method) gives that order), from after the
# last session of the page before; the page's sessions whose newest claim is older
# than `before` (NOT EXISTS looks past the page, for a session the page cut in two),
# as one array; and the deletion of their claims. The deletion checks `updated_at <
# before` row by row: a claim recorded again while the purge runs is locked by that
# record, and once it commits PostgreSQL re-checks the row's new version (READ
# COMMITTED), which then fails the check and survives. The rows left behind are
# returned, as by _CHECKED_DELETE, with the size of the page and its last session,
# from which the next batch goes on. `= ANY` of the array (not `IN` of the subquery)
# keeps each batch on the index even where the table has no statistics yet (a table
# just loaded), where the planner would otherwise scan the whole table per batch.
_PURGE: Final = sql.SQL(
    """\
WITH page AS (
    SELECT session_id, updated_at FROM {table}
    {after}
    ORDER BY session_id
    LIMIT %(rows)s
), doomed AS (
    SELECT array_agg(idle.session_id) AS sessions FROM (
        SELECT p.session_id FROM page AS p
        GROUP BY p.session_id
        HAVING max(p.updated_at) < %(before)s AND {idle}
    ) AS idle
), gone AS (
    DELETE FROM {table}
    WHERE session_id = ANY((SELECT sessions FROM doomed)::uuid[])
        AND updated_at < %(before)s
    RETURNING id
)
SELECT (SELECT count(*) FROM gone), array_agg(id), array_agg(updated_at),
    current_user::text, (SELECT count(*) FROM page),
    (SELECT session_id FROM page ORDER BY session_id DESC LIMIT 1)
FROM {table}
WHERE session_id = ANY((SELECT sessions FROM doomed)::uuid[]) AND updated_at < %(before)s
    AND id NOT IN (SELECT id FROM gone)"""
)
_PURGE_AFTER: Final = sql.SQL("WHERE session_id > %(after)s")

# What a purge at `before` would remove, counted and left in place (a dry run): the
# claims older than `before` of the sessions idle since then, as the purge's
# deletion picks them.
_PURGEABLE: Final = sql.SQL(
    """\
SELECT count(*) FROM {table} AS p
WHERE p.updated_at < %(before)s AND {idle}"""
)

# The rows a deletion left, read again in a statement of its own (a new snapshot,
# under READ COMMITTED): those still there unchanged were kept from the role.
_CONFIRM: Final = sql.SQL(
    """\
SELECT t.id FROM {table} AS t
JOIN unnest(%b::uuid[], %b::timestamp with time zone[]) AS left_(id, updated_at)
    ON t.id = left_.id AND t.updated_at = left_.updated_at"""
)


# -- names --------------------------------------------------------------------------


def check_identifier(value: object, what: str) -> str:
    """Return ``value`` if PostgreSQL keeps it as one name, unchanged.

    Any characters are accepted (quotes, semicolons, spaces: it is always quoted)
    except NUL, which PostgreSQL cannot store.

    Raises:
        InvalidInputError: not a non-empty ``str``, a NUL in it, or longer than
            63 bytes in UTF-8 (PostgreSQL would silently truncate it).
    """
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a non-empty str, got {value!r}")
    if "\x00" in value:
        raise InvalidInputError(f"{what} cannot contain NUL characters: {value!r}")
    try:
        size = len(value.encode())
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not encodable as UTF-8: {value!r}") from exc
    if size > MAX_IDENTIFIER_BYTES:
        raise InvalidInputError(
            f"{what} {value!r} is {size} bytes in UTF-8: PostgreSQL names are at "
            f"most {MAX_IDENTIFIER_BYTES} bytes"
        )
    return value


def _derived_name(table: str, suffix: str) -> str:
    """``<table>_<suffix>``, shortened as PostgreSQL would need, but with a digest of
    the full table name so that two long names still give distinct constraints."""
    name = f"{table}_{suffix}"
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(table.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER_BYTES - len(suffix) - len(digest) - 2
    head = table.encode()[:room].decode(errors="ignore")
    return f"{head}_{digest}_{suffix}"


def constraint_names(table: str) -> tuple[str, str]:
    """The (primary key, unique constraint) names of the claims table ``table``.

    The default table keeps the seed's names (``amr_id_pk``,
    ``mfa_amr_claims_session_id_authentication_method_pkey``). Any other table gets
    ``<table>_id_pkey`` and ``<table>_session_id_authentication_method_key``, so
    several claims tables can share a schema; the four suffixes end differently, so
    no derived name can equal another table's.
    """
    if table == DEFAULT_TABLE:
        return DEFAULT_PRIMARY_KEY, DEFAULT_UNIQUE
    return (
        _derived_name(table, "id_pkey"),
        _derived_name(table, "session_id_authentication_method_key"),
    )


def escaped_table(schema: str, table: str) -> sql.Identifier:
    """``schema.table`` as an identifier to compose into the text of a query sent
    with parameters.

    psycopg reads every ``%`` of such a text as the start of a placeholder, inside
    quoted identifiers too: the names are given with ``%%``, which psycopg turns back
    into ``%``. Text sent without parameters (the DDL script), or shown to a person,
    takes ``sql.Identifier(schema, table)`` as it is.
    """
    return sql.Identifier(schema.replace("%", "%%"), table.replace("%", "%%"))


def _render(template: sql.SQL, **parts: sql.Composable) -> str:
    # Rendered once per store, without a connection: identifiers are quoted by
    # psycopg's own escaping, and executing a fixed str lets psycopg reuse its parsed
    # query and prepared statement on every call.
    return template.format(**parts).as_string()


@attrs.frozen
class Statements:
    """Every statement of a claims table, rendered to text once.

    Attributes:
        schema: the schema name, as given.
        table: the table name, as given.
        ddl: the script that creates the schema, the table, its constraints and
            comment, idempotently.
        shown: the table's qualified name as error messages show it.
        purgeable: the count of the claims ``purge`` would remove at
            ``%(before)s``, removing nothing (``mfa-amr purge --dry-run``).
    """

    schema: str
    table: str
    ddl: str
    shown: str
    record: str
    record_many: str
    claims: str
    claims_many: str
    get: str
    revoke: str
    revoke_everywhere: str
    delete_sessions: str
    purge_first: str
    purge_next: str
    purgeable: str
    confirm: str

    @classmethod
    def for_table(
        cls, schema: str = DEFAULT_SCHEMA, table: str = DEFAULT_TABLE
    ) -> Statements:
        """Render the statements of ``schema.table``.

        Raises:
            InvalidInputError: a name PostgreSQL would not keep as given.
        """
        schema = check_identifier(schema, "schema")
        table = check_identifier(table, "table")
        primary_key, unique = constraint_names(table)
        # Every statement but the DDL goes with parameters, so takes the escaped
        # names; the DDL is sent without, so it takes the names as they are.
        ident = escaped_table(schema, table)
        idle = _IDLE.format(table=ident)
        common: dict[str, sql.Composable] = {
            "table": ident,
            "names": _NAMES,
            "columns": _COLUMNS,
            "tail": _UPSERT_TAIL.format(columns=_COLUMNS),
            "order": _ORDER,
        }
        return cls(
            schema=schema,
            table=table,
            shown=sql.Identifier(schema, table).as_string(),
            ddl=_render(
                _DDL,
                schema=sql.Identifier(schema),
                table=sql.Identifier(schema, table),
                primary_key=sql.Identifier(primary_key),
                unique=sql.Identifier(unique),
                comment=sql.Literal(TABLE_COMMENT),
            ),
            record=_render(_RECORD, **common),
            record_many=_render(
                _RECORD_MANY, mark=sql.Literal(DISCARDED_MARK), **common
            ),
            claims=_render(_CLAIMS, **common),
            claims_many=_render(_CLAIMS_MANY, **common),
            get=_render(_GET, **common),
            revoke=_render(_CHECKED_DELETE, table=ident, where=_REVOKE_WHERE),
            revoke_everywhere=_render(
                _CHECKED_DELETE, table=ident, where=_REVOKE_EVERYWHERE_WHERE
            ),
            delete_sessions=_render(
                _CHECKED_DELETE, table=ident, where=_DELETE_SESSIONS_WHERE
            ),
            purge_first=_render(_PURGE, table=ident, after=sql.SQL(""), idle=idle),
            purge_next=_render(_PURGE, table=ident, after=_PURGE_AFTER, idle=idle),
            purgeable=_render(_PURGEABLE, table=ident, idle=idle),
            confirm=_render(_CONFIRM, table=ident),
        )


def schema_sql(schema: str = DEFAULT_SCHEMA, table: str = DEFAULT_TABLE) -> str:
    """The DDL of the claims table, as a script to run or paste into a migration.

    It takes a transaction-scoped advisory lock (so that several deploys can run it
    at once), then creates the schema and the table if they do not exist, with the
    seed's five columns (no defaults: the store supplies ``id`` and both times), the
    primary key on ``id``, the unique constraint on ``(session_id,
    authentication_method)`` and Supabase's table comment. Running it again changes
    nothing.

    Raises:
        InvalidInputError: ``schema`` or ``table`` is not a name PostgreSQL keeps
            unchanged (empty, NUL, over 63 bytes).
    """
    return Statements.for_table(schema, table).ddl


# -- parameters ---------------------------------------------------------------------
# Every builder validates all of its input before returning, so a store refuses a
# bad call before any SQL runs.


def record_params(
    session_id: SessionIdLike,
    method: MethodLike,
    at: datetime | None,
    policy: Policy,
    clock: Clock,
    skew: timedelta,
) -> RecordParams:
    """Parameters of :attr:`Statements.record`: a fresh uuid4 ``id``, the session,
    the method, and ``at`` (or the clock) as both times.

    Raises:
        InvalidInputError: ``at`` lies more than ``skew`` ahead of the clock, or
            ``session_id``, ``method`` or ``at`` is invalid (its subclasses).
    """
    sid = to_uuid(session_id, "session_id")
    name = policy.check_recordable(method)
    when = record_at(at, clock, skew)
    return uuid.uuid4(), sid, name, when, when


def record_many_params(
    items: Iterable[RecordItem],
    policy: Policy,
    clock: Clock,
    skew: timedelta = STORE_SKEW,
) -> tuple[list[Pair], BatchParams]:
    """The distinct (session, method) pairs in order of first appearance, and the
    arrays of :attr:`Statements.record_many` (ids, sessions, methods, created and
    updated times, one element per row).

    A pair given several times becomes one row: ``ON CONFLICT`` cannot touch a row
    twice in one statement. Its ``created_at`` is its first ``at`` (what the first of
    sequential records would have created) and its ``updated_at`` the greatest (what
    the last would have left), which is exactly the result of recording the items
    one after another. ``at`` left out or ``None`` means the clock, read once.

    Raises:
        InvalidInputError: ``items`` or one item has the wrong shape, or an ``at``
            lies more than ``skew`` ahead of the clock.
        InvalidClaimError, InvalidMethodError, UnrecordableMethodError: as
            ``record``, naming the offending value.
    """
    first: dict[Pair, datetime] = {}
    last: dict[Pair, datetime] = {}
    for sid, name, when in record_items(items, policy, clock, skew):
        pair = (sid, name)
        held = last.get(pair)
        if held is None:
            first[pair] = last[pair] = when
        elif when > held:
            last[pair] = when
    pairs = list(first)
    # Rows go in one fixed order (session id, then method), so that concurrent
    # batches sharing pairs take their row locks in the same order and cannot
    # deadlock each other.
    ordered = sorted(pairs, key=lambda pair: (pair[0].int, pair[1]))
    params: BatchParams = (
        [uuid.uuid4() for _ in ordered],
        [sid for sid, _ in ordered],
        [name for _, name in ordered],
        [first[pair] for pair in ordered],
        [last[pair] for pair in ordered],
    )
    return pairs, params


def revoke_params(
    session_id: SessionIdLike, method: MethodLike
) -> dict[str, uuid.UUID | str]:
    """Parameters of :attr:`Statements.revoke`. The name may be any non-empty one a
    store can hold, also outside the syntax (another writer's ``'TOTP'``): revoking
    a name that is not stored simply finds nothing."""
    return {
        "session": to_uuid(session_id, "session_id"),
        "method": stored_name(method),
    }


def check_batch_size(value: object) -> int:
    """Return ``purge``'s ``batch_size``: a positive ``int``.

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            "batch_size must be a positive int (how many claims one statement of "
            f"purge looks at), got {value!r}"
        )
    return value


# -- rows ---------------------------------------------------------------------------


_NAIVE_EPOCH: Final = datetime(1970, 1, 1)


def _claim(values: Sequence[Any]) -> AMRClaim:
    # Rows are the table's own: trusted, so no validation per row (it would cost
    # more than decoding the row). The times arrive as naive UTC (see _COLUMNS).
    id_, session_id, method, created_at, updated_at = values
    return claim_from_row(
        id_,
        session_id,
        method,
        EPOCH + (created_at - _NAIVE_EPOCH),
        EPOCH + (updated_at - _NAIVE_EPOCH),
    )


def claim_row(cursor: Any) -> RowMaker[AMRClaim]:
    """A psycopg row factory making an :class:`~mfa_amr.AMRClaim` of each row.

    Set it on a cursor (``conn.cursor(row_factory=claim_row)``), never on a
    connection the caller owns. Works for sync and async cursors alike.
    """
    return _claim


def in_pair_order(
    pairs: Sequence[Pair], claims: Iterable[AMRClaim], table: str
) -> list[AMRClaim]:
    """The claims returned by a batch, in the order of ``pairs``: ``RETURNING``
    promises no order.

    Raises:
        WriteDiscardedError: a pair has no claim (a trigger or rule discarded or
            changed its row).
    """
    by_pair = {(c.session_id, c.authentication_method): c for c in claims}
    missing = [pair for pair in pairs if pair not in by_pair]
    if missing:
        sid, name = missing[0]
        outcome = (
            "nothing was recorded"
            if len(missing) == len(pairs)
            else "the claims it returned were recorded"
        )
        raise WriteDiscardedError(
            f"PostgreSQL returned no row for {len(missing)} of the batch's "
            f"{len(pairs)} claims in {table} (the first: session {sid}, method "
            f"{name!r}): a trigger or rule on the table discarded or changed them, "
            f"and {outcome}; remove the trigger or rule or make it keep the rows (a "
            "BEFORE trigger must return NEW)"
        )
    return [by_pair[pair] for pair in pairs]


def by_session(
    sids: Iterable[uuid.UUID], claims: Iterable[AMRClaim]
) -> dict[uuid.UUID, list[AMRClaim]]:
    """Claims grouped by session, every asked session a key, the query's order
    kept within each session; ``claims`` must come grouped by session."""
    out: dict[uuid.UUID, list[AMRClaim]] = {sid: [] for sid in sids}
    group: list[AMRClaim] = []
    current = -1
    for claim in claims:
        # UUID's own __eq__ and __hash__ are Python code: comparing the ints is
        # several times cheaper, and the dictionary is then used once per session.
        key = claim.session_id.int
        if key != current:
            group = out[claim.session_id]
            current = key
        group.append(claim)
    return out


# -- operations ---------------------------------------------------------------------
# What a store does, but for executing the statement: both stores build the same Call
# for an operation, so they cannot differ in anything but the awaiting.

CREATING: Final = "creating the claims table"
"""What ``create_schema`` does, for its error messages."""

Params: TypeAlias = "Sequence[Any] | Mapping[str, Any]"
Step: TypeAlias = "_T | Call[_T]"


@attrs.frozen
class Call(Generic[_T]):
    """One statement of a store's operation on its table, without the I/O.

    A store runs it the same way whether it awaits or not: it executes ``query`` with
    ``params`` on a cursor whose row factory is ``row_factory`` (binary, unless
    ``params`` is ``None``), fetches all rows if ``returns_rows``, and gives
    ``finish`` the rows and the cursor's ``rowcount``. What ``finish`` returns is the
    operation's answer, or another :class:`Call` to run next (the next batch of a
    purge, a second look at what a deletion left), on a connection borrowed anew. A
    psycopg error becomes :func:`store_error` of it and the call. A call whose
    ``query`` is ``None`` needs no round trip (an empty batch): its answer is
    ``finish([], 0)``.

    Attributes:
        doing: what the operation does, for error messages (``"recording a
            claim"``).
        query: the statement's text, one of the :class:`Statements`, or ``None``.
        params: the statement's parameters, validated; ``None`` for the DDL script,
            which then goes as one simple query (the simple protocol takes neither
            parameters nor binary results, and runs several statements).
        returns_rows: whether the statement returns rows to fetch.
        finish: makes the answer, or the next call, of the rows and the row count.
        table: the table's qualified name, for error messages.
        session_id: the session a single record is for, named by
            :class:`~mfa_amr.exceptions.SessionNotFoundError`.
        writes: the statement changes the table: inside the caller's transaction it
            runs under a savepoint.
        deletes: the statement deletes claims: a refusal is a
            :class:`~mfa_amr.exceptions.RevocationRefusedError`.
        row_factory: makes each row: :func:`claim_row`, or psycopg's ``tuple_row``
            for the answers that are not claims.
    """

    doing: str
    query: str | None
    params: Params | None
    returns_rows: bool
    finish: Callable[[list[Any], int], Step[_T]]
    table: str = ""
    session_id: uuid.UUID | None = None
    writes: bool = False
    deletes: bool = False
    row_factory: Callable[[Any], RowMaker[Any]] = claim_row

    @property
    def binary(self) -> bool:
        """Whether results come in binary: all but the DDL script's."""
        return self.params is not None


def _nothing(rows: list[AMRClaim], count: int) -> None:
    return None


def _rows(rows: list[AMRClaim], count: int) -> list[AMRClaim]:
    return rows


def _row_or_none(rows: list[AMRClaim], count: int) -> AMRClaim | None:
    return rows[0] if rows else None


def _refused(table: str, role: str, count: int, doing: str) -> RevocationRefusedError:
    return RevocationRefusedError(
        f"{count} claim(s) of {table} that the role {role!r} can see were not "
        f"deleted while {doing}: row level security lets the role read them but not "
        "delete them, or it lacks a privilege, or a trigger or rule kept them, so "
        "the sessions keep those claims; give the role DELETE on the table and a "
        "row level security policy FOR DELETE (see the PostgreSQL docs of mfa-amr, "
        '"Grants and row level security")'
    )


# The methods below take a parameter named session_ids, which hides the function.
_session_ids: Final = session_ids


@attrs.frozen
class Operations:
    """Every operation of a PostgreSQL store on one claims table, as a :class:`Call`.

    Each method validates its input (raising before anything is sent), reads the
    clock when it must, and returns the call to execute. The methods take the
    arguments of the :class:`~mfa_amr.stores.ClaimStore` method of the same name.

    Attributes:
        statements: the table's statements.
        policy: decides which methods may be recorded.
        clock: read when ``at`` is left out, and to refuse an ``at`` from the
            future.
        skew: how far ahead of the clock an ``at`` may lie.
    """

    statements: Statements
    policy: Policy
    clock: Clock
    skew: timedelta

    @classmethod
    def for_table(
        cls,
        schema: str,
        table: str,
        clock: Clock | None = None,
        policy: Policy | None = None,
        skew: timedelta | float = STORE_SKEW,
    ) -> Operations:
        """The operations of ``schema.table``; ``None`` for ``clock`` or ``policy``
        means the default (the real UTC time, ``Policy.supabase()``).

        Raises:
            InvalidInputError: a name PostgreSQL would not keep as given, a clock
                that is not callable, a policy that is not a ``Policy``, a negative
                or non-numeric skew.
        """
        statements = Statements.for_table(schema, table)
        return cls(
            statements, check_policy(policy), check_clock(clock), check_skew(skew)
        )

    def _call(
        self,
        doing: str,
        query: str | None,
        params: Params | None,
        finish: Callable[[list[Any], int], Step[_T]],
        *,
        returns_rows: bool = True,
        session_id: uuid.UUID | None = None,
        writes: bool = False,
        deletes: bool = False,
        row_factory: Callable[[Any], RowMaker[Any]] = claim_row,
    ) -> Call[_T]:
        return Call(
            doing,
            query,
            params,
            returns_rows,
            finish,
            self.statements.shown,
            session_id,
            writes,
            deletes,
            row_factory,
        )

    def create_schema(self) -> Call[None]:
        """The DDL script, idempotent, sent without parameters as one simple query
        (the server runs it as one implicit transaction)."""
        return self._call(
            CREATING, self.statements.ddl, None, _nothing, returns_rows=False
        )

    def record(
        self, session_id: SessionIdLike, method: MethodLike, at: datetime | None
    ) -> Call[AMRClaim]:
        """One upsert, returning the claim as stored."""
        params = record_params(
            session_id, method, at, self.policy, self.clock, self.skew
        )
        table = self.statements.shown

        def finish(rows: list[AMRClaim], count: int) -> AMRClaim:
            if not rows:
                raise WriteDiscardedError(
                    f"PostgreSQL stored no row for the claim (session {params[1]}, "
                    f"method {params[2]!r}) in {table}: a trigger or rule on the "
                    "table discarded the write, so nothing was recorded; remove it "
                    "or make it keep the row (a BEFORE trigger must return NEW)"
                )
            return rows[0]  # RETURNING yields the row inserted or updated

        return self._call(
            "recording a claim",
            self.statements.record,
            params,
            finish,
            session_id=params[1],
            writes=True,
        )

    def record_many(self, items: Iterable[RecordItem]) -> Call[list[AMRClaim]]:
        """One upsert of the whole batch, returning a claim per distinct pair in
        order of first appearance; nothing to send for an empty batch."""
        pairs, arrays = record_many_params(items, self.policy, self.clock, self.skew)
        table = self.statements.shown

        def finish(rows: list[AMRClaim], count: int) -> list[AMRClaim]:
            return in_pair_order(pairs, rows, table)

        ids, sessions, methods, created, updated = arrays
        params = {
            "ids": ids,
            "sessions": sessions,
            "methods": methods,
            "created": created,
            "updated": updated,
            "rows": len(pairs),
        }
        query = self.statements.record_many if pairs else None
        return self._call(
            "recording a batch of claims", query, params, finish, writes=True
        )

    def claims(self, session_id: SessionIdLike) -> Call[list[AMRClaim]]:
        """One ``SELECT`` of the session's claims, in the protocol's order."""
        sid = to_uuid(session_id, "session_id")
        return self._call("reading claims", self.statements.claims, (sid,), _rows)

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> Call[dict[uuid.UUID, list[AMRClaim]]]:
        """One ``SELECT ... = ANY`` of the sessions' claims, grouped by session;
        nothing to send for no session."""
        sids = _session_ids(session_ids, "claims_many")

        def finish(rows: list[AMRClaim], count: int) -> dict[uuid.UUID, list[AMRClaim]]:
            return by_session(sids, rows)

        query = self.statements.claims_many if sids else None
        return self._call("reading claims", query, (sids,), finish)

    def get(self, claim_id: SessionIdLike) -> Call[AMRClaim | None]:
        """One ``SELECT`` by ``id``."""
        cid = to_uuid(claim_id, "claim_id")
        return self._call("reading a claim", self.statements.get, (cid,), _row_or_none)

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> Call[bool]:
        """One checked ``DELETE`` of the pair; whether there was a claim."""
        params = revoke_params(session_id, method)
        return self._deletion(
            "revoking a claim", self.statements.revoke, params, lambda n: n > 0
        )

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> Call[int]:
        """One checked ``DELETE`` of the method across the sessions; claims
        removed."""
        sids = _session_ids(session_ids, "revoke_everywhere")
        name = stored_name(method)
        query = self.statements.revoke_everywhere if sids else None
        params = {"sessions": sids, "method": name}
        return self._deletion("revoking claims", query, params, _same)

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> Call[int]:
        """One checked ``DELETE`` of the sessions' claims; claims removed."""
        sids = _session_ids(session_ids, "delete_sessions")
        query = self.statements.delete_sessions if sids else None
        return self._deletion(
            "deleting sessions' claims", query, {"sessions": sids}, _same
        )

    def purge(
        self,
        before: datetime,
        batch_size: int = DEFAULT_PURGE_BATCH,
        progress: Callable[[int], object] | None = None,
    ) -> Call[int]:
        """The first batch of the purge of the sessions idle since before
        ``before``; each batch's answer is the next batch, until the last answers
        the claims removed in all. ``progress`` is told the claims removed so far
        after each batch that removed any.

        Raises:
            InvalidClaimError: ``before`` is not an aware datetime.
            InvalidInputError: ``batch_size`` is not a positive int, or
                ``progress`` is not callable.
        """
        cutoff = to_utc(before, "before")
        rows = check_batch_size(batch_size)
        if progress is not None and not callable(progress):
            raise InvalidInputError(
                f"progress must be a callable taking the claims removed so far, got "
                f"{type(progress).__name__}"
            )
        return self._purge_batch(cutoff, rows, None, 0, progress)

    # -- deletions ------------------------------------------------------------------

    def _deletion(
        self,
        doing: str,
        query: str | None,
        params: Params,
        answer: Callable[[int], _T],
    ) -> Call[_T]:
        """A checked deletion (:data:`_CHECKED_DELETE`): its answer made of the
        count removed, after a second look at any claim it left."""

        def finish(rows: list[Any], count: int) -> Step[_T]:
            if not rows:  # no statement was sent: an empty batch
                return answer(0)
            removed, ids, times, role = rows[0]
            return self._after_deletion(doing, ids, times, role, answer(removed))

        return self._call(
            doing,
            query,
            params,
            finish,
            writes=True,
            deletes=True,
            row_factory=tuple_row,
        )

    def _after_deletion(
        self,
        doing: str,
        ids: list[uuid.UUID] | None,
        times: list[datetime] | None,
        role: str,
        then: Step[_T],
    ) -> Step[_T]:
        """``then`` if the deletion left no claim it could see; else a second read
        of those claims, in a statement of its own: a claim another transaction
        deleted or changed meanwhile is gone from it (no refusal, ``then``), one
        still there unchanged was kept from the role."""
        if not ids:
            return then
        table = self.statements.shown

        def finish(rows: list[Any], count: int) -> Step[_T]:
            if rows:
                raise _refused(table, role, len(rows), doing)
            return then

        return self._call(
            doing,
            self.statements.confirm,
            (ids, times),
            finish,
            deletes=True,
            row_factory=tuple_row,
        )

    def _purge_batch(
        self,
        before: datetime,
        rows: int,
        after: uuid.UUID | None,
        removed: int,
        progress: Callable[[int], object] | None,
    ) -> Call[int]:
        """One batch of a purge, from after the session ``after`` (``None``: from
        the start), ``removed`` claims removed by the batches before it."""
        params: dict[str, Any] = {"before": before, "rows": rows}
        if after is None:
            query = self.statements.purge_first
        else:
            query = self.statements.purge_next
            params["after"] = after

        def finish(result: list[Any], count: int) -> Step[int]:
            gone, ids, times, role, scanned, last = result[0]
            total = removed + gone
            then: Step[int] = total
            if scanned == rows:  # a full page: there may be more
                then = self._purge_batch(before, rows, last, total, progress)
            step = self._after_deletion("purging old claims", ids, times, role, then)
            if progress is not None and gone:  # a last, empty page tells nothing new
                progress(total)
            return step

        return self._call(
            "purging old claims",
            query,
            params,
            finish,
            writes=True,
            deletes=True,
            row_factory=tuple_row,
        )


def _same(count: int) -> int:
    return count


# -- sources ------------------------------------------------------------------------


def source_error(source: object, wanted: str, instead: str) -> InvalidInputError:
    """The error for a ``source`` a store's constructor does not take; the store
    raises it.

    A connection or pool of the other kind, synchronous given to the asyncio store or
    the reverse, is told apart and pointed to the store that takes it. Anything else
    gets ``"<wanted>, got <type>; <instead>"``: the store says what it takes, and what
    to do with a connection string.
    """
    kind = type(source).__name__
    if isinstance(source, (psycopg.Connection, ConnectionPool)):
        return InvalidInputError(
            f"source is a {kind}: use PostgresClaimStore for synchronous connections "
            "and pools"
        )
    if isinstance(source, (psycopg.AsyncConnection, AsyncConnectionPool)):
        return InvalidInputError(
            f"source is a {kind}: use AsyncPostgresClaimStore for asyncio connections "
            "and pools"
        )
    return InvalidInputError(f"{wanted}, got {kind}; {instead}")


def check_connect_timeout(value: object) -> float:
    """Return ``connect()``'s ``connect_timeout``: positive, finite seconds.

    Raises:
        InvalidInputError: anything else.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise InvalidInputError(
            "connect_timeout must be a positive number of seconds (how long "
            f"connect() waits for the first connection), got {value!r}"
        )
    return float(value)


def probe_kwargs(
    conninfo: str, kwargs: Mapping[str, Any], timeout: float
) -> dict[str, Any]:
    """The keyword arguments of the connections a store's own pool opens: the
    caller's ``kwargs``, autocommit always, and ``timeout`` as libpq's
    ``connect_timeout`` (whole seconds, at least 2, as libpq counts it) unless the
    connection string or ``kwargs`` sets one, so that no attempt waits for psycopg's
    default of over two minutes.

    Raises:
        InvalidInputError: ``conninfo`` is not a valid connection string.
    """
    out = {**kwargs, "autocommit": True}
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise InvalidInputError(
            f"conninfo is not a libpq connection string or URI: {_first_line(exc)}"
        ) from exc
    if "connect_timeout" not in given and "connect_timeout" not in out:
        out["connect_timeout"] = max(2, int(-(-timeout // 1)))
    return out


# -- errors -------------------------------------------------------------------------

# SQLSTATEs that mean the server is unreachable or the connection is gone: class 08
# (connection exception), shutdowns and "cannot connect now", too many connections.
_UNAVAILABLE_STATES: Final = frozenset({"57P01", "57P02", "57P03", "53300"})
_MISSING_STATES: Final = frozenset({"42P01", "3F000"})  # undefined table, schema

# A connection that fails has no SQLSTATE in psycopg (libpq gives only its message),
# so a refused connection is told by the words PostgreSQL and libpq use. A server
# that is up but will not take the connection now (starting, stopping, full) may
# take it in a moment; the refusals that name a wrong user, password, database or
# pg_hba.conf rule will not change by waiting. Anything not recognised (a server
# speaking another language, say) counts as unavailable: retrying costs little.
_COMES_BACK: Final = (
    "starting up",
    "shutting down",
    "in recovery mode",
    "not yet accepting connections",
    "too many clients",
    "connection slots are reserved",
    "terminating connection",
)
_REFUSED: Final = (
    "authentication failed",
    "no pg_hba.conf entry",
    "pg_hba.conf rejects",
    "does not exist",
    "is not permitted to log in",
    "no password supplied",
    "permission denied for database",
    "password is expired",
)


def connect_error(exc: psycopg.Error) -> StoreError:
    """The error for a first connection that failed; the caller raises it ``from
    exc``.

    - The server refused the credentials, the role, the database or the host
      (pg_hba.conf): :class:`~mfa_amr.exceptions.StoreConfigurationError`, not worth
      retrying.
    - Anything else (refused or unreachable host, a timeout, a server starting up
      or full): :class:`~mfa_amr.exceptions.StoreUnavailableError`.
    """
    text = _first_line(exc).removeprefix("connection failed: ")
    lowered = str(exc).lower()
    if not any(words in lowered for words in _COMES_BACK) and any(
        words in lowered for words in _REFUSED
    ):
        return StoreConfigurationError(
            f"PostgreSQL refused the connection: {text}; waiting will not help: "
            "check the user, password and database of the connection string (and "
            "pg_hba.conf)"
        )
    return StoreUnavailableError(
        f"PostgreSQL cannot be reached: {text}; check the host and port and that "
        "the server is running (a retry may succeed once it is)"
    )


def store_error(
    exc: psycopg.Error,
    doing: str,
    session_id: uuid.UUID | None = None,
    *,
    table: str = "the claims table",
    writes: bool = False,
    deletes: bool = False,
) -> StoreError:
    """The :mod:`mfa_amr.exceptions` error for a psycopg error; the caller raises it
    ``from exc``.

    - The connection failed or dropped, a pool timed out or is closed:
      :class:`~mfa_amr.exceptions.StoreUnavailableError`.
    - A foreign key refused a claim (a Supabase-style table whose session row does
      not exist): :class:`~mfa_amr.exceptions.SessionNotFoundError`.
    - The table or its schema does not exist:
      :class:`~mfa_amr.exceptions.TableNotFoundError`.
    - A privilege or a row level security policy refused the statement:
      :class:`~mfa_amr.exceptions.RevocationRefusedError` when it was to delete
      claims (``deletes``), else :class:`~mfa_amr.exceptions.StoreConfigurationError`.
    - A trigger or rule discarded part of a batch, or a rule keeps a write
      (``writes``) from running: :class:`~mfa_amr.exceptions.WriteDiscardedError`.
    - Anything else: :class:`~mfa_amr.exceptions.StoreError`.
    """
    state = exc.sqlstate
    said = _first_line(exc)
    if isinstance(exc, psycopg.OperationalError) and (
        state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    ):
        return StoreUnavailableError(
            f"PostgreSQL is unavailable while {doing}: {said}; retry once the "
            "server is back"
        )
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        diag = exc.diag
        who = f"session {session_id}" if session_id is not None else "a session"
        return SessionNotFoundError(
            f"{who} does not exist: the foreign key {diag.constraint_name!r} on "
            f"{diag.schema_name}.{diag.table_name} refused the claim "
            f"({diag.message_detail or said}); create the session row "
            "first, or record claims only for live sessions"
        )
    if state in _MISSING_STATES:
        return TableNotFoundError(
            f"the claims table {table} does not exist ({said}) while {doing}: "
            "create it with the store's create_schema(), or run the script of "
            "schema_sql() in a migration; or give the store the schema= and table= "
            "of the existing table"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        refused = RevocationRefusedError if deletes else StoreConfigurationError
        return refused(
            f"PostgreSQL refused {doing} on {table}: {said}; grant the role the "
            "store connects as what the operation needs (SELECT, INSERT, UPDATE, "
            "DELETE on the table, and row level security policies for each: see "
            'the PostgreSQL docs of mfa-amr, "Grants and row level security")'
        )
    if isinstance(exc, psycopg.errors.InvalidTextRepresentation) and (
        DISCARDED_MARK in said
    ):
        how_many = said.partition(DISCARDED_MARK)[2].strip(' "')
        return WriteDiscardedError(
            f"PostgreSQL would have stored only part of the batch in {table}: a "
            f"trigger or rule on the table discarded {how_many}, so nothing of the "
            "batch was recorded; remove the trigger or rule or make it keep the "
            "rows (a BEFORE trigger must return NEW)"
        )
    if writes and isinstance(exc, psycopg.errors.FeatureNotSupported):
        hint = exc.diag.message_hint
        return WriteDiscardedError(
            f"PostgreSQL refused {doing} in {table}: {said}"
            + (f" ({hint})" if hint else "")
            + "; a rule on the table rewrites the write, so nothing was recorded: "
            "drop the rule (the store's upsert needs INSERT ... ON CONFLICT ... "
            "RETURNING on the table itself)"
        )
    if isinstance(exc, psycopg.errors.InFailedSqlTransaction):
        return StoreError(
            f"PostgreSQL refused {doing}: the transaction of the connection given to "
            "the store was aborted by an earlier error; roll it back (or back to a "
            "savepoint of yours) before using the store on this connection again"
        )
    return StoreError(f"PostgreSQL failed while {doing}: {said}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
