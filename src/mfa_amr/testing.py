"""Test tools for claim stores: a fake clock, a contract suite, a state machine.

A backend proves it is a :class:`~mfa_amr.stores.ClaimStore` by passing both:

- :class:`ClaimStoreContract`, a pytest base class of example-based and property
  tests, one or more for every rule of the protocol;
- :class:`ClaimStoreMachine`, a Hypothesis state machine that drives the store and a
  plain-Python reference model side by side and compares their whole state after
  every step.

Example (the complete test module of a backend)::

    import pytest
    from hypothesis import settings

    from mfa_amr.testing import ClaimStoreContract, ClaimStoreMachine, FakeClock
    from mybackend import MyClaimStore


    class TestMyStoreContract(ClaimStoreContract):
        @pytest.fixture
        def store(self, clock: FakeClock) -> MyClaimStore:
            return MyClaimStore(clock=clock)


    class MyStoreMachine(ClaimStoreMachine):
        def make_store(self, clock: FakeClock) -> MyClaimStore:
            return MyClaimStore(clock=clock)


    TestMyStoreMachine = MyStoreMachine.TestCase
    TestMyStoreMachine.settings = settings(max_examples=50, deadline=None)

An asyncio backend (an :class:`~mfa_amr.stores.AsyncClaimStore`) passes the same
suite through :class:`BlockingClaimStore`, which runs each call to completion on the
event loop of an :class:`AsyncRunner`::

    class TestMyAsyncStoreContract(ClaimStoreContract):
        @pytest.fixture
        def store(self, clock: FakeClock) -> Iterator[ClaimStore]:
            with AsyncRunner() as runner:
                yield BlockingClaimStore(MyAsyncClaimStore(clock=clock), runner)

This module imports pytest and Hypothesis (the ``test`` extra); ``import mfa_amr``
never imports it.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, ClassVar, Final, TypeVar, cast

import attrs
import pytest
from hypothesis import given, settings
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

from mfa_amr._claims import UTC, AMRClaim, to_utc
from mfa_amr._clock import START, FakeClock
from mfa_amr._methods import AuthenticationMethod, is_valid_method
from mfa_amr._policy import AAL, Policy
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    UnrecordableMethodError,
)
from mfa_amr.stores._protocol import (
    AsyncClaimStore,
    ClaimStore,
    MethodLike,
    RecordItem,
    SessionIdLike,
)

__all__ = [
    "START",
    "AsyncRunner",
    "BlockingClaimStore",
    "ClaimStoreContract",
    "ClaimStoreMachine",
    "FakeClock",
]

_T = TypeVar("_T")

_SECOND: Final = timedelta(seconds=1)
_TOKEN_REFRESH: Final = AuthenticationMethod.TOKEN_REFRESH.value


# -- the reference model -------------------------------------------------------------


def _expect(expected: object, actual: object, what: str) -> None:
    """``assert expected == actual`` with a message that survives without pytest's
    assertion rewriting (this module is a library, not a test module)."""
    if expected != actual:
        raise AssertionError(f"{what}:\n  expected {expected!r}\n  got      {actual!r}")


def _ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
    """The protocol's order: most recent first, ties by method name in code-point
    order (Python compares ``str`` by code point)."""
    by_name = sorted(claims, key=lambda c: c.authentication_method)
    return sorted(by_name, key=lambda c: c.updated_at, reverse=True)


class _Model:
    """What a store must hold, in plain dictionaries. It cannot know the ids a store
    draws, so it adopts the id a store returns for each new claim, after checking
    that it is a fresh uuid4."""

    def __init__(self) -> None:
        self.sessions: dict[uuid.UUID, dict[str, AMRClaim]] = {}
        # Every claim id a store ever returned -> the claim now, or None once gone.
        self.issued: dict[uuid.UUID, AMRClaim | None] = {}

    def claims(self, sid: uuid.UUID) -> list[AMRClaim]:
        return _ordered(self.sessions.get(sid, {}).values())

    def snapshot(self) -> dict[uuid.UUID, list[AMRClaim]]:
        return {sid: self.claims(sid) for sid in self.sessions}

    def record(
        self, sid: uuid.UUID, name: str, at: datetime, new_id: uuid.UUID
    ) -> AMRClaim:
        rows = self.sessions.setdefault(sid, {})
        held = rows.get(name)
        if held is None:
            if new_id in self.issued:
                raise AssertionError(
                    f"a new claim for ({sid}, {name!r}) reused the claim id {new_id}"
                )
            if new_id.version != 4:
                raise AssertionError(f"a new claim's id {new_id} is not a uuid4")
            at = to_utc(at)
            claim = AMRClaim(new_id, sid, name, at, at)
        elif at > held.updated_at:
            claim = attrs.evolve(held, updated_at=at)
        else:
            claim = held
        rows[name] = claim
        self.issued[claim.id] = claim
        return claim

    def record_many(
        self,
        items: list[tuple[uuid.UUID, str, datetime]],
        returned: list[AMRClaim],
    ) -> list[AMRClaim]:
        pairs = list(dict.fromkeys((sid, name) for sid, name, _ in items))
        _expect(
            pairs,
            [(c.session_id, c.authentication_method) for c in returned],
            "record_many must return one claim per distinct pair, in the order "
            "each pair first appears",
        )
        new_ids = {(c.session_id, c.authentication_method): c.id for c in returned}
        final = {
            (sid, name): self.record(sid, name, at, new_ids[sid, name])
            for sid, name, at in items
        }
        return [final[pair] for pair in pairs]

    def _drop(self, claim: AMRClaim) -> None:
        self.issued[claim.id] = None

    def revoke(self, sid: uuid.UUID, name: str) -> bool:
        rows = self.sessions.get(sid, {})
        claim = rows.pop(name, None)
        if claim is None:
            return False
        self._drop(claim)
        if not rows:
            del self.sessions[sid]
        return True

    def delete_sessions(self, sids: Iterable[uuid.UUID]) -> int:
        removed = 0
        for sid in dict.fromkeys(sids):
            for claim in self.sessions.pop(sid, {}).values():
                self._drop(claim)
                removed += 1
        return removed

    def purge(self, before: datetime) -> int:
        stale = [
            sid
            for sid, rows in self.sessions.items()
            if max(c.updated_at for c in rows.values()) < before
        ]
        return self.delete_sessions(stale)


# -- strategies ----------------------------------------------------------------------

# Names that sort differently under a database's linguistic collation than by code
# point: '-' (0x2d) < '.' < '/' < digits < '_' (0x5f) < letters.
_TIE_NAMES: Final = ("x_a", "x-b", "x.c", "x/d", "x0", "xa", "mfa/phone", "mfa_phone")
_POOL: Final = (
    "password",
    "totp",
    "mfa/phone",
    "mfa/webauthn",
    "passkey",
    "x-b",
    "x_a",
    "x.c",
)
_ZONES: Final = (
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
)

_names = st.from_regex(r"[a-z0-9/_.\-]{1,64}", fullmatch=True).filter(
    lambda n: n != _TOKEN_REFRESH
)
_methods = st.one_of(st.sampled_from(_POOL), _names)
_bad_names: st.SearchStrategy[object] = st.one_of(
    st.text(max_size=70).filter(lambda s: not is_valid_method(s)),
    st.sampled_from(["TOTP", "Totp", " totp", "totp\n", "mfa\\phone", "x" * 65]),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
)
# A few seconds apart, so that instants collide and ties happen; in any zone.
_instants = st.builds(
    lambda seconds, micros, zone: (
        START + seconds * _SECOND + timedelta(microseconds=micros)
    ).astimezone(zone),
    st.integers(-3, 3),
    st.sampled_from([0, 0, 1, 999_999]),
    st.sampled_from(_ZONES),
)


# -- the contract --------------------------------------------------------------------


class _Sessions:
    """Fresh session ids for property examples run against one store: each example
    first deletes the sessions of the examples before it, so it starts from the
    store the test started with, without building a new store each time."""

    def __init__(self, contract: ClaimStoreContract, store: ClaimStore) -> None:
        self._contract = contract
        self._store = store
        self._made: list[uuid.UUID] = []

    def reset(self) -> None:
        if self._made:
            self._store.delete_sessions(self._made)
            self._made.clear()

    def new(self) -> uuid.UUID:
        sid = self._contract.new_session_id(self._store)
        self._made.append(sid)
        return sid


def _state(store: ClaimStore, *sids: uuid.UUID) -> dict[uuid.UUID, list[AMRClaim]]:
    return {sid: store.claims(sid) for sid in sids}


class ClaimStoreContract:
    """The behaviour every :class:`~mfa_amr.stores.ClaimStore` must have, as a pytest
    base class.

    Subclass it in a test module (the name must start with ``Test``) and override
    the ``store`` fixture; every ``test_`` method is inherited::

        class TestMyStore(ClaimStoreContract):
            @pytest.fixture
            def store(self, clock: FakeClock) -> Iterator[MyClaimStore]:
                store = MyClaimStore(dsn, clock=clock)  # the default policy
                yield store
                store.close()

    The ``clock`` fixture is a :class:`FakeClock` at :data:`START`; the store must
    read it whenever ``at`` is left out, and use ``Policy.supabase()``.

    The store fixture may keep its function scope: property tests run their
    Hypothesis examples inside one test call, against that one store, each on fresh
    session ids (sessions of earlier examples are deleted first). So an expensive
    backend is set up once per test, and a test starts from an empty store.

    Optional overrides:
        hypothesis_settings: the settings of the property tests (default: the
            current profile with ``deadline=None``).
        new_session_id: where session ids come from (default ``uuid.uuid4()``);
            a backend whose claims need an existing session row creates one here.
    """

    hypothesis_settings: ClassVar[settings | None] = None

    @pytest.fixture
    def clock(self) -> FakeClock:
        """A fake clock at :data:`START`, to pass as the store's ``clock=``."""
        return FakeClock(START)

    @pytest.fixture
    def store(self, clock: FakeClock) -> ClaimStore:
        """The store under test, built with ``clock=clock``: override it."""
        pytest.fail(
            f"{type(self).__name__} must override the `store(self, clock)` fixture "
            "to return a store built with clock=clock"
        )

    def new_session_id(self, store: ClaimStore) -> uuid.UUID:
        """A session id no test has used yet."""
        return uuid.uuid4()

    def _property(
        self, *strategies: st.SearchStrategy[Any]
    ) -> Callable[[Callable[..., None]], None]:
        """Decorate an inner function as a Hypothesis test and run it at once."""

        def run(test: Callable[..., None]) -> None:
            chosen = self.hypothesis_settings or settings(deadline=None)
            runner = settings(chosen)(given(*strategies)(test))
            cast("Callable[[], None]", runner)()

        return run

    # -- record: first time, again, at ------------------------------------------------

    def test_record_creates_a_claim(self, store: ClaimStore, clock: FakeClock) -> None:
        """A first record makes a uuid4-id claim with created_at = updated_at = at."""
        sid = self.new_session_id(store)
        at = START - timedelta(minutes=5)
        claim = store.record(sid, "password", at=at)
        assert isinstance(claim, AMRClaim)
        assert sid == claim.session_id
        assert "password" == claim.authentication_method
        assert str is type(claim.authentication_method)
        assert 4 == claim.id.version
        assert at == claim.created_at == claim.updated_at
        assert [claim] == store.claims(sid)
        assert claim == store.get(claim.id)

    def test_record_gives_each_pair_its_own_id(self, store: ClaimStore) -> None:
        """Claims of different pairs have distinct ids."""
        one, two = self.new_session_id(store), self.new_session_id(store)
        ids = {
            store.record(one, "password").id,
            store.record(one, "totp").id,
            store.record(two, "password").id,
        }
        assert 3 == len(ids)

    def test_record_defaults_at_to_the_clock(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """Without ``at`` a record happens at the store's clock."""
        sid = self.new_session_id(store)
        clock.advance(90)
        first = store.record(sid, "password")
        assert START + 90 * _SECOND == first.created_at == first.updated_at
        clock.advance(timedelta(minutes=2))
        again = store.record(sid, "password")
        assert START + 90 * _SECOND == again.created_at
        assert clock() == again.updated_at

    def test_record_normalises_at_to_utc(self, store: ClaimStore) -> None:
        """An aware ``at`` in any zone is stored as the same instant, in UTC."""
        sid = self.new_session_id(store)
        at = datetime(2026, 1, 15, 14, 30, 0, 250_000, tzinfo=_ZONES[1])
        claim = store.record(sid, "totp", at=at)
        for stored in (claim, store.claims(sid)[0]):
            assert at == stored.updated_at == stored.created_at
            assert timedelta(0) == stored.updated_at.utcoffset()
            assert timedelta(0) == stored.created_at.utcoffset()

    def test_record_again_keeps_id_and_created_at(self, store: ClaimStore) -> None:
        """Recording a pair again keeps id and created_at, moves updated_at on."""
        sid = self.new_session_id(store)
        first = store.record(sid, "totp", at=START)
        later = START + timedelta(hours=1)
        again = store.record(sid, "totp", at=later)
        assert first.id == again.id
        assert START == again.created_at
        assert later == again.updated_at
        assert [again] == store.claims(sid)
        assert again == store.get(first.id)

    def test_record_earlier_at_never_moves_updated_at_backwards(
        self, store: ClaimStore
    ) -> None:
        """An earlier ``at`` (clock skew) leaves the claim as it was, unlike
        Supabase."""
        sid = self.new_session_id(store)
        store.record(sid, "totp", at=START)
        latest = store.record(sid, "totp", at=START + timedelta(minutes=10))
        for earlier in (START + timedelta(minutes=5), START - timedelta(days=1)):
            assert latest == store.record(sid, "totp", at=earlier)
            assert [latest] == store.claims(sid)
            assert latest == store.get(latest.id)

    def test_record_the_same_at_changes_nothing(self, store: ClaimStore) -> None:
        """Recording a pair again at its own updated_at returns the same claim."""
        sid = self.new_session_id(store)
        claim = store.record(sid, "password", at=START)
        assert claim == store.record(sid, "password", at=START)
        assert [claim] == store.claims(sid)

    def test_record_accepts_string_ids_and_enum_members(
        self, store: ClaimStore
    ) -> None:
        """A session id's string form and an AuthenticationMethod are accepted."""
        sid = self.new_session_id(store)
        claim = store.record(str(sid), AuthenticationMethod.MFA_WEBAUTHN, at=START)
        assert sid == claim.session_id
        assert "mfa/webauthn" == claim.authentication_method
        assert str is type(claim.authentication_method)
        assert [claim] == store.claims(str(sid)) == store.claims(sid)
        assert claim == store.get(str(claim.id))

    def test_record_accepts_names_outside_the_catalog(self, store: ClaimStore) -> None:
        """The default policy records a well-formed name it does not know."""
        sid = self.new_session_id(store)
        claim = store.record(sid, "sso/oidc-okta", at=START)
        assert [claim] == store.claims(sid)

    @pytest.mark.parametrize(
        "method", [_TOKEN_REFRESH, AuthenticationMethod.TOKEN_REFRESH]
    )
    def test_record_refuses_token_refresh_and_changes_nothing(
        self, store: ClaimStore, method: str
    ) -> None:
        """token_refresh is refused before anything changes."""
        sid, fresh = self.new_session_id(store), self.new_session_id(store)
        before = store.record(sid, "password", at=START)
        with pytest.raises(UnrecordableMethodError):
            store.record(sid, method, at=START + _SECOND)
        with pytest.raises(UnrecordableMethodError):
            store.record(fresh, method)
        assert {sid: [before], fresh: []} == _state(store, sid, fresh)

    @pytest.mark.parametrize(
        ("field", "value", "error"),
        [
            ("session_id", "not-a-uuid", InvalidClaimError),
            ("session_id", "", InvalidClaimError),
            ("session_id", 42, InvalidClaimError),
            ("session_id", None, InvalidClaimError),
            ("session_id", b"\x00" * 16, InvalidClaimError),
            ("method", "TOTP", InvalidMethodError),
            ("method", "", InvalidMethodError),
            ("method", "totp\n", InvalidMethodError),
            ("method", " totp", InvalidMethodError),
            ("method", "x" * 65, InvalidMethodError),
            ("method", 42, InvalidMethodError),
            ("method", None, InvalidMethodError),
            ("at", datetime(2026, 1, 15, 9, 0), InvalidClaimError),
            ("at", "2026-01-15T09:00:00+00:00", InvalidClaimError),
            ("at", 1_768_467_600, InvalidClaimError),
            ("at", date(2026, 1, 15), InvalidClaimError),
        ],
    )
    def test_record_refuses_invalid_input_and_changes_nothing(
        self, store: ClaimStore, field: str, value: object, error: type[Exception]
    ) -> None:
        """A bad session id, method name or ``at`` raises the documented error and
        changes nothing."""
        sid = self.new_session_id(store)
        held = store.record(sid, "totp", at=START)
        args: dict[str, Any] = {
            "session_id": sid,
            "method": "totp",
            "at": START + _SECOND,
        }
        args[field] = value
        with pytest.raises(error):
            store.record(args["session_id"], args["method"], at=args["at"])
        assert [held] == store.claims(sid)
        assert held == store.get(held.id)

    def test_record_refuses_every_malformed_name(self, store: ClaimStore) -> None:
        """Any name outside the syntax raises InvalidMethodError, records nothing."""
        sessions = _Sessions(self, store)

        @self._property(_bad_names)
        def check(name: object) -> None:
            sessions.reset()
            sid = sessions.new()
            with pytest.raises(InvalidMethodError):
                store.record(sid, name)  # type: ignore[arg-type]
            assert [] == store.claims(sid)

    def test_record_round_trips_every_well_formed_name(self, store: ClaimStore) -> None:
        """Any name of the syntax (but token_refresh) is stored exactly as given."""
        sessions = _Sessions(self, store)

        @self._property(_names, _instants)
        def check(name: str, at: datetime) -> None:
            sessions.reset()
            sid = sessions.new()
            claim = store.record(sid, name, at=at)
            assert name == claim.authentication_method
            assert at == claim.created_at == claim.updated_at
            assert [claim] == store.claims(sid)

    def test_record_keeps_the_greatest_at(self, store: ClaimStore) -> None:
        """Whatever the order of ``at``s, a pair ends with created_at = the first
        and updated_at = the greatest."""
        sessions = _Sessions(self, store)

        @self._property(st.lists(_instants, min_size=1, max_size=8))
        def check(ats: list[datetime]) -> None:
            sessions.reset()
            sid = sessions.new()
            claims = [store.record(sid, "totp", at=at) for at in ats]
            assert 1 == len({c.id for c in claims})
            expected = AMRClaim(claims[0].id, sid, "totp", ats[0], max(ats))
            assert expected == claims[-1]
            assert [expected] == store.claims(sid)

    # -- record_many -------------------------------------------------------------------

    def test_record_many_returns_each_pair_once_in_first_appearance_order(
        self, store: ClaimStore
    ) -> None:
        """record_many returns the final claim of each distinct pair, in the order
        each first appears."""
        one, two = self.new_session_id(store), self.new_session_id(store)
        t = [START + k * _SECOND for k in range(5)]
        result = store.record_many(
            [
                (one, "totp", t[1]),
                (two, "password", t[0]),
                (one, "password", t[0]),
                (one, "totp", t[3]),
                (str(two), AuthenticationMethod.PASSWORD, t[2]),
            ]
        )
        assert [
            (one, "totp", t[1], t[3]),
            (two, "password", t[0], t[2]),
            (one, "password", t[0], t[0]),
        ] == [
            (c.session_id, c.authentication_method, c.created_at, c.updated_at)
            for c in result
        ]
        assert _ordered(c for c in result if c.session_id == one) == store.claims(one)
        assert [result[1]] == store.claims(two)

    def test_record_many_repeats_act_as_sequential_records(
        self, store: ClaimStore
    ) -> None:
        """A pair repeated in one batch keeps its first at as created_at and the
        greatest as updated_at, even when a later item is earlier."""
        sid, held_sid = self.new_session_id(store), self.new_session_id(store)
        held = store.record(held_sid, "totp", at=START + 10 * _SECOND)
        t1, t2, t3 = (START + k * _SECOND for k in (1, 2, 3))
        result = store.record_many(
            [
                (sid, "totp", t2),
                (sid, "totp", t1),
                (held_sid, "totp", t3),
                (sid, "totp", t3),
                (sid, "totp", t2),
            ]
        )
        assert 2 == len(result)
        assert (t2, t3) == (result[0].created_at, result[0].updated_at)
        assert held == result[1]
        assert [result[0]] == store.claims(sid)
        assert [held] == store.claims(held_sid)

    def test_record_many_defaults_at_to_the_clock(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """Items without ``at``, or with ``at=None``, happen at the store's clock."""
        sid = self.new_session_id(store)
        clock.advance(30)
        items: list[Any] = [(sid, "password"), (sid, "totp", START), (sid, "otp", None)]
        result = store.record_many(items)
        assert [clock(), START, clock()] == [c.updated_at for c in result]
        otp_then_password_by_name = [result[2], result[0]]
        assert [*otp_then_password_by_name, result[1]] == store.claims(sid)

    def test_record_many_of_nothing(self, store: ClaimStore) -> None:
        """An empty batch returns [] and changes nothing."""
        sid = self.new_session_id(store)
        held = store.record(sid, "password", at=START)
        assert [] == store.record_many([])
        assert [] == store.record_many(iter(()))
        assert [held] == store.claims(sid)

    def test_record_many_takes_any_iterable(self, store: ClaimStore) -> None:
        """A generator of items works like a list."""
        sid = self.new_session_id(store)
        items = ((sid, name, START) for name in ("password", "totp"))
        result = store.record_many(items)
        assert ["password", "totp"] == [c.authentication_method for c in result]
        assert ["password", "totp"] == [c.method for c in store.claims(sid)]

    @pytest.mark.parametrize(
        ("bad", "error"),
        [
            (("not-a-uuid", "totp", START), InvalidClaimError),
            ((None, "totp"), InvalidClaimError),
            (("{sid}", "TOTP", START), InvalidMethodError),
            (("{sid}", 7), InvalidMethodError),
            (("{sid}", _TOKEN_REFRESH), UnrecordableMethodError),
            (("{sid}", "totp", datetime(2026, 1, 15, 9, 0)), InvalidClaimError),
            (("{sid}", "totp", "2026-01-15"), InvalidClaimError),
            (("{sid}",), InvalidInputError),
            (("{sid}", "totp", START, "extra"), InvalidInputError),
            ("{sid}", InvalidInputError),
            (None, InvalidInputError),
        ],
    )
    def test_record_many_is_all_or_nothing(
        self, store: ClaimStore, bad: object, error: type[Exception]
    ) -> None:
        """A bad item, even the last one, raises and leaves no trace of the batch."""
        sid, fresh = self.new_session_id(store), self.new_session_id(store)
        held = store.record(sid, "password", at=START)
        if bad == "{sid}":
            bad = str(sid)
        elif isinstance(bad, tuple) and bad[0] == "{sid}":
            bad = (sid, *bad[1:])
        batch: list[Any] = [
            (sid, "password", START + timedelta(hours=1)),
            (sid, "totp", START),
            (fresh, "password"),
            bad,
        ]
        with pytest.raises(error):
            store.record_many(batch)
        assert {sid: [held], fresh: []} == _state(store, sid, fresh)
        assert held == store.get(held.id)

    def test_record_many_refuses_a_non_iterable(self, store: ClaimStore) -> None:
        """record_many needs an iterable of tuples."""
        with pytest.raises(InvalidInputError):
            store.record_many(42)  # type: ignore[arg-type]

    def test_record_many_matches_sequential_records(self, store: ClaimStore) -> None:
        """Any batch ends as the same records made one by one would."""
        sessions = _Sessions(self, store)
        item = st.tuples(
            st.integers(0, 2), st.sampled_from(_POOL), st.none() | _instants
        )

        @self._property(st.lists(item, max_size=12), st.lists(item, max_size=4))
        def check(
            batch: list[tuple[int, str, datetime | None]],
            earlier: list[tuple[int, str, datetime | None]],
        ) -> None:
            sessions.reset()
            sids = [sessions.new() for _ in range(3)]
            model = _Model()
            now = START  # the clock fixture is not touched here

            def run(items: list[tuple[int, str, datetime | None]]) -> None:
                calls: list[RecordItem] = [
                    (sids[k], name) if at is None else (sids[k], name, at)
                    for k, name, at in items
                ]
                got = store.record_many(calls)
                expected = model.record_many(
                    [
                        (sids[k], name, now if at is None else at)
                        for k, name, at in items
                    ],
                    got,
                )
                _expect(expected, got, "record_many's result")

            run(earlier)
            run(batch)
            for sid in sids:
                _expect(model.claims(sid), store.claims(sid), f"claims({sid})")

    # -- claims, claims_many, get ------------------------------------------------------

    def test_claims_most_recent_first(self, store: ClaimStore) -> None:
        """claims lists the most recently updated first."""
        sid = self.new_session_id(store)
        store.record(sid, "totp", at=START + 2 * _SECOND)
        store.record(sid, "password", at=START)
        store.record(sid, "mfa/webauthn", at=START + 1 * _SECOND)
        store.record(sid, "password", at=START + 3 * _SECOND)
        assert ["password", "totp", "mfa/webauthn"] == [
            c.authentication_method for c in store.claims(sid)
        ]

    def test_claims_break_ties_by_code_point(self, store: ClaimStore) -> None:
        """Claims updated at one instant come in code-point order of their names,
        whatever a database's collation ('x-b' before 'x_a')."""
        sid = self.new_session_id(store)
        names = ["xa", "x_a", "mfa_phone", "x0", "x/d", "x-b", "x.c"]
        for k, name in enumerate(names):
            store.record(sid, name, at=START.astimezone(_ZONES[k % len(_ZONES)]))
        store.record(sid, "mfa/phone", at=START)
        assert ["mfa/phone", "mfa_phone", "x-b", "x.c", "x/d", "x0", "x_a", "xa"] == [
            c.authentication_method for c in store.claims(sid)
        ]

    def test_claims_order_matches_the_rule(self, store: ClaimStore) -> None:
        """For any records, claims are sorted by updated_at descending, then by
        method name in code-point order."""
        sessions = _Sessions(self, store)
        names = st.sampled_from(_TIE_NAMES + _POOL)

        @self._property(st.lists(st.tuples(names, _instants), max_size=12))
        def check(records: list[tuple[str, datetime]]) -> None:
            sessions.reset()
            sid = sessions.new()
            model = _Model()
            for name, at in records:
                claim = store.record(sid, name, at=at)
                _expect(model.record(sid, name, at, claim.id), claim, "record")
            _expect(model.claims(sid), store.claims(sid), "claims")

    def test_claims_of_an_unknown_session_are_empty(self, store: ClaimStore) -> None:
        """A session without claims has []."""
        assert [] == store.claims(self.new_session_id(store))

    @pytest.mark.parametrize("bad", ["not-a-uuid", 42, None])
    def test_reads_refuse_invalid_ids(self, store: ClaimStore, bad: object) -> None:
        """claims, claims_many and get refuse what is not a UUID."""
        with pytest.raises(InvalidClaimError):
            store.claims(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidClaimError):
            store.claims_many([uuid.uuid4(), bad])  # type: ignore[list-item]
        with pytest.raises(InvalidClaimError):
            store.get(bad)  # type: ignore[arg-type]

    def test_claims_many_has_every_asked_session(self, store: ClaimStore) -> None:
        """Every asked session is a key (a UUID), one without claims maps to []."""
        one, two, empty = (self.new_session_id(store) for _ in range(3))
        store.record(one, "password", at=START)
        store.record(one, "totp", at=START + _SECOND)
        store.record(two, "password", at=START)
        result = store.claims_many([one, str(two), empty, one])
        assert {one, two, empty} == set(result)
        assert {
            one: store.claims(one),
            two: store.claims(two),
            empty: [],
        } == result
        assert ["totp", "password"] == [c.method for c in result[one]]

    def test_claims_many_of_nothing(self, store: ClaimStore) -> None:
        """No session asked, an empty dict (and a generator works)."""
        assert {} == store.claims_many([])
        sid = self.new_session_id(store)
        assert {sid: []} == store.claims_many(s for s in [sid])

    def test_get_finds_a_claim_by_id(self, store: ClaimStore) -> None:
        """get returns the claim with that id, or None for an unknown id."""
        sid = self.new_session_id(store)
        claim = store.record(sid, "password", at=START)
        assert claim == store.get(claim.id) == store.get(str(claim.id))
        assert store.get(uuid.uuid4()) is None
        assert store.get(sid) is None

    # -- revoke ------------------------------------------------------------------------

    def test_revoke_removes_the_named_claim_and_the_level_drops(
        self, store: ClaimStore
    ) -> None:
        """Removing a phone factor deletes the 'mfa/phone' claim, not another, and
        the session falls back to aal1 (Supabase once deleted by factor type)."""
        sid = self.new_session_id(store)
        policy = Policy.supabase()
        password = store.record(sid, "password", at=START)
        phone = store.record(sid, "mfa/phone", at=START + _SECOND)
        assert AAL.AAL2 == policy.assess(store.claims(sid), now=START).aal
        assert store.revoke(sid, "phone") is False  # a factor type, not a method
        assert AAL.AAL2 == policy.assess(store.claims(sid), now=START).aal
        assert store.revoke(sid, AuthenticationMethod.MFA_PHONE) is True
        assert [password] == store.claims(sid)
        assert store.get(phone.id) is None
        assert AAL.AAL1 == policy.assess(store.claims(sid), now=START).aal

    def test_revoke_of_a_missing_claim_is_false(self, store: ClaimStore) -> None:
        """Revoking what the session lacks (or token_refresh) finds nothing."""
        sid = self.new_session_id(store)
        held = store.record(sid, "password", at=START)
        assert store.revoke(sid, "totp") is False
        assert store.revoke(sid, _TOKEN_REFRESH) is False
        assert store.revoke(self.new_session_id(store), "password") is False
        assert [held] == store.claims(sid)

    def test_revoke_then_record_starts_a_new_claim(self, store: ClaimStore) -> None:
        """After a revoke, recording the method again is a first record."""
        sid = self.new_session_id(store)
        old = store.record(sid, "totp", at=START)
        assert store.revoke(str(sid), "totp") is True
        assert store.revoke(sid, "totp") is False
        new = store.record(sid, "totp", at=START + _SECOND)
        assert old.id != new.id
        assert START + _SECOND == new.created_at == new.updated_at
        assert store.get(old.id) is None

    @pytest.mark.parametrize(
        ("session_id", "method", "error"),
        [
            ("{sid}", "TOTP", InvalidMethodError),
            ("{sid}", "", InvalidMethodError),
            ("{sid}", 3, InvalidMethodError),
            ("not-a-uuid", "totp", InvalidClaimError),
            (None, "totp", InvalidClaimError),
        ],
    )
    def test_revoke_refuses_invalid_input_and_changes_nothing(
        self,
        store: ClaimStore,
        session_id: object,
        method: object,
        error: type[Exception],
    ) -> None:
        """revoke and revoke_everywhere check the id and the name's syntax first."""
        sid = self.new_session_id(store)
        held = store.record(sid, "totp", at=START)
        target: Any = sid if session_id == "{sid}" else session_id
        with pytest.raises(error):
            store.revoke(target, method)  # type: ignore[arg-type]
        with pytest.raises(error):
            store.revoke_everywhere([sid, target], method)  # type: ignore[arg-type]
        assert [held] == store.claims(sid)

    def test_revoke_everywhere_removes_the_method_from_the_sessions_named(
        self, store: ClaimStore
    ) -> None:
        """revoke_everywhere removes the method from each listed session, counts
        removals once, and touches nothing else."""
        one, two, without, other = (self.new_session_id(store) for _ in range(4))
        for sid in (one, two, other):
            store.record(sid, "password", at=START)
            store.record(sid, "totp", at=START + _SECOND)
        store.record(without, "password", at=START)
        kept = _state(store, without, other)
        assert 2 == store.revoke_everywhere([one, str(two), without, one], "totp")
        assert 0 == store.revoke_everywhere([one, two], "totp")
        assert 0 == store.revoke_everywhere([], "totp")
        for sid in (one, two):
            assert ["password"] == [c.method for c in store.claims(sid)]
        assert kept == _state(store, without, other)

    # -- delete_sessions and purge -----------------------------------------------------

    def test_delete_sessions_removes_every_claim_and_counts_them(
        self, store: ClaimStore
    ) -> None:
        """delete_sessions removes the sessions' claims and returns how many."""
        one, two, other = (self.new_session_id(store) for _ in range(3))
        gone = [
            store.record(one, "password", at=START),
            store.record(one, "totp", at=START),
            store.record(two, "otp", at=START),
        ]
        store.record(other, "password", at=START)
        kept = store.claims(other)
        assert 3 == store.delete_sessions([one, str(two), one, uuid.uuid4()])
        assert {one: [], two: [], other: kept} == _state(store, one, two, other)
        assert [None, None, None] == [store.get(c.id) for c in gone]
        assert 0 == store.delete_sessions([one])
        assert 0 == store.delete_sessions(iter([]))

    @pytest.mark.parametrize(
        ("session_ids", "error"),
        [
            (["{sid}", "not-a-uuid"], InvalidClaimError),
            (["{sid}", None], InvalidClaimError),
            ("{sid}", InvalidInputError),
            (42, InvalidInputError),
        ],
    )
    def test_iterable_arguments_refuse_invalid_input_and_change_nothing(
        self, store: ClaimStore, session_ids: object, error: type[Exception]
    ) -> None:
        """delete_sessions, revoke_everywhere and claims_many check every id first,
        and refuse a single id where an iterable is expected."""
        sid = self.new_session_id(store)
        held = store.record(sid, "totp", at=START)
        if session_ids == "{sid}":
            arg: Any = str(sid)
        elif isinstance(session_ids, list):
            arg = [sid if s == "{sid}" else s for s in session_ids]
        else:
            arg = session_ids
        with pytest.raises(error):
            store.delete_sessions(arg)
        with pytest.raises(error):
            store.revoke_everywhere(arg, "totp")
        with pytest.raises(error):
            store.claims_many(arg)
        assert [held] == store.claims(sid)

    def test_purge_keeps_every_claim_of_a_recently_active_session(
        self, store: ClaimStore
    ) -> None:
        """A session whose newest claim is not older than ``before`` keeps all its
        claims, old ones too; an idle session loses all of them."""
        active, idle = self.new_session_id(store), self.new_session_id(store)
        store.record(active, "password", at=START - timedelta(days=40))
        store.record(active, "totp", at=START)
        store.record(idle, "password", at=START - timedelta(days=40))
        store.record(idle, "totp", at=START - timedelta(days=31))
        kept = store.claims(active)
        assert 2 == store.purge(before=START - timedelta(days=30))
        assert {active: kept, idle: []} == _state(store, active, idle)

    def test_purge_spares_a_session_updated_exactly_at_before(
        self, store: ClaimStore
    ) -> None:
        """Only sessions whose newest updated_at is strictly older are purged."""
        sid = self.new_session_id(store)
        store.record(sid, "password", at=START - _SECOND)
        store.record(sid, "totp", at=START)
        kept = store.claims(sid)
        assert 0 == store.purge(before=START.astimezone(_ZONES[2]))
        assert kept == store.claims(sid)
        assert 2 == store.purge(before=START + timedelta(microseconds=1))
        assert [] == store.claims(sid)

    @pytest.mark.parametrize(
        "before", [datetime(2026, 1, 15, 9, 0), "2026-01-15T09:00:00Z", 0, None]
    )
    def test_purge_refuses_what_is_not_an_aware_datetime(
        self, store: ClaimStore, before: object
    ) -> None:
        """purge needs an aware datetime and changes nothing otherwise."""
        sid = self.new_session_id(store)
        held = store.record(sid, "password", at=START - timedelta(days=400))
        with pytest.raises(InvalidClaimError):
            store.purge(before=before)  # type: ignore[arg-type]
        assert [held] == store.claims(sid)

    def test_purge_matches_the_rule(self, store: ClaimStore) -> None:
        """For any sessions, purge removes exactly the sessions whose newest claim
        is older than ``before``, and counts their claims."""
        sessions = _Sessions(self, store)
        records = st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from(_POOL), _instants),
            max_size=12,
        )

        @self._property(records, _instants)
        def check(items: list[tuple[int, str, datetime]], before: datetime) -> None:
            sessions.reset()
            sids = [sessions.new() for _ in range(4)]
            model = _Model()
            for k, name, at in items:
                claim = store.record(sids[k], name, at=at)
                model.record(sids[k], name, at, claim.id)
            _expect(model.purge(before), store.purge(before=before), "purge count")
            for sid in sids:
                _expect(model.claims(sid), store.claims(sid), f"claims({sid})")

    # -- neighbours --------------------------------------------------------------------

    @pytest.mark.parametrize(
        "operation",
        ["revoke", "revoke_everywhere", "delete_sessions", "purge", "record_many"],
    )
    def test_every_change_leaves_other_sessions_untouched(
        self, store: ClaimStore, operation: str
    ) -> None:
        """Whatever is done to one session, a neighbour holding the same methods
        keeps its claims exactly (ids, created_at, updated_at)."""
        target, neighbour = self.new_session_id(store), self.new_session_id(store)
        for sid in (neighbour, target):
            store.record(sid, "password", at=START - timedelta(days=2))
            store.record(sid, "totp", at=START - timedelta(days=2))
        store.record(neighbour, "password", at=START)  # the neighbour is active
        kept = store.claims(neighbour)
        operations: dict[str, Callable[[], object]] = {
            "revoke": lambda: store.revoke(target, "totp"),
            "revoke_everywhere": lambda: store.revoke_everywhere([target], "totp"),
            "delete_sessions": lambda: store.delete_sessions([target]),
            "purge": lambda: store.purge(before=START - timedelta(days=1)),
            "record_many": lambda: len(
                store.record_many([(target, "totp"), (target, "mfa/phone")])
            ),
        }
        removed = operations[operation]()
        assert removed
        assert kept == store.claims(neighbour)
        assert kept == store.claims_many([neighbour])[neighbour]
        assert kept == [store.get(c.id) for c in kept]


