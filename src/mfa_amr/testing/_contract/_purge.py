"""The contract of ``purge``: whole sessions, by their newest claim."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import strategies as st

from mfa_amr.exceptions import InvalidClaimError
from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START
from mfa_amr.testing._contract._base import ContractBase, Sessions, run_examples, state
from mfa_amr.testing._model import Model, expect
from mfa_amr.testing._strategies import POOL, SECOND, ZONES, instants

__all__ = ["PurgeContract"]


class PurgeContract(ContractBase):
    """``purge`` removes the sessions whose newest claim is older than ``before``,
    all their claims, and nothing else."""

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
        assert {active: kept, idle: []} == state(store, active, idle)

    def test_purge_spares_a_session_updated_exactly_at_before(
        self, store: ClaimStore
    ) -> None:
        """Only sessions whose newest updated_at is strictly older are purged."""
        sid = self.new_session_id(store)
        store.record(sid, "password", at=START - SECOND)
        store.record(sid, "totp", at=START)
        kept = store.claims(sid)
        assert 0 == store.purge(before=START.astimezone(ZONES[2]))
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
        sessions = Sessions(self, store)
        records = st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from(POOL), instants),
            max_size=12,
        )

        @run_examples(self, records, instants)
        def check(items: list[tuple[int, str, datetime]], before: datetime) -> None:
            sessions.reset()
            sids = [sessions.new() for _ in range(4)]
            model = Model()
            for k, name, at in items:
                claim = store.record(sids[k], name, at=at)
                model.record(sids[k], name, at, claim.id)
            expect(model.purge(before), store.purge(before=before), "purge count")
            for sid in sids:
                expect(model.claims(sid), store.claims(sid), f"claims({sid})")
