"""mfa_amr.testing has teeth: deliberately broken stores fail the contract and the
state machine, while the real in-memory store passes both."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from mfa_amr import AMRClaim, InMemoryClaimStore, Policy
from mfa_amr._claims import to_utc
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError
from mfa_amr.stores import ClaimStore, Clock, RecordItem, _input
from mfa_amr.testing import START, ClaimStoreContract, ClaimStoreMachine, FakeClock

# Derandomized, so a broken store fails the same way on every run; not shrunk, since
# only whether a run fails matters here.
TEETH = settings(
    max_examples=60,
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    report_multiple_bugs=False,
)


# -- broken stores --------------------------------------------------------------


class BackwardsStore(InMemoryClaimStore):
    """Sets updated_at to the latest ``at`` given, even an earlier one (Supabase)."""

    def _apply(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self._sessions.get(sid, {}).get(name)
        if held is None:
            return super()._apply(sid, name, at)
        claim = AMRClaim._unchecked(held.id, sid, name, held.created_at, at)
        self._sessions[sid][name] = claim
        self._by_id[claim.id] = claim
        return claim


class CollatedStore(InMemoryClaimStore):
    """Orders ties as a linguistic collation would, ignoring punctuation."""

    @staticmethod
    def _ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
        by_name = sorted(
            claims,
            key=lambda c: (re.sub(r"[^a-z0-9]", "", c.method), c.method),
        )
        return sorted(by_name, key=lambda c: c.updated_at, reverse=True)


class ForgetfulStore(InMemoryClaimStore):
    """Resets created_at whenever a pair is recorded again."""

    def _apply(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self._sessions.get(sid, {}).get(name)
        claim = super()._apply(sid, name, at)
        if held is None or claim.updated_at == held.updated_at:
            return claim
        claim = AMRClaim._unchecked(claim.id, sid, name, at, at)
        self._sessions[sid][name] = claim
        self._by_id[claim.id] = claim
        return claim


class NewIdStore(InMemoryClaimStore):
    """Gives a claim a new id each time its pair is recorded again."""

    def _apply(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self._sessions.get(sid, {}).get(name)
        claim = super()._apply(sid, name, at)
        if held is None:
            return claim
        del self._by_id[claim.id]
        claim = AMRClaim._unchecked(
            uuid.uuid4(), sid, name, claim.created_at, claim.updated_at
        )
        self._sessions[sid][name] = claim
        self._by_id[claim.id] = claim
        return claim


class RevokeNeighbourStore(InMemoryClaimStore):
    """revoke removes the method from every session, not just the one named."""

    def revoke(self, session_id: Any, method: Any) -> bool:
        found = super().revoke(session_id, method)
        with self._lock:
            for sid in list(self._sessions):
                self._remove(sid, str(method))
        return found


class DeleteNeighbourStore(InMemoryClaimStore):
    """delete_sessions also drops, in other sessions, the methods the deleted
    sessions held (a wrong join)."""

    def delete_sessions(self, session_ids: Iterable[Any]) -> int:
        sids = [uuid.UUID(str(s)) for s in session_ids]
        with self._lock:
            names = {n for s in sids for n in self._sessions.get(s, {})}
        removed = super().delete_sessions(sids)
        with self._lock:
            for sid in list(self._sessions):
                for name in names:
                    self._remove(sid, name)
        return removed


class PerClaimPurgeStore(InMemoryClaimStore):
    """purge removes each old claim, even in a session active since."""

    def purge(self, *, before: datetime) -> int:
        cutoff = to_utc(before, "before")
        with self._lock:
            old = [
                (sid, name)
                for sid, rows in self._sessions.items()
                for name, claim in rows.items()
                if claim.updated_at < cutoff
            ]
            return sum(self._remove(sid, name) for sid, name in old)


class PartialBatchStore(InMemoryClaimStore):
    """record_many checks and records item by item, so a bad item leaves the
    earlier ones recorded."""

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
        for item in items:
            for sid, name, at in _input.record_items([item], self._policy, self._clock):
                with self._lock:
                    results[sid, name] = self._apply(sid, name, at)
        return list(results.values())


class LastWinsBatchStore(InMemoryClaimStore):
    """record_many gives a repeated pair the last ``at`` of the batch, not the
    greatest (an upsert of the batch's last row)."""

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        checked = _input.record_items(items, self._policy, self._clock)
        with self._lock:
            results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
            for sid, name, at in checked:
                claim = self._apply(sid, name, at)
                if (sid, name) in results and at < claim.updated_at:
                    claim = AMRClaim._unchecked(
                        claim.id, sid, name, min(claim.created_at, at), at
                    )
                    self._sessions[sid][name] = claim
                    self._by_id[claim.id] = claim
                results[sid, name] = claim
            return list(results.values())


class RealTimeStore(InMemoryClaimStore):
    """Ignores the injected clock and reads the real time."""

    def __init__(self, *, clock: Clock | None = None, policy: Policy | None = None):
        super().__init__(policy=policy)  # the clock given is dropped: real time


# -- running the contract and the machine programmatically ------------------------


class _Contract(ClaimStoreContract):
    hypothesis_settings = TEETH


def _cases() -> list[tuple[str, dict[str, Any]]]:
    """Every contract test, with each parametrised case expanded."""
    cases: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(dir(ClaimStoreContract)):
        if not name.startswith("test_"):
            continue
        func = getattr(ClaimStoreContract, name)
        params: list[dict[str, Any]] = [{}]
        for mark in getattr(func, "pytestmark", []):
            if mark.name != "parametrize":
                continue
            argnames, argvalues = mark.args[0], mark.args[1]
            names = [argnames] if isinstance(argnames, str) else list(argnames)
            if len(names) == 1 and "," in names[0]:
                names = [n.strip() for n in names[0].split(",")]
            params = [
                {**p, **dict(zip(names, v if len(names) > 1 else (v,), strict=True))}
                for p in params
                for v in argvalues
            ]
        cases.extend((name, p) for p in params)
    return cases


CASES = _cases()


def run_contract(make: Callable[..., ClaimStore]) -> dict[str, BaseException]:
    """Run every contract test on new stores from ``make``; return the failures by
    test (and parameters)."""
    failures: dict[str, BaseException] = {}
    for name, params in CASES:
        contract = _Contract()
        clock = FakeClock(START)
        method = getattr(contract, name)
        kwargs = dict(params)
        wanted = method.__code__.co_varnames[1 : method.__code__.co_argcount]
        if "clock" in wanted:
            kwargs["clock"] = clock
        try:
            method(store=make(clock=clock), **kwargs)
        except (Exception, pytest.fail.Exception) as exc:
            failures[f"{name}{params or ''}"] = exc
    return failures


def run_machine(make: Callable[..., ClaimStore]) -> None:
    """Run the state machine on stores from ``make``."""

    class Machine(ClaimStoreMachine):
        def make_store(self, clock: FakeClock) -> ClaimStore:
            return make(clock=clock)

    run_state_machine_as_test(Machine, settings=TEETH)


def failed(failures: dict[str, BaseException], test: str) -> bool:
    return any(key.split("{")[0] == test for key in failures)


# -- the tests --------------------------------------------------------------------


class TestTheIntactStorePasses:
    def test_the_runner_finds_no_failure_in_the_real_store(self) -> None:
        """Run the same way, every contract test passes on InMemoryClaimStore."""
        assert {} == run_contract(InMemoryClaimStore)
        assert len(CASES) > 60

    def test_the_machine_passes_on_the_real_store(self) -> None:
        """The state machine, run the same way, passes on InMemoryClaimStore."""
        run_machine(InMemoryClaimStore)


BROKEN: list[tuple[type[InMemoryClaimStore], list[str]]] = [
    (
        BackwardsStore,
        [
            "test_record_earlier_at_never_moves_updated_at_backwards",
            "test_record_keeps_the_greatest_at",
            "test_record_many_repeats_act_as_sequential_records",
        ],
    ),
    (
        CollatedStore,
        ["test_claims_break_ties_by_code_point", "test_claims_order_matches_the_rule"],
    ),
    (
        ForgetfulStore,
        [
            "test_record_again_keeps_id_and_created_at",
            "test_record_defaults_at_to_the_clock",
            "test_record_keeps_the_greatest_at",
        ],
    ),
    (
        NewIdStore,
        [
            "test_record_again_keeps_id_and_created_at",
            "test_record_keeps_the_greatest_at",
        ],
    ),
    (
        RevokeNeighbourStore,
        ["test_every_change_leaves_other_sessions_untouched"],
    ),
    (
        DeleteNeighbourStore,
        [
            "test_every_change_leaves_other_sessions_untouched",
            "test_delete_sessions_removes_every_claim_and_counts_them",
        ],
    ),
    (
        PerClaimPurgeStore,
        [
            "test_purge_keeps_every_claim_of_a_recently_active_session",
            "test_purge_matches_the_rule",
        ],
    ),
    (PartialBatchStore, ["test_record_many_is_all_or_nothing"]),
    (
        LastWinsBatchStore,
        [
            "test_record_many_repeats_act_as_sequential_records",
            "test_record_many_matches_sequential_records",
        ],
    ),
    (RealTimeStore, ["test_record_defaults_at_to_the_clock"]),
]


@pytest.mark.parametrize(
    ("broken", "tests"), BROKEN, ids=[b[0].__name__ for b in BROKEN]
)
class TestBrokenStoresFail:
    def test_the_contract_fails(
        self, broken: type[InMemoryClaimStore], tests: list[str]
    ) -> None:
        """The contract tests aimed at the defect fail on the broken store."""
        failures = run_contract(broken)
        assert [] == [t for t in tests if not failed(failures, t)]

    def test_the_machine_fails(
        self, broken: type[InMemoryClaimStore], tests: list[str]
    ) -> None:
        """The state machine finds the defect too."""
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            run_machine(broken)


# -- FakeClock ----------------------------------------------------------------------


class TestFakeClock:
    def test_starts_at_start_and_moves_only_when_told(self) -> None:
        """A new clock reads START, again and again."""
        clock = FakeClock()
        assert START == clock() == clock()
        assert timedelta(0) == clock().utcoffset()

    def test_advance_by_seconds_or_timedelta(self) -> None:
        """advance takes seconds (int or float) or a timedelta and returns the new
        instant."""
        clock = FakeClock()
        assert START + timedelta(seconds=90) == clock.advance(90)
        assert START + timedelta(seconds=90.5) == clock.advance(0.5)
        assert START + timedelta(minutes=2, seconds=30.5) == clock.advance(
            timedelta(minutes=1)
        )
        assert START + timedelta(minutes=2, seconds=31.5) == clock.advance()
        assert clock.advance(0) == clock()

    @pytest.mark.parametrize("by", [-1, timedelta(microseconds=-1), "1", True, None])
    def test_advance_refuses_going_back_or_non_numbers(self, by: object) -> None:
        """advance moves forward only, by a number of seconds or a timedelta."""
        clock = FakeClock()
        with pytest.raises(InvalidInputError):
            clock.advance(by)  # type: ignore[arg-type]
        assert START == clock()

    def test_set_jumps_anywhere_and_normalises_to_utc(self) -> None:
        """set accepts any aware datetime, earlier too, and reads back in UTC."""
        clock = FakeClock()
        there = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        clock.set(there)
        assert there == clock()
        assert timedelta(0) == clock().utcoffset()

    @pytest.mark.parametrize("when", [datetime(2026, 1, 1), "2026-01-01", 0])
    def test_set_and_start_refuse_naive_or_non_datetimes(self, when: object) -> None:
        """A naive datetime or a non-datetime is refused."""
        clock = FakeClock()
        with pytest.raises(InvalidClaimError):
            clock.set(when)  # type: ignore[arg-type]
        with pytest.raises(InvalidClaimError):
            FakeClock(when)  # type: ignore[arg-type]
        assert START == clock()

    def test_a_custom_start(self) -> None:
        """FakeClock(start) starts there; its repr shows the instant."""
        clock = FakeClock(START + timedelta(days=1))
        assert START + timedelta(days=1) == clock()
        assert "FakeClock(2026-01-16T09:00:00+00:00)" == repr(clock)

    def test_is_the_same_class_as_the_demo_uses(self) -> None:
        """mfa_amr.testing.FakeClock is the one mfa_amr._clock defines, so the CLI
        needs no test dependency."""
        from mfa_amr import _clock

        assert _clock.FakeClock is FakeClock
        assert _clock.START is START