# -- the state machine -------------------------------------------------------------


# Few names, so that pairs repeat; two pairs that a linguistic collation orders
# otherwise than code points ('mfa/phone' < 'mfa_phone', 'x-b' < 'x_a').
_MACHINE_POOL: Final = ("password", "totp", "mfa/phone", "mfa_phone", "x-b", "x_a")
_STEPS: Final = (
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(minutes=10),
    timedelta(hours=2),
)
_SHIFTS = st.tuples(
    st.sampled_from([-7200, -60, -1, 0, 1, 60, 7200]), st.sampled_from(_ZONES)
)
_BAD_ITEMS: Final[tuple[object, ...]] = (
    ("not-a-uuid", "totp"),
    (uuid.UUID(int=0), "TOTP"),
    (uuid.UUID(int=0), _TOKEN_REFRESH),
    (uuid.UUID(int=0), "totp", datetime(2026, 1, 15, 9, 0)),
    (uuid.UUID(int=0),),
)


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
        self.model = _Model()
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
            st.sampled_from(_MACHINE_POOL), min_size=2, max_size=4, unique=True
        ),
    )
    def first_methods(self, names: list[str]) -> MultipleResults[str]:
        return multiple(*names)

    @precondition(lambda self: len(self.known) < 4)
    @rule(target=sessions)
    def another_session(self) -> uuid.UUID:
        return self._new_session()

    @rule(target=methods, name=st.sampled_from(_MACHINE_POOL))
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
        _expect(self.model.record(sid, name, self.clock(), claim.id), claim, "record")

    @rule(sid=sessions, name=methods, shift=_SHIFTS)
    def record_at(self, sid: uuid.UUID, name: str, shift: tuple[int, timezone]) -> None:
        at = self._shifted(shift)
        claim = self.store.record(str(sid), name, at=at)
        _expect(self.model.record(sid, name, at, claim.id), claim, "record at")

    @rule(
        items=st.lists(
            st.tuples(sessions, methods, st.none() | _SHIFTS), min_size=1, max_size=6
        )
    )
    def record_many(
        self, items: list[tuple[uuid.UUID, str, tuple[int, timezone] | None]]
    ) -> None:
        calls: list[RecordItem] = [
            (sid, name) if shift is None else (sid, name, self._shifted(shift))
            for sid, name, shift in items
        ]
        got = self.store.record_many(calls)
        now = self.clock()
        expected = self.model.record_many(
            [
                (sid, name, now if shift is None else self._shifted(shift))
                for sid, name, shift in items
            ],
            got,
        )
        _expect(expected, got, "record_many")

    @rule(
        items=st.lists(st.tuples(sessions, methods), max_size=4),
        bad=st.sampled_from(_BAD_ITEMS),
    )
    def record_many_with_a_bad_item(
        self, items: list[tuple[uuid.UUID, str]], bad: object
    ) -> None:
        with pytest.raises(InvalidInputError):
            self.store.record_many([*items, bad])  # type: ignore[list-item]

    @rule(sid=sessions)
    def record_token_refresh(self, sid: uuid.UUID) -> None:
        with pytest.raises(UnrecordableMethodError):
            self.store.record(sid, _TOKEN_REFRESH)

    @rule(sid=sessions, name=methods)
    def revoke(self, sid: uuid.UUID, name: str) -> None:
        _expect(self.model.revoke(sid, name), self.store.revoke(sid, name), "revoke")

    @rule(sids=st.lists(sessions, max_size=4), name=methods)
    def revoke_everywhere(self, sids: list[uuid.UUID], name: str) -> None:
        expected = sum(self.model.revoke(sid, name) for sid in dict.fromkeys(sids))
        _expect(expected, self.store.revoke_everywhere(sids, name), "revoke count")

    @rule(sids=st.lists(sessions, max_size=3))
    def delete_sessions(self, sids: list[uuid.UUID]) -> None:
        _expect(
            self.model.delete_sessions(sids),
            self.store.delete_sessions(sids),
            "delete_sessions count",
        )

    @rule(shift=_SHIFTS)
    def purge(self, shift: tuple[int, timezone]) -> None:
        before = self._shifted(shift)
        _expect(
            self.model.purge(before), self.store.purge(before=before), "purge count"
        )

    @rule(step=st.sampled_from(_STEPS))
    def advance_the_clock(self, step: timedelta) -> None:
        self.clock.advance(step)

    # -- reads ---------------------------------------------------------------------

    @rule(sids=st.lists(sessions, max_size=4))
    def claims_many(self, sids: list[uuid.UUID]) -> None:
        stranger = uuid.uuid4()
        got = self.store.claims_many([*sids, stranger])
        expected = {sid: self.model.claims(sid) for sid in [*sids, stranger]}
        _expect(expected, got, "claims_many")

    @precondition(lambda self: bool(self.model.issued))
    @rule(pick=st.integers(min_value=0))
    def get_a_known_id(self, pick: int) -> None:
        ids = list(self.model.issued)
        cid = ids[pick % len(ids)]
        _expect(self.model.issued[cid], self.store.get(str(cid)), f"get({cid})")

    @rule()
    def get_an_unknown_id(self) -> None:
        _expect(None, self.store.get(uuid.uuid4()), "get of an unknown id")

    @invariant()
    def the_store_matches_the_model(self) -> None:
        for sid in self.known:
            _expect(self.model.claims(sid), self.store.claims(sid), f"claims({sid})")
        for cid, claim in self.model.issued.items():
            _expect(claim, self.store.get(cid), f"get({cid})")

    def _shifted(self, shift: tuple[int, timezone]) -> datetime:
        seconds, zone = shift
        return (self.clock() + seconds * _SECOND).astimezone(zone)


