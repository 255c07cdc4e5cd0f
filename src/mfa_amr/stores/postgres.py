"""Claims in PostgreSQL's ``auth.mfa_amr_claims`` (psycopg 3): ``PostgresClaimStore``
and, for asyncio, ``AsyncPostgresClaimStore``.

The stores work on the production table as Supabase Auth deploys it (with or without
its foreign key to ``auth.sessions``, row level security enabled or not) and can
create that table for a new database. Every operation is one statement (a purge, one
per batch), so one round trip, and atomic on its own; inside a transaction the caller
has open, a write also runs under a savepoint sent in the same round trip, so a
write the database refuses leaves the caller's transaction usable.

``PostgresClaimStore`` takes either a psycopg ``Connection`` that the caller owns (the
store joins the caller's transaction and never commits, closes or reconfigures the
connection) or a ``psycopg_pool.ConnectionPool`` (each call borrows a connection and
commits); :meth:`PostgresClaimStore.connect` opens and owns a pool.
``AsyncPostgresClaimStore`` is the same store over an ``AsyncConnection`` or an
``AsyncConnectionPool``: both take every statement, parameter and row from
:class:`mfa_amr.stores._sql.Operations` and differ only in awaiting the execution.

``AsyncPostgresClaimStore`` belongs to the event loop its connection or pool was
created in: use it in that loop only. A call cancelled while it waits for the server
(a timeout, a client gone) raises ``CancelledError``; psycopg cancels the statement on
the server first, so the write did not happen and the connection stays usable (inside
the caller's transaction, the write's savepoint is rolled back and the transaction
goes on).

Example, on the database named by ``DATABASE_URL``:
    >>> import os, uuid
    >>> from mfa_amr.stores.postgres import PostgresClaimStore
    >>> with PostgresClaimStore.connect(os.environ["DATABASE_URL"]) as store:
    ...     store.create_schema()
    ...     sid = uuid.uuid4()
    ...     _ = store.record(sid, "password")
    ...     [c.method for c in store.claims(sid)]
    ['password']

Needs the ``postgres`` extra: ``pip install 'mfa-amr[postgres]'``.
"""

from __future__ import annotations

# The stores need the postgres extra. Its absence is told with the command that
# installs it; any other import error (a psycopg without a libpq, say) is left as
# psycopg raised it.
try:
    from mfa_amr.stores._pg_async import AsyncPostgresClaimStore
    from mfa_amr.stores._pg_sync import PostgresClaimStore
    from mfa_amr.stores._sql import DEFAULT_SCHEMA, DEFAULT_TABLE, schema_sql
except ImportError as exc:
    missing = (exc.name or "").partition(".")[0]
    if missing not in ("psycopg", "psycopg_pool"):
        raise
    raise ImportError(
        f"mfa_amr.stores.postgres needs {missing}, which is not installed: install "
        "the postgres extra with pip install 'mfa-amr[postgres]'",
        name=exc.name,
    ) from exc

__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_TABLE",
    "AsyncPostgresClaimStore",
    "PostgresClaimStore",
    "schema_sql",
]
