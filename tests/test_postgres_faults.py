"""The PostgreSQL stores when the server fails: restarts (fast and immediate) during
a burst of records from 8 threads and from 200 tasks, kill -9 in the middle of a
10,000-item record_many, and a wrong password, on a server of the tests' own
(conftest.py's ``own_server``), never the shared one.

Bounded: each burst lasts about two seconds, and the module well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg
from psycopg import sql

from mfa_amr import AMRClaim
from mfa_amr.exceptions import (
    StoreConfigurationError,
    StoreError,
    StoreUnavailableError,
)
from mfa_amr.stores.postgres import AsyncPostgresClaimStore, PostgresClaimStore

if TYPE_CHECKING:
    from conftest import OwnServer

pytestmark = [pytest.mark.postgres, pytest.mark.faults]

Conn = psycopg.Connection[Any]

BURST = 0.6  # seconds of records before the restart, and after the recovery
RECOVERY = 2.0  # seconds within which calls must succeed once the server is back
PAIRS = [
    (uuid.UUID(int=n), method)
    for n in range(1, 9)
    for method in ("password", "totp", "mfa/phone", "otp", "x-b")
]


@pytest.fixture
def schema(own_server: OwnServer) -> Iterator[str]:
    """A schema of the test's own on the own server, dropped afterwards."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(own_server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        PostgresClaimStore(conn, schema=name).create_schema()
    yield name
    own_server.wait_until_up()
    with psycopg.connect(own_server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def table_rows(
    server: OwnServer, schema: str
) -> dict[uuid.UUID, tuple[uuid.UUID, str, datetime, datetime]]:
    """Every row of the claims table by id: (session, method, created, updated)."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        found = conn.execute(
            sql.SQL(
                "SELECT id, session_id, authentication_method, created_at, updated_at "
                "FROM {}"
            ).format(sql.Identifier(schema, "mfa_amr_claims"))
        ).fetchall()
    return {row[0]: row[1:] for row in found}


@dataclass
class Outcome:
    """What the callers of a burst saw: each call's start (monotonic) with the claim
    it returned or the error it raised."""

    returned: list[tuple[float, AMRClaim]] = field(default_factory=list)
    failed: list[tuple[float, BaseException]] = field(default_factory=list)

    def check(self, server: OwnServer, schema: str, back: float) -> None:
        """Every error a StoreUnavailableError (calls in flight at the restart
        fail; those that wait for a connection may not); every returned claim in
        the table (same id, session, method and created_at, updated_at not
        earlier); one row per pair; no call started after the server was back
        failed (the pool checks each connection it lends), and some succeeded
        within RECOVERY seconds of it."""
        assert [] == [
            exc for _, exc in self.failed if not isinstance(exc, StoreUnavailableError)
        ]
        table = table_rows(server, schema)
        assert len({(row[0], row[1]) for row in table.values()}) == len(table)
        for _, claim in self.returned:
            sid, method, created, updated = table[claim.id]
            assert (claim.session_id, claim.method, claim.created_at) == (
                sid,
                method,
                created,
            )
            assert claim.updated_at <= updated
        assert [] == [exc for started, exc in self.failed if started > back]
        assert any(back < started < back + RECOVERY for started, _ in self.returned)


def now() -> datetime:
    return datetime.now(UTC)


def started_at(server: OwnServer) -> datetime:
    """When the server's postmaster started: a restart changes it."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    when: datetime = row[0]
    return when


# -- restarts during a burst ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_restart_during_8_threads_of_records_loses_nothing(
    own_server: OwnServer, schema: str, mode: str
) -> None:
    """8 threads recording through connect() while the server restarts: every error
    is StoreUnavailableError, every record that returned is in the table, one row
    per pair, and calls succeed again within 2 s of the server being back."""
    outcome = Outcome()
    lock = threading.Lock()
    done = threading.Event()
    first_start = started_at(own_server)
    with PostgresClaimStore.connect(
        own_server.dsn(), schema=schema, min_size=8, max_size=8, timeout=10
    ) as store:

        def work(seed: int) -> None:
            rnd = random.Random(seed)
            while not done.is_set():
                started = time.monotonic()
                try:
                    claim = store.record(*rnd.choice(PAIRS), at=now())
                except BaseException as exc:
                    with lock:
                        outcome.failed.append((started, exc))
                    time.sleep(0.01)
                    continue
                with lock:
                    outcome.returned.append((started, claim))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(BURST)
            own_server.restart(mode)
            back = time.monotonic()
            time.sleep(RECOVERY + BURST)
        finally:
            done.set()
            for thread in threads:
                thread.join()
    assert first_start < started_at(own_server)
    outcome.check(own_server, schema, back)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_restart_during_200_tasks_of_records_loses_nothing(
    own_server: OwnServer, schema: str, mode: str
) -> None:
    """200 tasks recording through an AsyncPostgresClaimStore's own pool while the
    server restarts: the same guarantees as for threads."""
    outcome = Outcome()
    first_start = started_at(own_server)

    async def scenario() -> float:
        done = asyncio.Event()
        async with await AsyncPostgresClaimStore.connect(
            own_server.dsn(), schema=schema, min_size=8, max_size=8, timeout=10
        ) as store:

            async def work(seed: int) -> None:
                rnd = random.Random(seed)
                while not done.is_set():
                    started = time.monotonic()
                    try:
                        claim = await store.record(*rnd.choice(PAIRS), at=now())
                    except Exception as exc:
                        outcome.failed.append((started, exc))
                        await asyncio.sleep(0.01)
                        continue
                    outcome.returned.append((started, claim))

            tasks = [asyncio.create_task(work(n)) for n in range(200)]
            try:
                await asyncio.sleep(BURST)
                await asyncio.to_thread(own_server.restart, mode)
                back = time.monotonic()
                await asyncio.sleep(RECOVERY + BURST)
            finally:
                done.set()
                await asyncio.gather(*tasks)
            return back

    back = asyncio.run(scenario())
    assert first_start < started_at(own_server)
    outcome.check(own_server, schema, back)


