"""AsyncInMemoryClaimStore, and the adapter that tests asyncio stores: the shared
contract and state machine through BlockingClaimStore, tasks, AsyncRunner."""

from __future__ import annotations

import asyncio
import inspect
import random
import subprocess
import sys
import uuid
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings

from mfa_amr import AMRClaim, InMemoryClaimStore, Policy
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    UnrecordableMethodError,
)
from mfa_amr.stores import (
    AsyncClaimStore,
    ClaimStore,
    MethodLike,
    RecordItem,
    SessionIdLike,
)
from mfa_amr.stores.memory import AsyncInMemoryClaimStore
from mfa_amr.testing import (
    START,
    AsyncRunner,
    BlockingClaimStore,
    ClaimStoreContract,
    ClaimStoreMachine,
    FakeClock,
)
from test_testing_teeth import (
    BackwardsStore,
    LastWinsBatchStore,
    failed,
    run_contract,
    run_machine,
)


class TestAsyncInMemoryContract(ClaimStoreContract):
    """The contract every backend passes, on the async in-memory store."""

    @pytest.fixture
    def store(self, clock: FakeClock) -> Iterator[ClaimStore]:
        with AsyncRunner() as runner:
            yield BlockingClaimStore(AsyncInMemoryClaimStore(clock=clock), runner)


class AsyncInMemoryMachine(ClaimStoreMachine):
    """The machine on the async in-memory store, each run on a loop of its own."""

    def make_store(self, clock: FakeClock) -> ClaimStore:
        return BlockingClaimStore(AsyncInMemoryClaimStore(clock=clock))

    def teardown_store(self, store: ClaimStore) -> None:
        assert isinstance(store, BlockingClaimStore)
        store.close()


TestAsyncInMemoryMachine = AsyncInMemoryMachine.TestCase
TestAsyncInMemoryMachine.settings = settings(max_examples=100, deadline=None)


class TestTasks:
    """Tasks of one loop see each operation whole."""

    def test_gathered_records_leave_one_claim_per_pair_at_the_greatest_time(
        self,
    ) -> None:
        """500 records of overlapping pairs gathered at once leave one claim per
        pair, one id per pair, updated_at the greatest time given."""
        # The clock ahead of every time given: a store refuses times from the future.
        store = AsyncInMemoryClaimStore(clock=FakeClock(START + timedelta(hours=1)))
        sessions = [uuid.uuid4() for _ in range(3)]
        pairs = [(s, m) for s in sessions for m in ("password", "totp", "x-b")]
        rnd = random.Random(7)
        calls = [
            (rnd.choice(pairs), START + timedelta(microseconds=rnd.randrange(10**9)))
            for _ in range(500)
        ]

        async def scenario() -> list[AMRClaim]:
            return await asyncio.gather(
                *(store.record(*pair, at=at) for pair, at in calls)
            )

        returned = asyncio.run(scenario())
        state = asyncio.run(store.claims_many(sessions))
        assert 9 == sum(len(claims) for claims in state.values())
        for claims in state.values():
            for claim in claims:
                pair = (claim.session_id, claim.method)
                assert max(at for p, at in calls if p == pair) == claim.updated_at
                assert {claim.id} == {
                    c.id for c in returned if (c.session_id, c.method) == pair
                }

    def test_is_bound_to_no_loop(self) -> None:
        """One store serves coroutines of successive event loops."""
        store = AsyncInMemoryClaimStore(clock=FakeClock())
        sid = uuid.uuid4()
        first = asyncio.run(store.record(sid, "password"))
        assert [first] == asyncio.run(store.claims(sid))


