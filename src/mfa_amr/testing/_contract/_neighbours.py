"""The contract that binds every change: other sessions are left untouched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START
from mfa_amr.testing._contract._base import ContractBase

__all__ = ["NeighbourContract"]


class NeighbourContract(ContractBase):
    """Whatever changes one session leaves a neighbour holding the same methods
    exactly as it was."""

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
