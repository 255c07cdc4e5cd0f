"""What every group of contract tests stands on: the fixtures a backend overrides,
its optional settings, and the way property tests run their examples inside one
test call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa_amr import AMRClaim
from mfa_amr.stores import ClaimStore
from mfa_amr.testing._clock import START, FakeClock

__all__ = ["ContractBase", "Sessions", "run_examples", "state"]


class ContractBase:
    """The fixtures and overrides of :class:`~mfa_amr.testing.ClaimStoreContract`;
    each group of its tests subclasses this."""

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


def run_examples(
    contract: ContractBase, *strategies: st.SearchStrategy[Any]
) -> Callable[[Callable[..., None]], None]:
    """Decorate an inner function as a Hypothesis test under the contract's
    settings, and run it at once."""

    def run(test: Callable[..., None]) -> None:
        chosen = contract.hypothesis_settings or settings(deadline=None)
        runner = settings(chosen)(given(*strategies)(test))
        cast("Callable[[], None]", runner)()

    return run


class Sessions:
    """Fresh session ids for property examples run against one store: each example
    first deletes the sessions of the examples before it, so it starts from the
    store the test started with, without building a new store each time."""

    def __init__(self, contract: ContractBase, store: ClaimStore) -> None:
        self._contract = contract
        self._store = store
        self._made: list[uuid.UUID] = []

    def reset(self) -> None:
        """Delete the sessions made so far."""
        if self._made:
            self._store.delete_sessions(self._made)
            self._made.clear()

    def new(self) -> uuid.UUID:
        """A new session id, deleted at the next :meth:`reset`."""
        sid = self._contract.new_session_id(self._store)
        self._made.append(sid)
        return sid


def state(store: ClaimStore, *sids: uuid.UUID) -> dict[uuid.UUID, list[AMRClaim]]:
    """The claims of each session, to compare before and after."""
    return {sid: store.claims(sid) for sid in sids}