class TestConstruction:
    """What is particular to AsyncInMemoryClaimStore."""

    def test_both_faces_conform_to_their_protocols(self) -> None:
        """The store is an AsyncClaimStore and its adapter a ClaimStore (the
        annotations are what mypy checks)."""
        async_store: AsyncClaimStore = AsyncInMemoryClaimStore()
        with AsyncRunner() as runner:
            blocking: ClaimStore = BlockingClaimStore(async_store, runner)
            assert [] == blocking.claims(uuid.uuid4())

    @pytest.mark.parametrize(
        "kwargs",
        [{"clock": "now"}, {"clock": 0}, {"policy": "supabase"}, {"policy": object()}],
    )
    def test_refuses_a_bad_clock_or_policy(self, kwargs: dict[str, object]) -> None:
        """clock must be callable and policy a Policy, as for the sync store."""
        with pytest.raises(InvalidInputError):
            AsyncInMemoryClaimStore(**kwargs)  # type: ignore[arg-type]

    def test_the_default_policy_is_supabase_and_a_strict_one_is_kept(self) -> None:
        """The default policy is Policy.supabase(); a given one decides records."""
        assert Policy.supabase() == AsyncInMemoryClaimStore().policy
        strict = AsyncInMemoryClaimStore(policy=Policy.supabase(strict=True))
        with pytest.raises(UnrecordableMethodError):
            asyncio.run(strict.record(uuid.uuid4(), "sso/oidc-okta"))

    def test_the_default_clock_is_the_real_utc_time(self) -> None:
        """Without clock=, a record happens now, in UTC."""
        before = datetime.now(UTC)
        claim = asyncio.run(AsyncInMemoryClaimStore().record(uuid.uuid4(), "totp"))
        assert before <= claim.updated_at <= datetime.now(UTC)
        assert timedelta(0) == claim.updated_at.utcoffset()

    def test_errors_are_raised_when_awaited(self) -> None:
        """Calling a method only makes a coroutine; awaiting it raises the same
        error as the sync store, and nothing changes."""
        store = AsyncInMemoryClaimStore()
        sid = uuid.uuid4()
        pending = store.record(sid, "TOTP")
        assert inspect.iscoroutine(pending)
        with pytest.raises(InvalidMethodError):
            asyncio.run(pending)
        assert [] == asyncio.run(store.claims(sid))

    def test_repr_counts_claims_and_sessions(self) -> None:
        """The repr tells the size, not the contents."""
        store = AsyncInMemoryClaimStore(clock=FakeClock())
        asyncio.run(
            store.record_many([(uuid.uuid4(), "password"), (uuid.uuid4(), "x")])
        )
        assert "<AsyncInMemoryClaimStore: 2 claims in 2 sessions>" == repr(store)
        assert "<InMemoryClaimStore: 0 claims in 0 sessions>" == repr(
            InMemoryClaimStore()
        )

    def test_importing_it_does_not_import_the_test_tools(self) -> None:
        """mfa_amr.stores.memory needs neither pytest nor Hypothesis, nor psycopg."""
        code = (
            "import sys, mfa_amr.stores.memory; "
            "print(sorted(m for m in ('mfa_amr.testing', 'pytest', 'hypothesis', "
            "'psycopg') if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == out.stdout.strip()


# -- the adapter ---------------------------------------------------------------------


class TestAsyncRunner:
    """AsyncRunner runs coroutines to completion on one long-lived loop."""

    def test_every_run_uses_the_same_loop(self) -> None:
        """Objects bound to the loop (a queue) work across runs, as psycopg's
        connections must."""
        with AsyncRunner() as runner:
            queue: asyncio.Queue[int] = asyncio.Queue()
            loops = {runner.run(_running_loop()) for _ in range(3)}
            runner.run(queue.put(7))
            assert 7 == runner.run(queue.get())
            assert 1 == len(loops)

    def test_a_loop_factory_makes_the_loop(self) -> None:
        """The loop comes from loop_factory when one is given."""
        made: list[asyncio.AbstractEventLoop] = []

        def factory() -> asyncio.AbstractEventLoop:
            made.append(asyncio.SelectorEventLoop())
            return made[-1]

        with AsyncRunner(loop_factory=factory) as runner:
            assert made == [runner.run(_running_loop())]
        assert made[0].is_closed()

    def test_any_awaitable_runs_not_only_coroutines(self) -> None:
        """run also takes a task of the runner's loop and an object with
        __await__, which asyncio.Runner.run alone refuses."""

        class Ready:
            def __await__(self) -> Generator[None, None, int]:
                yield from asyncio.sleep(0).__await__()
                return 5

        async def start() -> asyncio.Task[int]:
            return asyncio.get_running_loop().create_task(asyncio.sleep(0, 4))

        with AsyncRunner() as runner:
            task = runner.run(start())
            assert 4 == runner.run(task)
            assert 5 == runner.run(Ready())

    def test_results_and_errors_come_back_unchanged(self) -> None:
        """run returns the coroutine's value and raises its very exception."""
        error = InvalidClaimError("no")

        async def fail() -> None:
            raise error

        with AsyncRunner() as runner:
            assert 3 == runner.run(asyncio.sleep(0, 3))
            with pytest.raises(InvalidClaimError) as caught:
                runner.run(fail())
            assert error is caught.value

    def test_close_cancels_what_is_pending(self) -> None:
        """Closing cancels tasks left running and closes the loop; closing again
        does nothing."""
        runner = AsyncRunner()

        async def start() -> asyncio.Task[None]:
            return asyncio.get_running_loop().create_task(asyncio.sleep(3600))

        task = runner.run(start())
        runner.close()
        assert task.cancelled()
        assert runner.closed
        runner.close()

    def test_a_closed_runner_refuses_and_closes_the_coroutine(self) -> None:
        """After close, run raises RuntimeError and leaves no coroutine un-awaited."""
        runner = AsyncRunner()
        runner.close()
        pending = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="closed"):
            runner.run(pending)
        assert inspect.CORO_CLOSED == inspect.getcoroutinestate(pending)

    def test_inside_a_running_loop_it_refuses(self) -> None:
        """Called from async code, run raises RuntimeError (await instead) and
        closes the coroutine it was given."""
        with AsyncRunner() as runner:
            pending = asyncio.sleep(0)

            async def misuse() -> None:
                runner.run(pending)

            with pytest.raises(RuntimeError, match="await"):
                asyncio.run(misuse())
            assert inspect.CORO_CLOSED == inspect.getcoroutinestate(pending)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class TestBlockingClaimStore:
    """BlockingClaimStore is the synchronous face of an async store."""

    def test_it_owns_a_runner_only_when_it_made_it(self) -> None:
        """Without a runner it makes one and close() closes it; a runner given is
        left open."""
        own = BlockingClaimStore(AsyncInMemoryClaimStore())
        own.record(uuid.uuid4(), "password")
        own.close()
        assert own.runner.closed
        with AsyncRunner() as runner:
            lent = BlockingClaimStore(AsyncInMemoryClaimStore(), runner)
            lent.close()
            assert not runner.closed
            assert runner is lent.runner

    def test_calls_go_to_the_async_store(self) -> None:
        """What the adapter records, the async store holds, and the other way."""
        inner = AsyncInMemoryClaimStore(clock=FakeClock())
        with AsyncRunner() as runner:
            store = BlockingClaimStore(inner, runner)
            sid = uuid.uuid4()
            claim = store.record(sid, "password")
            assert [claim] == runner.run(inner.claims(sid))
            assert inner is store.store
            assert f"<BlockingClaimStore of {inner!r}>" == repr(store)
            with pytest.raises(InvalidClaimError):
                store.purge(before=datetime(2026, 1, 1))

    def test_the_suite_keeps_its_teeth_through_the_adapter(self) -> None:
        """Broken stores behind async methods still fail the contract and the
        machine: the adapter hides no failure."""
        with AsyncRunner() as runner:

            def backwards(clock: FakeClock) -> ClaimStore:
                return BlockingClaimStore(
                    AsyncOver(BackwardsStore(clock=clock)), runner
                )

            def last_wins(clock: FakeClock) -> ClaimStore:
                return BlockingClaimStore(
                    AsyncOver(LastWinsBatchStore(clock=clock)), runner
                )

            assert failed(run_contract(backwards), "test_record_keeps_the_greatest_at")
            assert failed(
                run_contract(last_wins), "test_record_many_matches_sequential_records"
            )
            for make in (backwards, last_wins):
                with pytest.raises(AssertionError):
                    run_machine(make)


class AsyncOver:
    """The async face of any ClaimStore, a broken one included: each method does
    its work when awaited."""

    def __init__(self, store: ClaimStore) -> None:
        self.store = store

    async def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        return self.store.record(session_id, method, at=at)

    async def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        return self.store.record_many(items)

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        return self.store.claims(session_id)

    async def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        return self.store.claims_many(session_ids)

    async def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        return self.store.get(claim_id)

    async def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        return self.store.revoke(session_id, method)

    async def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        return self.store.revoke_everywhere(session_ids, method)

    async def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        return self.store.delete_sessions(session_ids)

    async def purge(self, *, before: datetime) -> int:
        return self.store.purge(before=before)
