"""The PostgreSQL stores' SQL, written once: query text, parameters, row mapping.

Nothing here does I/O. :class:`~mfa_amr.stores.postgres.PostgresClaimStore` and
:class:`~mfa_amr.stores.postgres.AsyncPostgresClaimStore` take every operation from
the same :class:`Operations`: it validates the input, builds the parameters of one of
the :class:`Statements`, and says how the cursor's rows (made by :func:`claim_row`)
become the answer, as a :class:`Call`. A store only executes the call, awaiting or
not, and translates the driver's errors with :func:`store_error`; both refuse a
source they cannot use with :func:`source_error`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeAlias, TypeVar

import attrs
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mfa_amr._claims import AMRClaim, claim_from_row
from mfa_amr._errors import (
    InvalidInputError,
    SessionNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from mfa_amr._grammar import EPOCH, to_utc, to_uuid, validate_method
from mfa_amr._policy import Policy
from mfa_amr.stores._input import (
    check_clock,
    check_policy,
    now,
    record_items,
    session_ids,
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

_DDL: Final = sql.SQL(
    """\
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
# connection (executemany would commit item by item there).
_RECORD_MANY: Final = sql.SQL(
    """\
INSERT INTO {table} AS t ({names})
SELECT * FROM unnest(
    %b::uuid[], %b::uuid[], %b::text[],
    %b::timestamp with time zone[], %b::timestamp with time zone[])
{tail}"""
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

_REVOKE: Final = sql.SQL(
    "DELETE FROM {table} WHERE session_id = %s AND authentication_method = %s"
)

_REVOKE_EVERYWHERE: Final = sql.SQL(
    "DELETE FROM {table} "
    "WHERE session_id = ANY(%b::uuid[]) AND authentication_method = %s"
)

_DELETE_SESSIONS: Final = sql.SQL(
    "DELETE FROM {table} WHERE session_id = ANY(%b::uuid[])"
)

_PURGE: Final = sql.SQL(
    """\
DELETE FROM {table}
WHERE session_id IN (
    SELECT session_id FROM {table}
    GROUP BY session_id
    HAVING max(updated_at) < %s)"""
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
    """

    schema: str
    table: str
    ddl: str
    record: str
    record_many: str
    claims: str
    claims_many: str
    get: str
    revoke: str
    revoke_everywhere: str
    delete_sessions: str
    purge: str

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
        # In the text of a query sent with parameters, psycopg reads every '%' as
        # the start of a placeholder, inside quoted identifiers too: such names are
        # given with '%%', which psycopg turns back into '%'. The DDL is sent
        # without parameters, so it takes the names as they are.
        ident = sql.Identifier(schema.replace("%", "%%"), table.replace("%", "%%"))
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
            ddl=_render(
                _DDL,
                schema=sql.Identifier(schema),
                table=sql.Identifier(schema, table),
                primary_key=sql.Identifier(primary_key),
                unique=sql.Identifier(unique),
                comment=sql.Literal(TABLE_COMMENT),
            ),
            record=_render(_RECORD, **common),
            record_many=_render(_RECORD_MANY, **common),
            claims=_render(_CLAIMS, **common),
            claims_many=_render(_CLAIMS_MANY, **common),
            get=_render(_GET, **common),
            revoke=_render(_REVOKE, table=ident),
            revoke_everywhere=_render(_REVOKE_EVERYWHERE, table=ident),
            delete_sessions=_render(_DELETE_SESSIONS, table=ident),
            purge=_render(_PURGE, table=ident),
        )


def schema_sql(schema: str = DEFAULT_SCHEMA, table: str = DEFAULT_TABLE) -> str:
    """The DDL of the claims table, as a script to run or paste into a migration.

    It creates the schema and the table if they do not exist, with the seed's five
    columns (no defaults: the store supplies ``id`` and both times), the primary key
    on ``id``, the unique constraint on ``(session_id, authentication_method)`` and
    Supabase's table comment. Running it again changes nothing.

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
) -> RecordParams:
    """Parameters of :attr:`Statements.record`: a fresh uuid4 ``id``, the session,
    the method, and ``at`` (or the clock) as both times."""
    sid = to_uuid(session_id, "session_id")
    name = policy.check_recordable(method)
    when = now(clock) if at is None else to_utc(at, "at")
    return uuid.uuid4(), sid, name, when, when


def record_many_params(
    items: Iterable[RecordItem], policy: Policy, clock: Clock
) -> tuple[list[Pair], BatchParams]:
    """The distinct (session, method) pairs in order of first appearance, and the
    parameters of :attr:`Statements.record_many`.

    A pair given several times becomes one row: ``ON CONFLICT`` cannot touch a row
    twice in one statement. Its ``created_at`` is its first ``at`` (what the first of
    sequential records would have created) and its ``updated_at`` the greatest (what
    the last would have left), which is exactly the result of recording the items
    one after another. ``at`` left out or ``None`` means the clock, read once.

    Raises:
        InvalidInputError: ``items`` or one item has the wrong shape.
        InvalidClaimError, InvalidMethodError, UnrecordableMethodError: as
            ``record``, naming the offending value.
    """
    first: dict[Pair, datetime] = {}
    last: dict[Pair, datetime] = {}
    for sid, name, when in record_items(items, policy, clock):
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
) -> tuple[uuid.UUID, str]:
    """Parameters of :attr:`Statements.revoke`; only the name's syntax is checked,
    so revoking a method the policy would not record simply finds nothing."""
    return to_uuid(session_id, "session_id"), validate_method(method)


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


