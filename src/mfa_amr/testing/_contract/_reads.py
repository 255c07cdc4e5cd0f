"""The contract of the reads: ``claims``, ``claims_many`` and ``get``, and the
protocol's order."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from hypothesis import strategies as st

from mfa_amr.exceptions import InvalidClaimError
from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START
from mfa_amr.testing._contract._base import ContractBase, Sessions, run_examples
from mfa_amr.testing._model import Model, expect
from mfa_amr.testing._strategies import POOL, SECOND, TIE_NAMES, ZONES, instants

__all__ = ["ReadContract"]


class ReadContract(ContractBase):
    """``claims``, ``claims_many`` and ``get``: most recent first, ties in code-point
    order, every asked session a key."""

    def test_claims_most_recent_first(self, store: ClaimStore) -> None:
        """claims lists the most recently updated first."""
        sid = self.new_session_id(store)
        store.record(sid, "totp", at=START + 2 * SECOND)
        store.record(sid, "password", at=START)
        store.record(sid, "mfa/webauthn", at=START + 1 * SECOND)
        store.record(sid, "password", at=START + 3 * SECOND)
        assert ["password", "totp", "mfa/webauthn"] == [
            c.authentication_method for c in store.claims(sid)
        ]

    def test_claims_break_ties_by_code_point(self, store: ClaimStore) -> None:
        """Claims updated at one instant come in code-point order of their names,
        whatever a database's collation ('x-b' before 'x_a')."""
        sid = self.new_session_id(store)
        names = ["xa", "x_a", "mfa_phone", "x0", "x/d", "x-b", "x.c"]
        for k, name in enumerate(names):
            store.record(sid, name, at=START.astimezone(ZONES[k % len(ZONES)]))
        store.record(sid, "mfa/phone", at=START)
        assert ["mfa/phone", "mfa_phone", "x-b", "x.c", "x/d", "x0", "x_a", "xa"] == [
            c.authentication_method for c in store.claims(sid)
        ]

    def test_claims_order_matches_the_rule(self, store: ClaimStore) -> None:
        """For any records, claims are sorted by updated_at descending, then by
        method name in code-point order."""
        sessions = Sessions(self, store)
        names = st.sampled_from(TIE_NAMES + POOL)

        @run_examples(self, st.lists(st.tuples(names, instants), max_size=12))
        def check(records: list[tuple[str, datetime]]) -> None:
            sessions.reset()
            sid = sessions.new()
            model = Model()
            for name, at in records:
                claim = store.record(sid, name, at=at)
                expect(model.record(sid, name, at, claim.id), claim, "record")
            expect(model.claims(sid), store.claims(sid), "claims")

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
        store.record(one, "totp", at=START + SECOND)
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
