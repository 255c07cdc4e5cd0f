"""mfa_amr.testing has teeth: deliberately broken stores fail the contract and the
state machine, while the intact store they are made from passes both.

Each broken store is ``DictStore``, an intact store of two dictionaries built on
public parts only, with one method changed: no fault depends on a backend's
internals.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from mfa_amr import DEFAULT_SKEW, AMRClaim, AuthenticationMethod, Policy
from mfa_amr._claims import claim_from_row
from mfa_amr._grammar import is_valid_method, to_utc
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError, InvalidMethodError
from mfa_amr.stores import ClaimStore, Clock, MethodLike, RecordItem, SessionIdLike
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


# -- an intact store of public parts ------------------------------------------------


def to_id(value: object) -> uuid.UUID:
    """A session or claim id: a UUID, or its string form, as every store accepts."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidClaimError(f"not a UUID: {value!r}")


def to_session_ids(values: object) -> list[uuid.UUID]:
    """The distinct ids of an iterable argument; a single id is refused."""
    if isinstance(values, (str, bytes, uuid.UUID)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"expected an iterable of session ids: {values!r}")
    return list(dict.fromkeys(to_id(value) for value in values))


def to_method(value: object) -> str:
    """A name of the method syntax; a member of AuthenticationMethod gives its
    value."""
    name = value.value if isinstance(value, AuthenticationMethod) else value
    if not isinstance(name, str) or not is_valid_method(name):
        raise InvalidMethodError(f"not a method name: {value!r}")
    return name


def to_stored_name(value: object) -> str:
    """A name to revoke: any non-empty str a database can hold, also outside the
    syntax (another writer's 'TOTP'); a member of AuthenticationMethod gives its
    value."""
    name = value.value if isinstance(value, AuthenticationMethod) else value
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidMethodError(f"not a name to revoke: {value!r}")
    try:
        name.encode()
    except UnicodeEncodeError as exc:
        raise InvalidMethodError(f"not encodable: {value!r}") from exc
    return name