def in_pair_order(pairs: Sequence[Pair], claims: Iterable[AMRClaim]) -> list[AMRClaim]:
    """The claims returned by a batch, in the order of ``pairs``: ``RETURNING``
    promises no order."""
    by_pair = {(c.session_id, c.authentication_method): c for c in claims}
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


@attrs.frozen
class Call(Generic[_T]):
    """One operation of a store on its table, without the I/O.

    A store runs it the same way whether it awaits or not: it executes ``query`` with
    ``params`` on a cursor whose row factory is :func:`claim_row` (binary, unless
    ``params`` is ``None``), fetches all rows if ``returns_rows``, and gives
    ``finish`` the rows and the cursor's ``rowcount``; what ``finish`` returns is the
    operation's answer. A psycopg error becomes ``store_error(exc, doing,
    session_id)``. A call whose ``query`` is ``None`` needs no round trip (an empty
    batch): its answer is ``finish([], 0)``.

    Attributes:
        doing: what the operation does, for error messages (``"recording a
            claim"``).
        query: the statement's text, one of the :class:`Statements`, or ``None``.
        params: the statement's parameters, validated; ``None`` for the DDL script,
            which then goes as one simple query (the simple protocol takes neither
            parameters nor binary results, and runs several statements).
        returns_rows: whether the statement returns rows to fetch.
        finish: makes the answer of the rows and the row count.
        session_id: the session a single record is for, named by
            :class:`~mfa_amr.exceptions.SessionNotFoundError`.
    """

    doing: str
    query: str | None
    params: Sequence[Any] | None
    returns_rows: bool
    finish: Callable[[list[AMRClaim], int], _T]
    session_id: uuid.UUID | None = None


def _nothing(rows: list[AMRClaim], count: int) -> None:
    return None


def _the_row(rows: list[AMRClaim], count: int) -> AMRClaim:
    return rows[0]  # RETURNING yields the row inserted or updated


def _row_or_none(rows: list[AMRClaim], count: int) -> AMRClaim | None:
    return rows[0] if rows else None


def _rows(rows: list[AMRClaim], count: int) -> list[AMRClaim]:
    return rows


def _count(rows: list[AMRClaim], count: int) -> int:
    return count


