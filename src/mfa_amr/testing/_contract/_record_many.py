"""The contract of ``record_many``: a batch is sequential records, all or
nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st

from mfa_amr import AuthenticationMethod
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    StoreError,
    UnrecordableMethodError,
)
from mfa_amr.stores import ClaimStore, RecordItem
from mfa_amr.testing._clock import START, FakeClock
from mfa_amr.testing._contract._base import ContractBase, Sessions, run_examples, state
from mfa_amr.testing._model import Model, expect, ordered
from mfa_amr.testing._strategies import POOL, SECOND, SKEW, TOKEN_REFRESH, instants

__all__ = ["RecordManyContract"]


class RecordManyContract(ContractBase):
    """``record_many``: a batch ends as sequential records would, returns each pair
    once, and a bad item leaves no trace."""

    def test_record_many_returns_each_pair_once_in_first_appearance_order(
        self, store: ClaimStore
    ) -> None:
        """record_many returns the final claim of each distinct pair, in the order
        each first appears."""
        one, two = self.new_session_id(store), self.new_session_id(store)
        t = [START + k * SECOND for k in range(5)]
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
        assert ordered(c for c in result if c.session_id == one) == store.claims(one)
        assert [result[1]] == store.claims(two)

    def test_record_many_repeats_act_as_sequential_records(
        self, store: ClaimStore
    ) -> None:
        """A pair repeated in one batch keeps its first at as created_at and the
        greatest as updated_at, even when a later item is earlier."""
        sid, held_sid = self.new_session_id(store), self.new_session_id(store)
        held = store.record(held_sid, "totp", at=START + 10 * SECOND)
        t1, t2, t3 = (START + k * SECOND for k in (1, 2, 3))
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
            (("{sid}", TOKEN_REFRESH), UnrecordableMethodError),
            (("{sid}", "totp", datetime(2026, 1, 15, 9, 0)), InvalidClaimError),
            (("{sid}", "totp", "2026-01-15"), InvalidClaimError),
            (("{sid}", "totp", START + timedelta(hours=1)), InvalidInputError),
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
            (sid, "password", START - timedelta(hours=1)),
            (sid, "totp", START),
            (fresh, "password"),
            bad,
        ]
        with pytest.raises(error):
            store.record_many(batch)
        assert {sid: [held], fresh: []} == state(store, sid, fresh)
        assert held == store.get(held.id)

    def test_record_many_refuses_a_time_beyond_the_skew(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """One item dated more than the skew ahead of the store's clock refuses the
        whole batch with InvalidInputError (never a StoreError); at the skew exactly
        it is recorded, and a later clock takes what it refused."""
        sid = self.new_session_id(store)
        ahead = START + SKEW + timedelta(microseconds=1)
        batch: list[Any] = [(sid, "password"), (sid, "totp", ahead), (sid, "otp")]
        with pytest.raises(InvalidInputError) as caught:
            store.record_many(batch)
        assert not isinstance(caught.value, StoreError)
        assert [] == store.claims(sid)
        [claim] = store.record_many([(sid, "totp", START + SKEW)])
        assert START + SKEW == claim.updated_at
        clock.advance(1)
        assert 3 == len(store.record_many(batch))

    def test_record_many_refuses_a_non_iterable(self, store: ClaimStore) -> None:
        """record_many needs an iterable of tuples."""
        with pytest.raises(InvalidInputError):
            store.record_many(42)  # type: ignore[arg-type]

    def test_record_many_matches_sequential_records(self, store: ClaimStore) -> None:
        """Any batch ends as the same records made one by one would."""
        sessions = Sessions(self, store)
        item = st.tuples(st.integers(0, 2), st.sampled_from(POOL), st.none() | instants)

        @run_examples(self, st.lists(item, max_size=12), st.lists(item, max_size=4))
        def check(
            batch: list[tuple[int, str, datetime | None]],
            earlier: list[tuple[int, str, datetime | None]],
        ) -> None:
            sessions.reset()
            sids = [sessions.new() for _ in range(3)]
            model = Model()
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
                expect(expected, got, "record_many's result")

            run(earlier)
            run(batch)
            for sid in sids:
                expect(model.claims(sid), store.claims(sid), f"claims({sid})")