def to_items(items: object) -> list[object]:
    """The items of a ``record_many`` batch, unchecked; a string is refused."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InvalidInputError(f"expected an iterable of items: {items!r}")
    return list(items)


def real_time() -> datetime:
    """The real current time, in UTC."""
    return datetime.now(UTC)


class DictStore:
    """An intact ClaimStore: a dictionary of sessions and one of claims by id,
    changed only through ``put`` and ``remove``."""

    def __init__(self, *, clock: Clock | None = None, policy: Policy | None = None):
        self.clock = clock or real_time
        self.policy = policy or Policy.supabase()
        self.sessions: dict[uuid.UUID, dict[str, AMRClaim]] = {}
        self.by_id: dict[uuid.UUID, AMRClaim] = {}

    # -- the parts the operations are made of -----------------------------------------

    def now(self) -> datetime:
        """The store's clock, as an aware UTC datetime."""
        return to_utc(self.clock(), "the store's clock")

    def not_ahead(self, at: datetime, now: datetime) -> datetime:
        """``at``, unless it lies more than the default skew ahead of ``now``."""
        if at - now > timedelta(seconds=DEFAULT_SKEW):
            raise InvalidInputError(f"{at} is ahead of the clock ({now})")
        return at

    def upsert(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        """Insert the pair's claim, or move its updated_at forward."""
        held = self.sessions.get(sid, {}).get(name)
        if held is None:
            return self.put(AMRClaim(uuid.uuid4(), sid, name, at, at))
        if at > held.updated_at:
            return self.put(attrs.evolve(held, updated_at=at))
        return held

    @staticmethod
    def ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
        """Most recent first, ties by method name in code-point order."""
        by_name = sorted(claims, key=lambda c: c.method)
        return sorted(by_name, key=lambda c: c.updated_at, reverse=True)

    def put(self, claim: AMRClaim) -> AMRClaim:
        """Hold ``claim`` as its pair's claim."""
        self.sessions.setdefault(claim.session_id, {})[claim.method] = claim
        self.by_id[claim.id] = claim
        return claim

    def remove(self, sid: uuid.UUID, name: str) -> bool:
        """Drop the pair's claim; whether there was one."""
        rows = self.sessions.get(sid, {})
        claim = rows.pop(name, None)
        if claim is None:
            return False
        del self.by_id[claim.id]
        if not rows:
            del self.sessions[sid]
        return True

    def drop_session(self, sid: uuid.UUID) -> int:
        """Drop every claim of the session; how many."""
        return sum(self.remove(sid, name) for name in list(self.sessions.get(sid, {})))

    def checked(self, items: object) -> list[tuple[uuid.UUID, str, datetime]]:
        """Every item of a batch as (session, method, at), all checked before
        anything changes; the clock is read once."""
        now: datetime | None = None
        result = []
        for item in to_items(items):
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise InvalidInputError(f"not a (session_id, method[, at]): {item!r}")
            sid = to_id(item[0])
            name = self.policy.check_recordable(item[1])
            at = item[2] if len(item) == 3 else None
            when = None if at is None else to_utc(at, "at")
            now = self.now() if now is None else now
            result.append(
                (sid, name, now if when is None else self.not_ahead(when, now))
            )
        return result

    # -- the protocol -----------------------------------------------------------------

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        sid = to_id(session_id)
        name = self.policy.check_recordable(method)
        when = (
            self.now() if at is None else self.not_ahead(to_utc(at, "at"), self.now())
        )
        return self.upsert(sid, name, when)

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
        for sid, name, at in self.checked(items):
            results[sid, name] = self.upsert(sid, name, at)
        return list(results.values())

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        return self.ordered(self.sessions.get(to_id(session_id), {}).values())

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        return {
            sid: self.ordered(self.sessions.get(sid, {}).values())
            for sid in to_session_ids(session_ids)
        }

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        return self.by_id.get(to_id(claim_id))

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        return self.remove(to_id(session_id), to_stored_name(method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        sids = to_session_ids(session_ids)
        name = to_stored_name(method)
        return sum(self.remove(sid, name) for sid in sids)

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        return sum(self.drop_session(sid) for sid in to_session_ids(session_ids))

    def purge(self, *, before: datetime) -> int:
        cutoff = to_utc(before, "before")
        stale = [
            sid
            for sid, rows in self.sessions.items()
            if max(c.updated_at for c in rows.values()) < cutoff
        ]
        return sum(self.drop_session(sid) for sid in stale)


# -- broken stores: one fault each ------------------------------------------------


class BackwardsStore(DictStore):
    """Sets updated_at to the latest ``at`` given, even an earlier one (Supabase)."""

    def upsert(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self.sessions.get(sid, {}).get(name)
        if held is None:
            return super().upsert(sid, name, at)
        # The row such a table holds, even with updated_at before created_at, which
        # AMRClaim's own constructor (and attrs.evolve) would refuse.
        return self.put(claim_from_row(held.id, sid, name, held.created_at, at))


class CollatedStore(DictStore):
    """Orders ties as a linguistic collation would, ignoring punctuation."""

    @staticmethod
    def ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
        by_name = sorted(
            claims, key=lambda c: (re.sub(r"[^a-z0-9]", "", c.method), c.method)
        )
        return sorted(by_name, key=lambda c: c.updated_at, reverse=True)


class ForgetfulStore(DictStore):
    """Resets created_at whenever a pair is recorded again."""

    def upsert(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self.sessions.get(sid, {}).get(name)
        claim = super().upsert(sid, name, at)
        if held is None or held == claim:
            return claim
        return self.put(attrs.evolve(claim, created_at=claim.updated_at))


class NewIdStore(DictStore):
    """Gives a claim a new id each time its pair is recorded again."""

    def upsert(self, sid: uuid.UUID, name: str, at: datetime) -> AMRClaim:
        held = self.sessions.get(sid, {}).get(name)
        claim = super().upsert(sid, name, at)
        if held is None:
            return claim
        self.remove(sid, name)
        return self.put(attrs.evolve(claim, id=uuid.uuid4()))


class RevokeNeighbourStore(DictStore):
    """revoke removes the method from every session, not just the one named."""

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        found = super().revoke(session_id, method)
        for sid in list(self.sessions):
            self.remove(sid, to_method(method))
        return found


class DeleteNeighbourStore(DictStore):
    """delete_sessions also drops, in other sessions, the methods the deleted
    sessions held (a wrong join)."""

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        sids = to_session_ids(session_ids)
        names = {name for sid in sids for name in self.sessions.get(sid, {})}
        removed = super().delete_sessions(sids)
        for sid in list(self.sessions):
            for name in names:
                self.remove(sid, name)
        return removed


class PerClaimPurgeStore(DictStore):
    """purge removes each old claim, even in a session active since."""

    def purge(self, *, before: datetime) -> int:
        cutoff = to_utc(before, "before")
        old = [
            (sid, name)
            for sid, rows in self.sessions.items()
            for name, claim in rows.items()
            if claim.updated_at < cutoff
        ]
        return sum(self.remove(sid, name) for sid, name in old)


class PartialBatchStore(DictStore):
    """record_many checks and records item by item, so a bad item leaves the
    earlier ones recorded."""

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
        for item in to_items(items):
            for sid, name, at in self.checked([item]):
                results[sid, name] = self.upsert(sid, name, at)
        return list(results.values())


class LastWinsBatchStore(DictStore):
    """record_many gives a repeated pair the last ``at`` of the batch, not the
    greatest (an upsert of the batch's last row)."""

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        results: dict[tuple[uuid.UUID, str], AMRClaim] = {}
        for sid, name, at in self.checked(items):
            claim = self.upsert(sid, name, at)
            if (sid, name) in results and at < claim.updated_at:
                created = min(claim.created_at, at)
                claim = self.put(attrs.evolve(claim, created_at=created, updated_at=at))
            results[sid, name] = claim
        return list(results.values())


class RealTimeStore(DictStore):
    """Ignores the injected clock and reads the real time."""

    def now(self) -> datetime:
        return real_time()


class FutureStore(DictStore):
    """Takes any time from the future, which then sticks (the store's GREATEST)."""

    def not_ahead(self, at: datetime, now: datetime) -> datetime:
        return at


class SyntaxRevokeStore(DictStore):
    """revoke and revoke_everywhere take only names of the syntax, so a name another
    writer stored ('TOTP') cannot be revoked."""

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        return super().revoke(session_id, to_method(method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        return super().revoke_everywhere(session_ids, to_method(method))


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
        if "clock" in inspect.signature(method).parameters:
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
    """Whether a case of ``test`` failed as the contract fails a store: by an
    assertion or pytest's ``fail``, not by crashing."""
    return any(
        key.split("{")[0] == test
        and isinstance(exc, (AssertionError, pytest.fail.Exception))
        for key, exc in failures.items()
    )


# -- the tests --------------------------------------------------------------------


class TestTheIntactStorePasses:
    def test_the_runner_finds_no_failure(self) -> None:
        """Run the same way as the broken stores, every contract test passes on
        DictStore, so each failure below comes from the store's one fault."""
        assert {} == run_contract(DictStore)
        assert len(CASES) > 60

    def test_the_machine_passes(self) -> None:
        """The state machine, run the same way, passes on DictStore."""
        run_machine(DictStore)


BROKEN: list[tuple[type[DictStore], list[str]]] = [
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
    (
        FutureStore,
        [
            "test_record_refuses_a_time_beyond_the_skew",
            "test_the_skew_moves_with_the_clock",
            "test_record_takes_a_time_exactly_when_it_is_within_the_skew",
            "test_record_many_refuses_a_time_beyond_the_skew",
        ],
    ),
    (SyntaxRevokeStore, ["test_revoke_takes_a_name_outside_the_syntax"]),
]


@pytest.mark.parametrize(
    ("broken", "tests"), BROKEN, ids=[b[0].__name__ for b in BROKEN]
)
class TestBrokenStoresFail:
    def test_the_contract_fails(
        self, broken: type[DictStore], tests: list[str]
    ) -> None:
        """The contract tests aimed at the defect fail on the broken store, by an
        assertion."""
        failures = run_contract(broken)
        assert [] == [t for t in tests if not failed(failures, t)]

    def test_the_machine_fails(self, broken: type[DictStore], tests: list[str]) -> None:
        """The state machine finds the defect too, by an assertion."""
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            run_machine(broken)
