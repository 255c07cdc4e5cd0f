"""InMemoryClaimStore: the shared contract, the state machine, threads, and what is
particular to it."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings

import mfa_amr
from mfa_amr import DEFAULT_SKEW, AMRClaim, InMemoryClaimStore, Policy
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    UnrecordableMethodError,
)
from mfa_amr.stores import ClaimStore
from mfa_amr.stores.memory import InMemoryClaimStore as FromModule
from mfa_amr.testing import START, ClaimStoreContract, ClaimStoreMachine, FakeClock


class TestInMemoryContract(ClaimStoreContract):
    """The contract every backend passes, on the in-memory store."""

    @pytest.fixture
    def store(self, clock: FakeClock) -> InMemoryClaimStore:
        return InMemoryClaimStore(clock=clock)


class InMemoryMachine(ClaimStoreMachine):
    def make_store(self, clock: FakeClock) -> ClaimStore:
        return InMemoryClaimStore(clock=clock)


TestInMemoryMachine = InMemoryMachine.TestCase
TestInMemoryMachine.settings = settings(deadline=None)


class TestThreads:
    def test_concurrent_records_leave_one_claim_per_pair_at_the_greatest_time(
        self,
    ) -> None:
        """8 threads recording overlapping pairs at once leave exactly one claim per
        pair, with one id, the first time kept and updated_at the greatest given."""
        # The clock ahead of every time given: a store refuses times from the future.
        store = InMemoryClaimStore(clock=FakeClock(START + timedelta(hours=1)))
        sessions = [uuid.uuid4() for _ in range(3)]
        methods = ["password", "totp", "mfa/webauthn"]
        pairs = [(s, m) for s in sessions for m in methods]
        barrier = threading.Barrier(8)
        given: dict[tuple[uuid.UUID, str], list[datetime]] = {p: [] for p in pairs}
        returned: list[AMRClaim] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            rng = random.Random(worker)
            mine: list[AMRClaim] = []
            times: list[tuple[tuple[uuid.UUID, str], datetime]] = []
            barrier.wait()
            for round_ in range(300):
                pair = rng.choice(pairs)
                at = START + timedelta(microseconds=rng.randrange(10**9))
                times.append((pair, at))
                if round_ % 10 == 0:
                    mine.extend(store.record_many([(*pair, at), (*pair, at)]))
                else:
                    mine.append(store.record(*pair, at=at))
            with lock:
                returned.extend(mine)
                for pair, at in times:
                    given[pair].append(at)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        state = store.claims_many(sessions)
        assert 9 == sum(len(claims) for claims in state.values())
        for sid, claims in state.items():
            assert sorted(methods) == sorted(c.method for c in claims)
            for claim in claims:
                ats = given[sid, claim.method]
                assert max(ats) == claim.updated_at
                assert claim.created_at in ats
                assert {claim.id} == {
                    c.id
                    for c in returned
                    if (c.session_id, c.method) == (sid, claim.method)
                }

    def test_concurrent_revokes_and_deletes_count_each_claim_once(self) -> None:
        """Threads removing the same claims at once remove each exactly once."""
        store = InMemoryClaimStore(clock=FakeClock())
        sessions = [uuid.uuid4() for _ in range(50)]
        store.record_many([(s, m) for s in sessions for m in ("password", "totp")])
        barrier = threading.Barrier(8)
        counts: list[int] = []

        def work(worker: int) -> None:
            barrier.wait()
            if worker % 2:
                n = sum(store.revoke(s, "totp") for s in sessions)
            else:
                n = store.delete_sessions(sessions)
            counts.append(n)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 100 == sum(counts)
        assert {s: [] for s in sessions} == store.claims_many(sessions)


class TestConstruction:
    def test_is_exported_from_the_package(self) -> None:
        """mfa_amr.InMemoryClaimStore is the class of mfa_amr.stores.memory."""
        assert FromModule is mfa_amr.InMemoryClaimStore
        assert "InMemoryClaimStore" in mfa_amr.__all__

    def test_importing_the_package_does_not_import_the_test_tools(self) -> None:
        """import mfa_amr needs neither pytest nor Hypothesis."""
        code = (
            "import sys, mfa_amr, mfa_amr.stores.memory; "
            "print(sorted(m for m in ('mfa_amr.testing', 'pytest', 'hypothesis') "
            "if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == out.stdout.strip()

    @pytest.mark.parametrize(
        "kwargs",
        [{"clock": "now"}, {"clock": 0}, {"policy": "supabase"}, {"policy": object()}],
    )
    def test_refuses_a_bad_clock_or_policy(self, kwargs: dict[str, object]) -> None:
        """clock must be callable and policy a Policy."""
        with pytest.raises(InvalidInputError):
            InMemoryClaimStore(**kwargs)  # type: ignore[arg-type]

    def test_the_default_clock_is_the_real_utc_time(self) -> None:
        """Without clock=, a record happens now, in UTC."""
        store = InMemoryClaimStore()
        before = datetime.now(UTC)
        claim = store.record(uuid.uuid4(), "password")
        assert before <= claim.updated_at <= datetime.now(UTC)
        assert timedelta(0) == claim.updated_at.utcoffset()

    def test_a_naive_clock_is_refused(self) -> None:
        """A clock returning naive datetimes raises and records nothing."""
        sid = uuid.uuid4()
        store = InMemoryClaimStore(clock=lambda: datetime(2026, 1, 15, 9, 0))
        with pytest.raises(InvalidClaimError):
            store.record(sid, "password")
        with pytest.raises(InvalidClaimError):
            store.record_many([(sid, "password")])
        assert [] == store.claims(sid)

    def test_the_default_policy_is_supabase(self) -> None:
        """The default policy is Policy.supabase()."""
        assert Policy.supabase() == InMemoryClaimStore().policy

    def test_a_strict_policy_refuses_unknown_names(self) -> None:
        """The store refuses what its policy refuses, before anything changes."""
        store = InMemoryClaimStore(policy=Policy.supabase(strict=True))
        sid = uuid.uuid4()
        with pytest.raises(UnrecordableMethodError):
            store.record(sid, "sso/oidc-okta")
        with pytest.raises(UnrecordableMethodError):
            store.record_many([(sid, "password"), (sid, "sso/oidc-okta")])
        assert [] == store.claims(sid)
        assert ["totp"] == [c.method for c in [store.record(sid, "totp")]]

    def test_repr_counts_claims_and_sessions(self) -> None:
        """The repr tells the size, not the contents."""
        store = InMemoryClaimStore(clock=FakeClock())
        store.record_many([(uuid.uuid4(), "password"), (uuid.uuid4(), "totp")])
        assert "<InMemoryClaimStore: 2 claims in 2 sessions>" == repr(store)


class TestTheDefaultSkew:
    def test_a_store_takes_the_policys_default_skew(self) -> None:
        """A store's default skew is a policy's (mfa_amr.DEFAULT_SKEW): a time the
        policy's skew ahead of the clock is recorded, a microsecond more refused."""
        skew = Policy.supabase().skew
        assert timedelta(seconds=DEFAULT_SKEW) == skew
        store = InMemoryClaimStore(clock=FakeClock())
        sid = uuid.uuid4()
        assert START + skew == store.record(sid, "totp", at=START + skew).updated_at
        with pytest.raises(InvalidInputError, match="allowed skew of 60 s"):
            store.record(sid, "totp", at=START + skew + timedelta(microseconds=1))
