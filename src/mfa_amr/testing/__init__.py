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

:class:`FakeClock`, :data:`START`, :class:`AsyncRunner` and
:class:`BlockingClaimStore` need nothing beyond ``mfa-amr`` itself.
:class:`ClaimStoreContract` and :class:`ClaimStoreMachine` need pytest and Hypothesis
(the ``test`` extra): they are imported on first use, and without those packages
using them raises an ``ImportError`` that says what to install. ``import mfa_amr``
never imports this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

from mfa_amr.testing._asyncio import AsyncRunner, BlockingClaimStore
from mfa_amr.testing._clock import START, FakeClock

if TYPE_CHECKING:
    from mfa_amr.testing._contract import ClaimStoreContract
    from mfa_amr.testing._machine import ClaimStoreMachine

__all__ = [
    "START",
    "AsyncRunner",
    "BlockingClaimStore",
    "ClaimStoreContract",
    "ClaimStoreMachine",
    "FakeClock",
]

# The names that need the `test` extra, and the module of each.
_NEED_TEST_EXTRA: Final = {
    "ClaimStoreContract": "mfa_amr.testing._contract",
    "ClaimStoreMachine": "mfa_amr.testing._machine",
}
_TEST_EXTRA_PACKAGES: Final = frozenset({"pytest", "hypothesis"})


def _import_on_first_use(name: str) -> object:
    """PEP 562: import a name that needs pytest and Hypothesis when it is first
    asked for, and keep it.

    Raises:
        ImportError: pytest or Hypothesis is not installed; says what to install.
        AttributeError: no such name.
    """
    module_name = _NEED_TEST_EXTRA.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _TEST_EXTRA_PACKAGES:
            raise
        raise ImportError(
            f"mfa_amr.testing.{name} needs pytest and Hypothesis, and {missing} "
            "cannot be imported: install the test extra, "
            "pip install 'mfa-amr[test]'",
            name=exc.name,
        ) from exc
    value: object = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not TYPE_CHECKING:
    # At run time only: type checkers see the imports above, and a module
    # __getattr__ would make them accept any misspelt name as well.
    __getattr__ = _import_on_first_use
