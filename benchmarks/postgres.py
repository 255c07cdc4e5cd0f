"""PostgresClaimStore and AsyncPostgresClaimStore against raw psycopg (sync and
async), side by side, on one server in one run; the savepoint a write takes inside
the caller's transaction, on loopback and through a proxy at a network's distance;
and a purge of a big table while records run.

Usage::

    python benchmarks/postgres.py [--dsn DSN] [--ops N] [--rounds R]
        [--delay-ms MS] [--purge-rows N]

The DSN defaults to ``MFA_AMR_TEST_DSN``, else the local ``test`` database. The
benchmark works in a schema of its own, dropped at the end. ``synchronous_commit`` is
off on every connection, for both sides, so the figures show the library's cost and
not the disk's. Each comparison alternates blocks of the two sides and reports the
median per-operation time of each and the median of the per-round ratios.

The async part times each block inside one coroutine on one event loop, awaiting
each operation in turn, so the loop's own cost per await is in both sides.

The savepoint comparison runs ``record`` in an open transaction (the store sends
``SAVEPOINT``, the statement and ``RELEASE`` in one pipeline) against the bare
statement in the same transaction, and against a savepoint without a pipeline
(``with conn.transaction()``: three round trips), once on loopback and once through
:class:`DelayProxy`, an asyncio TCP proxy in a thread that delays each chunk by
``--delay-ms`` (default 2) each way.

The purge part fills a table of ``--purge-rows`` idle claims (default 200,000) and
purges it in batches while a thread records claims of those sessions again: it
prints the purge's time and the records' median and slowest times.

It prints; it does not assert. Targets (docs/performance.md): ``record`` and
``claims`` at most 1.15x raw psycopg, sync and async; ``claims_many`` over 1,000
sessions at least 20x faster than 1,000 ``claims`` calls; a write under the
savepoint at most 1.2x the bare statement through the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import statistics
import threading
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


# -- the savepoint ------------------------------------------------------------------


class DelayProxy:
    """A TCP proxy in a thread of its own (asyncio) that forwards each chunk after
    ``delay`` seconds, each way: a local server at a network's distance. Order is
    kept; throughput is not limited.

    ``with DelayProxy(host, port, delay) as proxy:`` then connect to
    ``127.0.0.1:proxy.port``; leaving the block closes every connection through it.
    """

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.target = (host, port)
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.Task[None]] = set()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        """Close the listener and every connection, and let the copies end."""
        self._server.close()
        for writer in self._writers:
            writer.close()
        if self._clients:
            _, pending = await asyncio.wait(self._clients, timeout=1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(
                self._pipe(reader, up_writer),
                self._pipe(up_reader, writer),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # the proxy is shutting down: end quietly (asyncio logs otherwise)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` late, until either
        side ends."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                chunk = await reader.read(65536)
                queue.put_nowait((loop.time() + self.delay, chunk))
                if not chunk:
                    break
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time(), b""))
        await asyncio.gather(delivering, return_exceptions=True)


def bench_savepoints(
    dsn: str, schema: str, q: Statements, *, ops: int, rounds: int, delay: float
) -> None:
    """``record`` in the caller's open transaction (under the savepoint the store
    pipelines with it) against the bare statement in the same transaction, and a
    savepoint taken without a pipeline (``with conn.transaction()``, three round
    trips), on loopback and through :class:`DelayProxy`; sync and async."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    host = str(params.get("host") or "127.0.0.1")
    port = int(params.get("port") or 5432)
    print(
        f"\n{'in a transaction: record under the savepoint':<50} {'mfa_amr':>12} "
        f"{'bare':>12} {'ratio':>8}"
    )
    with DelayProxy(host, port, delay) as proxy:
        proxied = psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=proxy.port)
        for where, target_dsn, n, r, target in (
            ("loopback", dsn, ops, max(3, rounds // 3), "about 2x expected"),
            (
                f"+{delay * 1e3:g} ms each way",
                proxied,
                max(20, ops // 4),
                max(5, rounds // 3),
                "target <= 1.2x",
            ),
        ):
            _savepoint_sides(target_dsn, schema, q, where, n, r, target)


def _savepoint_sides(
    dsn: str, schema: str, q: Statements, where: str, ops: int, rounds: int, target: str
) -> None:
    tx = psycopg.connect(dsn, options=NO_SYNC_COMMIT)
    try:
        store = PostgresClaimStore(tx, schema=schema)

        # A new session each time: a sign-in inside the service's transaction, one
        # transaction per block.
        def ours(i: int) -> object:
            if i == 0:
                tx.commit()
            return store.record(uuid.uuid4(), "password")

        def bare(i: int) -> object:
            if i == 0:
                tx.commit()
            at = datetime.now(UTC)
            return tx.execute(
                q.record, (uuid.uuid4(), uuid.uuid4(), "password", at, at)
            ).fetchone()

        def unpipelined(i: int) -> object:
            if i == 0:
                tx.commit()
            at = datetime.now(UTC)
            with tx.transaction():
                return tx.execute(
                    q.record, (uuid.uuid4(), uuid.uuid4(), "password", at, at)
                ).fetchone()

        compare(
            f"sync, {where}",
            ours,
            bare,
            ops=ops,
            rounds=rounds,
            target=target,
            warmup=50,
        )
        compare(
            f"sync, {where}: savepoint without a pipeline",
            unpipelined,
            bare,
            ops=ops,
            rounds=rounds,
            target="3 round trips",
            warmup=50,
        )
        tx.commit()
    finally:
        tx.close()

    loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    def timer(fn: AsyncOp, n: int) -> float:
        return run(_time_async_block(fn, n))

    aconn = run(psycopg.AsyncConnection.connect(dsn, options=NO_SYNC_COMMIT))
    try:
        astore = AsyncPostgresClaimStore(aconn, schema=schema)

        async def aours(i: int) -> object:
            if i == 0:
                await aconn.commit()
            return await astore.record(uuid.uuid4(), "password")

        async def abare(i: int) -> object:
            if i == 0:
                await aconn.commit()
            at = datetime.now(UTC)
            cur = await aconn.execute(
                q.record, (uuid.uuid4(), uuid.uuid4(), "password", at, at)
            )
            return await cur.fetchone()

        compare_with(
            timer,
            f"async, {where}",
            aours,
            abare,
            ops=ops,
            rounds=rounds,
            target=target,
            warmup=50,
        )
        run(aconn.commit())
    finally:
        run(aconn.close())
        loop.close()


# -- purge -----------------------------------------------------------------------------


def bench_purge(dsn: str, schema: str, rows: int) -> None:
    """Purge ``rows`` idle claims (two per session) in batches while a thread
    records again claims of those sessions: the purge's time, and the slowest and
    median record while it runs."""
    with PostgresClaimStore.connect(
        dsn, schema=schema, table="purged", min_size=2, max_size=2
    ) as store:
        store.create_schema()
        old = datetime.now(UTC) - timedelta(days=30)
        sids = [uuid.uuid4() for _ in range(rows // 2)]
        for start in range(0, len(sids), 10_000):
            store.record_many(
                [(s, m, old) for s in sids[start : start + 10_000] for m in ("a", "b")]
            )
        latencies: list[float] = []
        done = threading.Event()

        def record() -> None:
            rnd = random.Random(1)
            while not done.is_set():
                started = time.perf_counter()
                store.record(rnd.choice(sids), "a")
                latencies.append(time.perf_counter() - started)

        recorder = threading.Thread(target=record)
        recorder.start()
        started = time.perf_counter()
        try:
            removed = store.purge(before=datetime.now(UTC) - timedelta(days=1))
        finally:
            elapsed = time.perf_counter() - started
            done.set()
            recorder.join()
        print(
            f"\npurge of {rows:,} claims (batch_size 5,000), {len(latencies):,} "
            f"records meanwhile: {elapsed:.2f} s, {removed:,} removed; records: "
            f"median {statistics.median(latencies) * 1e3:.2f} ms, slowest "
            f"{max(latencies) * 1e3:.1f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", default=os.environ.get("MFA_AMR_TEST_DSN") or DEFAULT_DSN
    )
    parser.add_argument("--ops", type=int, default=200, help="operations per block")
    parser.add_argument("--rounds", type=int, default=25, help="blocks per side")
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=2.0,
        help="milliseconds the proxy adds each way (the savepoint comparison)",
    )
    parser.add_argument(
        "--purge-rows",
        type=int,
        default=200_000,
        help="claims to purge while records run (0: skip)",
    )
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

        # Inside the caller's transaction a write runs under a savepoint sent with
        # it in one pipeline: its cost against the bare statement, on loopback and
        # through a proxy that adds a network's round trip.
        bench_savepoints(
            args.dsn, schema, q, ops=ops, rounds=rounds, delay=args.delay_ms / 1000
        )

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
        if args.purge_rows:
            bench_purge(args.dsn, schema, args.purge_rows)
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