# -- kill -9 during a batch -----------------------------------------------------------


def batch_of(count: int) -> list[tuple[uuid.UUID, str, datetime]]:
    """``count`` distinct pairs, five methods per session, at one time."""
    at = now()
    methods = ("password", "totp", "mfa/phone", "otp", "x-b")
    return [(uuid.uuid4(), m, at) for _ in range(count // 5) for m in methods]


def batch_backend(conn: Conn, seconds: float = 10) -> int:
    """The pid of the backend running a record_many, once it is waiting on a lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'WITH written AS%%' "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
        if row is not None:
            pid: int = row[0]
            return pid
        time.sleep(0.01)
    pytest.fail("the batch never waited on the held lock")


@pytest.mark.parametrize("when", ["waiting on a lock", "at a random moment"])
def test_kill_9_during_a_10000_item_record_many_leaves_all_or_nothing(
    own_server: OwnServer, schema: str, when: str
) -> None:
    """kill -9 of the backend running a 10,000-item record_many (held on a row lock
    midway, or at a random moment): the caller sees StoreUnavailableError, and after
    crash recovery the table holds all of the batch or none of it; the store's pool
    then records the batch whole."""
    batch = batch_of(10_000)
    middle = sorted(batch, key=lambda item: (item[0].int, item[1]))[5_000]
    errors: list[BaseException] = []
    results: list[list[AMRClaim]] = []
    # The kill ends every session of the server (crash recovery), these too: they
    # are closed, not committed, at the end.
    locker = psycopg.connect(own_server.dsn())
    watcher = psycopg.connect(own_server.dsn(), autocommit=True)
    with (
        contextlib.closing(locker),
        contextlib.closing(watcher),
        PostgresClaimStore.connect(
            own_server.dsn(), schema=schema, min_size=1, max_size=2, timeout=10
        ) as store,
    ):
        held = store.record(middle[0], middle[1], at=middle[2])
        table = sql.Identifier(schema, "mfa_amr_claims")
        if when == "waiting on a lock":
            locker.execute(
                sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(table),
                (held.id,),
            )

        def run() -> None:
            try:
                results.append(store.record_many(batch))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        if when == "waiting on a lock":
            pid = batch_backend(watcher)
        else:
            time.sleep(random.uniform(0.0, 0.05))
            found = watcher.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE query LIKE 'WITH written AS%%' AND state = 'active'"
            ).fetchone()
            pid = found[0] if found is not None else 0
        if pid:
            own_server.kill_backend(pid)
        worker.join(30)
        assert not worker.is_alive()
        written = {
            (sid, method)
            for sid, method, _, _ in table_rows(own_server, schema).values()
        }
        pairs = {(sid, method) for sid, method, _ in batch}
        if when == "waiting on a lock":
            assert [StoreUnavailableError] == [type(e) for e in errors]
            assert {(middle[0], middle[1])} == written
        else:
            assert [] == [e for e in errors if not isinstance(e, StoreUnavailableError)]
            assert written in ({(middle[0], middle[1])}, pairs)
            assert (not errors) <= (written == pairs)
        again = store.record_many(batch)
        assert 10_000 == len(again)
        assert pairs == {
            (sid, method)
            for sid, method, _, _ in table_rows(own_server, schema).values()
        }


# -- a pool that fails fast ------------------------------------------------------------


class TestConnect:
    """connect() names a refused password at once; the right one works."""

    def test_a_wrong_password_fails_at_once_and_says_so(
        self, own_server: OwnServer
    ) -> None:
        """A wrong password: connect() raises StoreConfigurationError (not the
        retryable StoreUnavailableError) in well under its timeout, naming the
        failed authentication and chaining psycopg's error; sync and async."""
        dsn = own_server.dsn(password="wrong")
        started = time.monotonic()
        with pytest.raises(StoreConfigurationError) as caught:
            PostgresClaimStore.connect(dsn)
        with pytest.raises(StoreConfigurationError) as async_caught:
            asyncio.run(AsyncPostgresClaimStore.connect(dsn))
        assert time.monotonic() - started < 3
        for error in (caught.value, async_caught.value):
            assert not isinstance(error, StoreUnavailableError)
            assert isinstance(error, StoreError)
            assert "password authentication failed" in str(error)
            assert isinstance(error.__cause__, psycopg.OperationalError)

    def test_the_right_password_opens_a_full_pool(self, own_server: OwnServer) -> None:
        """With the right password, connect() returns once the pool holds its
        min_size connections."""
        with PostgresClaimStore.connect(own_server.dsn(), min_size=3) as store:
            assert "PostgresClaimStore" in repr(store)
            with psycopg.connect(own_server.dsn(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchone()
            assert row is not None
            assert 3 <= row[0]