# -- asyncio stores --------------------------------------------------------------------


class AsyncRunner:
    """One long-lived event loop on which synchronous code runs coroutines, one at a
    time: what ``asyncio.Runner`` does, on every Python the package supports.

    ``asyncio.run`` makes a new loop each time, but psycopg's ``AsyncConnection``
    and ``AsyncConnectionPool`` belong to the loop they were created in: create them
    with ``runner.run(...)`` and use them through the same runner until it closes.
    The loop runs only inside :meth:`run`, so a pool's background tasks (growing it,
    replacing connections) progress while a call waits for them.

    Args:
        loop_factory: makes the loop. Default: ``asyncio.new_event_loop``; on
            Windows, psycopg needs ``asyncio.SelectorEventLoop``.

    Example::

        with AsyncRunner() as runner:
            conn = runner.run(psycopg.AsyncConnection.connect(dsn, autocommit=True))
            store = AsyncPostgresClaimStore(conn)
            claims = runner.run(store.claims(session_id))
            runner.run(conn.close())
    """

    def __init__(
        self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    ) -> None:
        self._loop = (loop_factory or asyncio.new_event_loop)()

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` to completion on the runner's loop; return its result
        or raise its exception.

        Raises:
            RuntimeError: the runner is closed, or a loop is already running in
                this thread (in async code, ``await`` instead); the awaitable is
                closed, not left un-awaited.
        """
        problem = None
        if self._loop.is_closed():
            problem = "this AsyncRunner is closed"
        else:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # no loop running here: the normal case
            else:
                problem = (
                    "AsyncRunner.run() cannot be called while an event loop is "
                    "running in this thread: await the coroutine instead"
                )
        if problem is not None:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise RuntimeError(problem)
        return self._loop.run_until_complete(awaitable)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._loop.is_closed()

    def close(self) -> None:
        """Cancel the tasks still pending, finish async generators and the default
        executor, and close the loop. Closing again does nothing."""
        loop = self._loop
        if loop.is_closed():
            return
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    def __enter__(self) -> AsyncRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BlockingClaimStore:
    """The :class:`~mfa_amr.stores.ClaimStore` face of an
    :class:`~mfa_amr.stores.AsyncClaimStore`, so that :class:`ClaimStoreContract`
    and :class:`ClaimStoreMachine`, which are synchronous (Hypothesis state machines
    are), test an asyncio backend unchanged.

    Each call runs the async store's coroutine to completion on ``runner``'s loop,
    the loop its connections belong to, and returns or raises what the coroutine
    does. For tests and scripts: never call it from async code, and from one thread
    at a time.

    Args:
        store: the async store.
        runner: the loop to run on. Default: a new :class:`AsyncRunner`, closed by
            :meth:`close`.
    """

    def __init__(self, store: AsyncClaimStore, runner: AsyncRunner | None = None):
        self._store = store
        self._owns_runner = runner is None
        self._runner = AsyncRunner() if runner is None else runner

    @property
    def store(self) -> AsyncClaimStore:
        """The async store every call goes to."""
        return self._store

    @property
    def runner(self) -> AsyncRunner:
        """The runner every call runs on."""
        return self._runner

    def close(self) -> None:
        """Close the runner if the adapter made it; the async store is the
        caller's to close."""
        if self._owns_runner:
            self._runner.close()

    def __repr__(self) -> str:
        return f"<BlockingClaimStore of {self._store!r}>"

    def record(
        self,
        session_id: SessionIdLike,
        method: MethodLike,
        *,
        at: datetime | None = None,
    ) -> AMRClaim:
        """``await store.record(...)``."""
        return self._runner.run(self._store.record(session_id, method, at=at))

    def record_many(self, items: Iterable[RecordItem]) -> list[AMRClaim]:
        """``await store.record_many(items)``."""
        return self._runner.run(self._store.record_many(items))

    def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        """``await store.claims(session_id)``."""
        return self._runner.run(self._store.claims(session_id))

    def claims_many(
        self, session_ids: Iterable[SessionIdLike]
    ) -> dict[uuid.UUID, list[AMRClaim]]:
        """``await store.claims_many(session_ids)``."""
        return self._runner.run(self._store.claims_many(session_ids))

    def get(self, claim_id: SessionIdLike) -> AMRClaim | None:
        """``await store.get(claim_id)``."""
        return self._runner.run(self._store.get(claim_id))

    def revoke(self, session_id: SessionIdLike, method: MethodLike) -> bool:
        """``await store.revoke(session_id, method)``."""
        return self._runner.run(self._store.revoke(session_id, method))

    def revoke_everywhere(
        self, session_ids: Iterable[SessionIdLike], method: MethodLike
    ) -> int:
        """``await store.revoke_everywhere(session_ids, method)``."""
        return self._runner.run(self._store.revoke_everywhere(session_ids, method))

    def delete_sessions(self, session_ids: Iterable[SessionIdLike]) -> int:
        """``await store.delete_sessions(session_ids)``."""
        return self._runner.run(self._store.delete_sessions(session_ids))

    def purge(self, *, before: datetime) -> int:
        """``await store.purge(before=before)``."""
        return self._runner.run(self._store.purge(before=before))
