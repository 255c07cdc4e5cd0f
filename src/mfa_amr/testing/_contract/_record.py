"""The contract of ``record``: a first record, a record again, ``at`` and the
clock, and what it refuses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st

from mfa_amr import AMRClaim, AuthenticationMethod
from mfa_amr.exceptions import (
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    StoreError,
    UnrecordableMethodError,
)
from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START, FakeClock
from mfa_amr.testing._contract._base import ContractBase, Sessions, run_examples, state
from mfa_amr.testing._strategies import (
    SECOND,
    SKEW,
    TOKEN_REFRESH,
    ZONES,
    ahead_of_the_clock,
    bad_names,
    instants,
    recordable_names,
)

__all__ = ["RecordContract"]


class RecordContract(ContractBase):
    """``record``: a first record creates a claim, a record again moves only
    ``updated_at`` forward, and invalid input changes nothing."""

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
        assert START + 90 * SECOND == first.created_at == first.updated_at
        clock.advance(timedelta(minutes=2))
        again = store.record(sid, "password")
        assert START + 90 * SECOND == again.created_at
        assert clock() == again.updated_at

    def test_record_normalises_at_to_utc(self, store: ClaimStore) -> None:
        """An aware ``at`` in any zone is stored as the same instant, in UTC."""
        sid = self.new_session_id(store)
        at = datetime(2026, 1, 15, 14, 30, 0, 250_000, tzinfo=ZONES[1])
        claim = store.record(sid, "totp", at=at)
        for stored in (claim, store.claims(sid)[0]):
            assert at == stored.updated_at == stored.created_at
            assert timedelta(0) == stored.updated_at.utcoffset()
            assert timedelta(0) == stored.created_at.utcoffset()

    def test_record_again_keeps_id_and_created_at(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """Recording a pair again keeps id and created_at, moves updated_at on."""
        sid = self.new_session_id(store)
        first = store.record(sid, "totp", at=START)
        later = clock.advance(timedelta(hours=1))
        again = store.record(sid, "totp", at=later)
        assert first.id == again.id
        assert START == again.created_at
        assert later == again.updated_at
        assert [again] == store.claims(sid)
        assert again == store.get(first.id)

    def test_record_earlier_at_never_moves_updated_at_backwards(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """An earlier ``at`` (clock skew) leaves the claim as it was, unlike
        Supabase."""
        sid = self.new_session_id(store)
        store.record(sid, "totp", at=START)
        latest = store.record(sid, "totp", at=clock.advance(timedelta(minutes=10)))
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
        "method", [TOKEN_REFRESH, AuthenticationMethod.TOKEN_REFRESH]
    )
    def test_record_refuses_token_refresh_and_changes_nothing(
        self, store: ClaimStore, method: str
    ) -> None:
        """token_refresh is refused before anything changes."""
        sid, fresh = self.new_session_id(store), self.new_session_id(store)
        before = store.record(sid, "password", at=START)
        with pytest.raises(UnrecordableMethodError):
            store.record(sid, method, at=START + SECOND)
        with pytest.raises(UnrecordableMethodError):
            store.record(fresh, method)
        assert {sid: [before], fresh: []} == state(store, sid, fresh)

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
            "at": START + SECOND,
        }
        args[field] = value
        with pytest.raises(error):
            store.record(args["session_id"], args["method"], at=args["at"])
        assert [held] == store.claims(sid)
        assert held == store.get(held.id)

    def test_record_refuses_every_malformed_name(self, store: ClaimStore) -> None:
        """Any name outside the syntax raises InvalidMethodError, records nothing."""
        sessions = Sessions(self, store)

        @run_examples(self, bad_names)
        def check(name: object) -> None:
            sessions.reset()
            sid = sessions.new()
            with pytest.raises(InvalidMethodError):
                store.record(sid, name)  # type: ignore[arg-type]
            assert [] == store.claims(sid)

    def test_record_round_trips_every_well_formed_name(self, store: ClaimStore) -> None:
        """Any name of the syntax (but token_refresh) is stored exactly as given."""
        sessions = Sessions(self, store)

        @run_examples(self, recordable_names, instants)
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
        sessions = Sessions(self, store)

        @run_examples(self, st.lists(instants, min_size=1, max_size=8))
        def check(ats: list[datetime]) -> None:
            sessions.reset()
            sid = sessions.new()
            claims = [store.record(sid, "totp", at=at) for at in ats]
            assert 1 == len({c.id for c in claims})
            expected = AMRClaim(claims[0].id, sid, "totp", ats[0], max(ats))
            assert expected == claims[-1]
            assert [expected] == store.claims(sid)

    # -- times from the future ---------------------------------------------------------

    def test_record_refuses_a_time_beyond_the_skew(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """An ``at`` more than the default skew (60 s) ahead of the store's clock is
        refused with InvalidInputError (never a StoreError), year 9999 too, and
        changes nothing; at the skew exactly it is recorded."""
        sid = self.new_session_id(store)
        held = store.record(sid, "totp", at=START - SECOND)
        far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=ZONES[0])
        for at in (
            START + SKEW + timedelta(microseconds=1),
            START + 3600 * SECOND,
            far,
        ):
            with pytest.raises(InvalidInputError) as caught:
                store.record(sid, "totp", at=at)
            assert not isinstance(caught.value, StoreError)
            with pytest.raises(InvalidInputError):
                store.record(self.new_session_id(store), "password", at=at)
        assert [held] == store.claims(sid)
        at_the_skew = store.record(sid, "totp", at=(START + SKEW).astimezone(ZONES[1]))
        assert START + SKEW == at_the_skew.updated_at

    def test_the_skew_moves_with_the_clock(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """A time refused now is recorded once the store's clock has caught up."""
        sid = self.new_session_id(store)
        later = START + timedelta(hours=1)
        with pytest.raises(InvalidInputError):
            store.record(sid, "totp", at=later)
        clock.set(later - SKEW)
        assert later == store.record(sid, "totp", at=later).updated_at

    def test_record_takes_a_time_exactly_when_it_is_within_the_skew(
        self, store: ClaimStore, clock: FakeClock
    ) -> None:
        """For any offset from the store's clock, record accepts ``at`` exactly when
        it lies at most the skew ahead, and a refused one leaves no trace."""
        sessions = Sessions(self, store)

        @run_examples(self, ahead_of_the_clock)
        def check(offset: timedelta) -> None:
            sessions.reset()
            sid = sessions.new()
            at = clock() + offset
            if offset <= SKEW:
                assert at == store.record(sid, "totp", at=at).updated_at
            else:
                with pytest.raises(InvalidInputError):
                    store.record(sid, "totp", at=at)
                assert [] == store.claims(sid)
