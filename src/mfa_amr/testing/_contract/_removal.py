"""The contract of ``revoke``, ``revoke_everywhere`` and ``delete_sessions``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mfa_amr import AAL, AuthenticationMethod, Policy
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError, InvalidMethodError
from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START
from mfa_amr.testing._contract._base import ContractBase, state
from mfa_amr.testing._strategies import FOREIGN_NAMES, SECOND, TOKEN_REFRESH

__all__ = ["RemovalContract"]


class RemovalContract(ContractBase):
    """``revoke``, ``revoke_everywhere`` and ``delete_sessions`` remove what they
    name, count it, and check their input first."""

    def test_revoke_removes_the_named_claim_and_the_level_drops(
        self, store: ClaimStore
    ) -> None:
        """Removing a phone factor deletes the 'mfa/phone' claim, not another, and
        the session falls back to aal1 (Supabase once deleted by factor type)."""
        sid = self.new_session_id(store)
        policy = Policy.supabase()
        password = store.record(sid, "password", at=START)
        phone = store.record(sid, "mfa/phone", at=START + SECOND)
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
        assert store.revoke(sid, TOKEN_REFRESH) is False
        assert store.revoke(self.new_session_id(store), "password") is False
        assert [held] == store.claims(sid)

    def test_revoke_then_record_starts_a_new_claim(self, store: ClaimStore) -> None:
        """After a revoke, recording the method again is a first record."""
        sid = self.new_session_id(store)
        old = store.record(sid, "totp", at=START)
        assert store.revoke(str(sid), "totp") is True
        assert store.revoke(sid, "totp") is False
        new = store.record(sid, "totp", at=START + SECOND)
        assert old.id != new.id
        assert START + SECOND == new.created_at == new.updated_at
        assert store.get(old.id) is None

    @pytest.mark.parametrize(
        ("session_id", "method", "error"),
        [
            ("{sid}", "", InvalidMethodError),
            ("{sid}", "to\x00tp", InvalidMethodError),
            ("{sid}", "\ud800", InvalidMethodError),
            ("{sid}", 3, InvalidMethodError),
            ("{sid}", None, InvalidMethodError),
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
        """revoke and revoke_everywhere check the id and the name first: a name
        must be a non-empty str a database can hold (no NUL, encodable)."""
        sid = self.new_session_id(store)
        held = store.record(sid, "totp", at=START)
        target: Any = sid if session_id == "{sid}" else session_id
        with pytest.raises(error):
            store.revoke(target, method)  # type: ignore[arg-type]
        with pytest.raises(error):
            store.revoke_everywhere([sid, target], method)  # type: ignore[arg-type]
        assert [held] == store.claims(sid)

    @pytest.mark.parametrize("name", FOREIGN_NAMES)
    def test_revoke_takes_a_name_outside_the_syntax(
        self, store: ClaimStore, name: str
    ) -> None:
        """A name another writer may have stored outside the syntax ('TOTP',
        'sso:okta') is taken by revoke and revoke_everywhere: held by no claim
        here, it finds nothing and changes nothing."""
        sid = self.new_session_id(store)
        held = [store.record(sid, "totp", at=START), store.record(sid, "mfa/phone")]
        try:
            revoked = store.revoke(sid, name)
            everywhere = store.revoke_everywhere(
                [sid, self.new_session_id(store)], name
            )
        except InvalidInputError as exc:
            pytest.fail(
                f"revoke refused {name!r}, a name another writer may have stored: {exc}"
            )
        assert revoked is False
        assert 0 == everywhere
        assert sorted(held, key=lambda c: c.method) == sorted(
            store.claims(sid), key=lambda c: c.method
        )

    def test_revoke_everywhere_removes_the_method_from_the_sessions_named(
        self, store: ClaimStore
    ) -> None:
        """revoke_everywhere removes the method from each listed session, counts
        removals once, and touches nothing else."""
        one, two, without, other = (self.new_session_id(store) for _ in range(4))
        for sid in (one, two, other):
            store.record(sid, "password", at=START)
            store.record(sid, "totp", at=START + SECOND)
        store.record(without, "password", at=START)
        kept = state(store, without, other)
        assert 2 == store.revoke_everywhere([one, str(two), without, one], "totp")
        assert 0 == store.revoke_everywhere([one, two], "totp")
        assert 0 == store.revoke_everywhere([], "totp")
        for sid in (one, two):
            assert ["password"] == [c.method for c in store.claims(sid)]
        assert kept == state(store, without, other)

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
        assert {one: [], two: [], other: kept} == state(store, one, two, other)
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
