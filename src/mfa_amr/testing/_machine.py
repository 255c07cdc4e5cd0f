"""The state machine: :class:`ClaimStoreMachine` drives a store and the reference
model side by side and compares their whole state after every step."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from mfa_amr.exceptions import InvalidInputError, UnrecordableMethodError
from mfa_amr.stores import ClaimStore, RecordItem
from mfa_amr.testing._clock import START, FakeClock
from mfa_amr.testing._model import Model, expect
from mfa_amr.testing._strategies import (
    BAD_ITEMS,
    FOREIGN_NAMES,
    MACHINE_POOL,
    SECOND,
    SKEW,
    STEPS,
    TOKEN_REFRESH,
    shifts,
)

__all__ = ["ClaimStoreMachine"]


class ClaimStoreMachine(RuleBasedStateMachine):
    """A Hypothesis state machine that drives a store and a plain reference model
    side by side.

    Small pools of session ids and method names make operations collide: the same
    pair recorded again (also at an earlier instant), ties at one instant, duplicate
    pairs in one ``record_many``, revokes and purges of what others share. After
    every step it compares every session's ``claims`` and ``get`` of every claim id
    ever returned. It reads the store only through the protocol, so it runs on any
    backend.

    Subclass it and override :meth:`make_store` (and :meth:`teardown_store` when the
    store holds resources), then expose its test case::

        class MyStoreMachine(ClaimStoreMachine):
            def make_store(self, clock: FakeClock) -> MyClaimStore:
                return MyClaimStore(clock=clock)


        TestMyStoreMachine = MyStoreMachine.TestCase
        TestMyStoreMachine.settings = settings(max_examples=50, deadline=None)

    Each run starts with a new store; ``make_store`` must return an empty one (a
    database backend can give each run fresh tables, or truncate them).
    """

    sessions = Bundle("sessions")
    methods = Bundle("methods")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.store = self.make_store(self.clock)
        self.model = Model()
        self.known: list[uuid.UUID] = []

    def make_store(self, clock: FakeClock) -> ClaimStore:
        """Return a new, empty store that reads ``clock`` and uses the default
        policy: override it."""
        raise NotImplementedError(
            f"{type(self).__name__} must override make_store(self, clock)"
        )

    def teardown_store(self, store: ClaimStore) -> None:
        """Release what ``make_store`` acquired (default: nothing)."""

    def new_session_id(self, store: ClaimStore) -> uuid.UUID:
        """A session id for the pool (default ``uuid.uuid4()``); a backend whose
        claims need an existing session row creates one here."""
        return uuid.uuid4()

    def teardown(self) -> None:
        self.teardown_store(self.store)

    # -- pools ---------------------------------------------------------------------

    @initialize(target=sessions)
    def first_session(self) -> uuid.UUID:
        return self._new_session()

    @initialize(
        target=methods,
        names=st.lists(
            st.sampled_from(MACHINE_POOL), min_size=2, max_size=4, unique=True
        ),
    )
    def first_methods(self, names: list[str]) -> MultipleResults[str]:
        return multiple(*names)

    @precondition(lambda self: len(self.known) < 4)
    @rule(target=sessions)
    def another_session(self) -> uuid.UUID:
        return self._new_session()

    @rule(target=methods, name=st.sampled_from(MACHINE_POOL))
    def another_method(self, name: str) -> str:
        return name

    def _new_session(self) -> uuid.UUID:
        sid = self.new_session_id(self.store)
        self.known.append(sid)
        return sid

    # -- writes --------------------------------------------------------------------

    @rule(sid=sessions, name=methods)
    def record(self, sid: uuid.UUID, name: str) -> None:
        claim = self.store.record(sid, name)
        expect(self.model.record(sid, name, self.clock(), claim.id), claim, "record")

    @rule(sid=sessions, name=methods, shift=shifts)
    def record_at(self, sid: uuid.UUID, name: str, shift: tuple[int, timezone]) -> None:
        at = self._shifted(shift)
        if self._too_far_ahead(shift):
            with pytest.raises(InvalidInputError):
                self.store.record(str(sid), name, at=at)
            return
        claim = self.store.record(str(sid), name, at=at)
        expect(self.model.record(sid, name, at, claim.id), claim, "record at")

    @rule(
        items=st.lists(
            st.tuples(sessions, methods, st.none() | shifts), min_size=1, max_size=6
        )
    )
    def record_many(
        self, items: list[tuple[uuid.UUID, str, tuple[int, timezone] | None]]
    ) -> None:
        calls: list[RecordItem] = [
            (sid, name) if shift is None else (sid, name, self._shifted(shift))
            for sid, name, shift in items
        ]
        if any(self._too_far_ahead(shift) for _, _, shift in items):
            with pytest.raises(InvalidInputError):
                self.store.record_many(calls)
            return
        got = self.store.record_many(calls)
        now = self.clock()
        expected = self.model.record_many(
            [
                (sid, name, now if shift is None else self._shifted(shift))
                for sid, name, shift in items
            ],
            got,
        )
        expect(expected, got, "record_many")

    @rule(
        items=st.lists(st.tuples(sessions, methods), max_size=4),
        bad=st.sampled_from(BAD_ITEMS),
    )
    def record_many_with_a_bad_item(
        self, items: list[tuple[uuid.UUID, str]], bad: object
    ) -> None:
        with pytest.raises(InvalidInputError):
            self.store.record_many([*items, bad])  # type: ignore[list-item]

    @rule(sid=sessions)
    def record_token_refresh(self, sid: uuid.UUID) -> None:
        with pytest.raises(UnrecordableMethodError):
            self.store.record(sid, TOKEN_REFRESH)

    @rule(sid=sessions, name=methods)
    def revoke(self, sid: uuid.UUID, name: str) -> None:
        expect(self.model.revoke(sid, name), self.store.revoke(sid, name), "revoke")

    @rule(sid=sessions, name=st.sampled_from(FOREIGN_NAMES))
    def revoke_a_name_outside_the_syntax(self, sid: uuid.UUID, name: str) -> None:
        try:
            removed = self.store.revoke(sid, name)
        except InvalidInputError as exc:
            pytest.fail(
                f"revoke refused {name!r}, a name another writer may have stored: {exc}"
            )
        expect(False, removed, f"revoke({name!r})")

    @rule(sids=st.lists(sessions, max_size=4), name=methods)
    def revoke_everywhere(self, sids: list[uuid.UUID], name: str) -> None:
        expected = sum(self.model.revoke(sid, name) for sid in dict.fromkeys(sids))
        expect(expected, self.store.revoke_everywhere(sids, name), "revoke count")

    @rule(sids=st.lists(sessions, max_size=3))
    def delete_sessions(self, sids: list[uuid.UUID]) -> None:
        expect(
            self.model.delete_sessions(sids),
            self.store.delete_sessions(sids),
            "delete_sessions count",
        )

    @rule(shift=shifts)
    def purge(self, shift: tuple[int, timezone]) -> None:
        before = self._shifted(shift)
        expect(self.model.purge(before), self.store.purge(before=before), "purge count")

    @rule(step=st.sampled_from(STEPS))
    def advance_the_clock(self, step: timedelta) -> None:
        self.clock.advance(step)

    # -- reads ---------------------------------------------------------------------

    @rule(sids=st.lists(sessions, max_size=4))
    def claims_many(self, sids: list[uuid.UUID]) -> None:
        stranger = uuid.uuid4()
        got = self.store.claims_many([*sids, stranger])
        expected = {sid: self.model.claims(sid) for sid in [*sids, stranger]}
        expect(expected, got, "claims_many")

    @precondition(lambda self: bool(self.model.issued))
    @rule(pick=st.integers(min_value=0))
    def get_a_known_id(self, pick: int) -> None:
        ids = list(self.model.issued)
        cid = ids[pick % len(ids)]
        expect(self.model.issued[cid], self.store.get(str(cid)), f"get({cid})")

    @rule()
    def get_an_unknown_id(self) -> None:
        expect(None, self.store.get(uuid.uuid4()), "get of an unknown id")

    @invariant()
    def the_store_matches_the_model(self) -> None:
        for sid in self.known:
            expect(self.model.claims(sid), self.store.claims(sid), f"claims({sid})")
        for cid, claim in self.model.issued.items():
            expect(claim, self.store.get(cid), f"get({cid})")

    def _shifted(self, shift: tuple[int, timezone]) -> datetime:
        seconds, zone = shift
        return (self.clock() + seconds * SECOND).astimezone(zone)

    @staticmethod
    def _too_far_ahead(shift: tuple[int, timezone] | None) -> bool:
        """Whether a time ``shift`` ahead of the clock lies beyond the default skew,
        which a store refuses."""
        return shift is not None and shift[0] * SECOND > SKEW
