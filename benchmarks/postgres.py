"""PostgresClaimStore and AsyncPostgresClaimStore against raw psycopg (sync and
async), side by side, on one server in one run.

Usage::

    python benchmarks/postgres.py [--dsn DSN] [--ops N] [--rounds R]

The DSN defaults to ``MFA_AMR_TEST_DSN``, else the local ``test`` database. The
benchmark works in a schema of its own, dropped at the end. ``synchronous_commit`` is
off on every connection, for both sides, so the figures show the library's cost and
not the disk's. Each comparison alternates blocks of the two sides and reports the
median per-operation time of each and the median of the per-round ratios.

The async part times each block inside one coroutine on one event loop, awaiting
each operation in turn, so the loop's own cost per await is in both sides.

It prints; it does not assert. Targets (docs/performance.md): ``record`` and
``claims`` at most 1.15x raw psycopg, sync and async; ``claims_many`` over 1,000
sessions at least 20x faster than 1,000 ``claims`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from mfa_amr.stores._sql import Statements
from mfa_amr.stores.postgres import AsyncPostgresClaimStore, PostgresClaimStore

UTC = UTC
DEFAULT_DSN = "host=127.0.0.1 port=5432 dbname=test"
NO_SYNC_COMMIT = "-c synchronous_commit=off"

Op = TypeVar("Op")
AsyncOp = Callable[[int], Awaitable[object]]


def _time_block(fn: Callable[[int], object], ops: int) -> float:
    """Seconds per operation over ``ops`` calls of ``fn(i)``."""
    gc.collect()
    start = time.perf_counter()
    for i in range(ops):
        fn(i)
    return (time.perf_counter() - start) / ops


async def _time_async_block(fn: AsyncOp, ops: int) -> float:
    """Seconds per operation over ``ops`` awaited calls of ``fn(i)``."""
    gc.collect()
    start = time.perf_counter()
    for i in range(ops):
        await fn(i)
    return (time.perf_counter() - start) / ops


def compare(
    label: str,
    ours: Callable[[int], object],
    theirs: Callable[[int], object],
    *,
    ops: int,
    rounds: int,
    target: str,
    warmup: int,
) -> None:
    """Alternate blocks of both sides; print medians and the median ratio."""
    compare_with(
        _time_block,
        label,
        ours,
        theirs,
        ops=ops,
        rounds=rounds,
        target=target,
        warmup=warmup,
    )


def compare_with(
    timer: Callable[[Op, int], float],
    label: str,
    ours: Op,
    theirs: Op,
    *,
    ops: int,
    rounds: int,
    target: str,
    warmup: int,
) -> None:
    """:func:`compare`, with ``timer(side, ops)`` timing one block (for async
    sides, a wrapper running :func:`_time_async_block`)."""
    # Warm up past psycopg's prepare threshold (5 uses) and PostgreSQL's choice
    # between custom and generic plans (5 more), as in a long-running service.
    timer(ours, warmup)
    timer(theirs, warmup)
    a: list[float] = []
    b: list[float] = []
    for r in range(rounds):
        # Alternate which side goes first, so drift on the machine hits both.
        if r % 2:
            b.append(timer(theirs, ops))
            a.append(timer(ours, ops))
        else:
            a.append(timer(ours, ops))
            b.append(timer(theirs, ops))
    ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
    print(
        f"{label:<50} {statistics.median(a) * 1e6:9.1f} us "
        f"{statistics.median(b) * 1e6:9.1f} us {ratio:7.2f}x   ({target})"
    )


def _one_by_one(
    store: PostgresClaimStore, sids: list[uuid.UUID]
) -> Callable[[int], object]:
    return lambda i: [store.claims(s) for s in sids]


def _batched(
    store: PostgresClaimStore, sids: list[uuid.UUID]
) -> Callable[[int], object]:
    return lambda i: store.claims_many(sids)


def bench_async(
    dsn: str,
    schema: str,
    q: Statements,
    sids: list[uuid.UUID],
    three: uuid.UUID,
    *,
    ops: int,
    rounds: int,
) -> None:
    """AsyncPostgresClaimStore against raw async psycopg: record and claims, on a
    caller's AsyncConnection and on an AsyncConnectionPool, in one event loop."""
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    def timer(fn: AsyncOp, n: int) -> float:
        return run(_time_async_block(fn, n))

    conn = run(
        psycopg.AsyncConnection.connect(dsn, autocommit=True, options=NO_SYNC_COMMIT)
    )
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "options": NO_SYNC_COMMIT},
        open=False,
    )
    try:
        run(pool.open(wait=True))
        by_conn = AsyncPostgresClaimStore(conn, schema=schema)
        by_pool = AsyncPostgresClaimStore(pool, schema=schema)

        def lib_record(store: AsyncPostgresClaimStore) -> AsyncOp:
            return lambda i: store.record(sids[i % 1000], "totp")

        def lib_claims(store: AsyncPostgresClaimStore) -> AsyncOp:
            return lambda i: store.claims(three)

        async def raw_record_conn(i: int) -> object:
            at = datetime.now(UTC)
            cur = await conn.execute(
                q.record, (uuid.uuid4(), sids[i % 1000], "totp", at, at)
            )
            return await cur.fetchone()

        async def raw_record_pool(i: int) -> object:
            at = datetime.now(UTC)
            async with pool.connection() as c:
                cur = await c.execute(
                    q.record, (uuid.uuid4(), sids[i % 1000], "totp", at, at)
                )
                return await cur.fetchone()

        async def raw_claims_conn(i: int) -> object:
            cur = await conn.execute(q.claims, (three,))
            return await cur.fetchall()

        async def raw_claims_pool(i: int) -> object:
            async with pool.connection() as c:
                cur = await c.execute(q.claims, (three,))
                return await cur.fetchall()

        sides: list[tuple[str, AsyncOp, AsyncOp]] = [
            (
                "async record, caller's AsyncConnection",
                lib_record(by_conn),
                raw_record_conn,
            ),
            ("async record, AsyncConnectionPool", lib_record(by_pool), raw_record_pool),
            (
                "async claims (3 claims), caller's AsyncConnection",
                lib_claims(by_conn),
                raw_claims_conn,
            ),
            (
                "async claims (3 claims), AsyncConnectionPool",
                lib_claims(by_pool),
                raw_claims_pool,
            ),
        ]
        for label, ours, theirs in sides:
            compare_with(
                timer,
                label,
                ours,
                theirs,
                ops=ops,
                rounds=rounds,
                target="target <= 1.15x",
                warmup=200,
            )
    finally:
        run(pool.close())
        run(conn.close())
        loop.close()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", default=os.environ.get("MFA_AMR_TEST_DSN") or DEFAULT_DSN
    )
    parser.add_argument("--ops", type=int, default=200, help="operations per block")
    parser.add_argument("--rounds", type=int, default=25, help="blocks per side")
    args = parser.parse_args(argv)
    ops: int = args.ops
    rounds: int = args.rounds

    schema = f"mfa_amr_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(args.dsn, autocommit=True)
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("SET synchronous_commit = off")
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        args.dsn,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "options": "-c synchronous_commit=off"},
        open=True,
    )
    pool.wait()
    try:
        setup = PostgresClaimStore(admin, schema=schema)
        setup.create_schema()
        q = Statements.for_table(schema, "mfa_amr_claims")
        by_conn = PostgresClaimStore(conn, schema=schema)
        by_pool = PostgresClaimStore(pool, schema=schema)

        version = conn.info.server_version
        print(
            f"PostgreSQL {version // 10000}.{version % 10000}, psycopg "
            f"{psycopg.__version__} ({psycopg.pq.__impl__}), Python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, "
            f"host {conn.info.host!r}"
        )
        print(f"{ops} operations per block, {rounds} rounds per side\n")
        print(f"{'operation':<50} {'mfa_amr':>12} {'raw':>12} {'ratio':>8}")

        # record: re-verification of a method in one of 1,000 live sessions, so the
        # upsert takes its DO UPDATE path as it mostly does in production.
        sids = [uuid.uuid4() for _ in range(1000)]
        base = datetime.now(UTC) - timedelta(days=1)
        setup.record_many([(s, "totp", base) for s in sids])

        def lib_record(store: PostgresClaimStore) -> Callable[[int], object]:
            return lambda i: store.record(sids[i % 1000], "totp")

        def raw_record_conn(i: int) -> object:
            at = datetime.now(UTC)
            return conn.execute(
                q.record, (uuid.uuid4(), sids[i % 1000], "totp", at, at)
            ).fetchone()

        def raw_record_pool(i: int) -> object:
            at = datetime.now(UTC)
            with pool.connection() as c:
                return c.execute(
                    q.record, (uuid.uuid4(), sids[i % 1000], "totp", at, at)
                ).fetchone()

        # claims: a session holding 3 claims.
        three = uuid.uuid4()
        setup.record_many([(three, m) for m in ("password", "totp", "mfa/phone")])

        def raw_claims_conn(i: int) -> object:
            return conn.execute(q.claims, (three,)).fetchall()

        def raw_claims_pool(i: int) -> object:
            with pool.connection() as c:
                return c.execute(q.claims, (three,)).fetchall()

        compare(
            "record, caller's autocommit connection",
            lib_record(by_conn),
            raw_record_conn,
            ops=ops,
            rounds=rounds,
            target="target <= 1.15x",
            warmup=200,
        )
        compare(
            "record, pool",
            lib_record(by_pool),
            raw_record_pool,
            ops=ops,
            rounds=rounds,
            target="target <= 1.15x",
            warmup=200,
        )
        compare(
            "claims (3 claims), caller's connection",
            lambda i: by_conn.claims(three),
            raw_claims_conn,
            ops=ops,
            rounds=rounds,
            target="target <= 1.15x",
            warmup=200,
        )
        compare(
            "claims (3 claims), pool",
            lambda i: by_pool.claims(three),
            raw_claims_pool,
            ops=ops,
            rounds=rounds,
            target="target <= 1.15x",
            warmup=200,
        )

        bench_async(args.dsn, schema, q, sids, three, ops=ops, rounds=rounds)

        # Why the store takes no savepoint inside the caller's transaction: the same
        # record, in an open transaction, with and without one.
        tx = psycopg.connect(args.dsn, options="-c synchronous_commit=off")
        try:
            in_tx = PostgresClaimStore(tx, schema=schema)

            # A new session each time: a sign-in inside the service's transaction.
            def plain(i: int) -> object:
                if i == 0:
                    tx.commit()  # one transaction per block, not one for the run
                return in_tx.record(uuid.uuid4(), "password")

            def with_savepoint(i: int) -> object:
                if i == 0:
                    tx.commit()
                with tx.transaction():
                    return in_tx.record(uuid.uuid4(), "password")

            compare(
                "record in a transaction, with / without savepoint",
                with_savepoint,
                plain,
                ops=ops,
                rounds=max(3, rounds // 3),
                target="why no savepoint",
                warmup=200,
            )
            tx.commit()
        finally:
            tx.close()

        # claims_many over 1,000 sessions vs 1,000 claims calls, with sessions of
        # 1 claim (a password sign-in) and of 3 claims (password, TOTP, phone).
        print(
            f"\n{'operation':<50} {'1,000 claims':>12} {'claims_many':>12} {'ratio':>8}"
        )
        for per_session in (1, 3):
            many = [uuid.uuid4() for _ in range(1000)]
            methods = ("password", "totp", "mfa/phone")[:per_session]
            setup.record_many([(s, m) for s in many for m in methods])
            for label, store in (("caller's connection", by_conn), ("pool", by_pool)):
                compare(
                    f"1,000 sessions of {per_session} claim(s), {label}",
                    _one_by_one(store, many),
                    _batched(store, many),
                    ops=1,
                    rounds=max(3, rounds // 3),
                    target="target >= 20x",
                    warmup=12,
                )
    finally:
        pool.close()
        conn.close()
        admin.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)
            )
        )
        admin.close()


if __name__ == "__main__":
    main()