def _any(rows: list[AMRClaim], count: int) -> bool:
    return count > 0


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
        clock: read when ``at`` is left out.
    """

    statements: Statements
    policy: Policy
    clock: Clock

    @classmethod
    def for_table(
        cls,
        schema: str,
        table: str,
        clock: Clock | None = None,
        policy: Policy | None = None,
    ) -> Operations:
        """The operations of ``schema.table``; ``None`` for ``clock`` or ``policy``
        means the default (the real UTC time, ``Policy.supabase()``).

        Raises:
            InvalidInputError: a name PostgreSQL would not keep as given, a clock
                that is not callable, a policy that is not a ``Policy``.
        """
        statements = Statements.for_table(schema, table)
        return cls(statements, check_policy(policy), check_clock(clock))

    def create_schema(self) -> Call[None]:
        """The DDL script, idempotent, sent without parameters as one simple query
        (the server runs it as one implicit transaction)."""
        return Call(CREATING, self.statements.ddl, None, False, _nothing)

    def record(
        self, session_id: SessionIdLike, method: MethodLike, at: datetime | None
    ) -> Call[AMRClaim]:
        """One upsert, returning the claim as stored."""
        params = record_params(session_id, method, at, self.policy, self.clock)
        return Call(
            "recording a claim",
            self.statements.record,
            params,
            True,
            _the_row,
            params[1],
        )

    def record_many(self, items: Iterable[RecordItem]) -> Call[list[AMRClaim]]:
        """One upsert of the whole batch, returning a claim per distinct pair in
        order of first appearance; nothing to send for an empty batch."""
        pairs, params = record_many_params(items, self.policy, self.clock)

        def finish(rows: list[AMRClaim], count: int) -> list[AMRClaim]:
            return in_pair_order(pairs, rows)

        query = self.statements.record_many if pairs else None
        return Call("recording a batch of claims", query, params, True, finish)

    def claims(self, session_id: SessionIdLike) -> Call[list[AMRClaim]]:
        """One ``SELECT`` of the session's claims, in the protocol's order."""
        sid = to_uuid(session_id, "session_id")
        return Call("reading claims", self.statements.claims, (sid,), True, _rows)

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> Call[dict[uuid.UUID, list[AMRClaim]]]:
        """One ``SELECT ... = ANY`` of the sessions' claims, grouped by session;
        nothing to send for no session."""
        sids = _session_ids(session_ids, "claims_many")

        def finish(rows: list[AMRClaim], count: int) -> dict[uuid.UUID, list[AMRClaim]]:
            return by_session(sids, rows)

        query = self.statements.claims_many if sids else None
        return Call("reading claims", query, (sids,), True, finish)

    def get(self, claim_id: SessionIdLike) -> Call[AMRClaim | None]:
        """One ``SELECT`` by ``id``."""
        cid = to_uuid(claim_id, "claim_id")
        return Call("reading a claim", self.statements.get, (cid,), True, _row_or_none)

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> Call[bool]:
        """One ``DELETE`` of the pair; whether there was a claim."""
        params = revoke_params(session_id, method)
        return Call("revoking a claim", self.statements.revoke, params, False, _any)

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> Call[int]:
        """One ``DELETE`` of the method across the sessions; claims removed."""
        sids = _session_ids(session_ids, "revoke_everywhere")
        name = validate_method(method)
        query = self.statements.revoke_everywhere if sids else None
        return Call("revoking claims", query, (sids, name), False, _count)

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> Call[int]:
        """One ``DELETE`` of the sessions' claims; claims removed."""
        sids = _session_ids(session_ids, "delete_sessions")
        query = self.statements.delete_sessions if sids else None
        return Call("deleting sessions' claims", query, (sids,), False, _count)

    def purge(self, before: datetime) -> Call[int]:
        """One ``DELETE`` of the sessions idle since before ``before``; claims
        removed."""
        cutoff = to_utc(before, "before")
        return Call(
            "purging old claims", self.statements.purge, (cutoff,), False, _count
        )


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


# -- errors -------------------------------------------------------------------------

# SQLSTATEs that mean the server is unreachable or the connection is gone: class 08
# (connection exception), shutdowns and "cannot connect now", too many connections.
_UNAVAILABLE_STATES: Final = frozenset({"57P01", "57P02", "57P03", "53300"})


def store_error(
    exc: psycopg.Error, doing: str, session_id: uuid.UUID | None = None
) -> StoreError:
    """The :mod:`mfa_amr.exceptions` error for a psycopg error; the caller raises it
    ``from exc``.

    - The connection failed or dropped, a pool timed out or is closed:
      :class:`~mfa_amr.exceptions.StoreUnavailableError`.
    - A foreign key refused a claim (a Supabase-style table whose session row does
      not exist): :class:`~mfa_amr.exceptions.SessionNotFoundError`.
    - Anything else: :class:`~mfa_amr.exceptions.StoreError`.
    """
    state = exc.sqlstate
    if isinstance(exc, psycopg.OperationalError) and (
        state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    ):
        return StoreUnavailableError(
            f"PostgreSQL is unavailable while {doing}: {_first_line(exc)}"
        )
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        diag = exc.diag
        who = f"session {session_id}" if session_id is not None else "a session"
        return SessionNotFoundError(
            f"{who} does not exist: the foreign key {diag.constraint_name!r} on "
            f"{diag.schema_name}.{diag.table_name} refused the claim "
            f"({diag.message_detail or _first_line(exc)}); create the session row "
            "first, or record claims only for live sessions"
        )
    return StoreError(f"PostgreSQL failed while {doing}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
