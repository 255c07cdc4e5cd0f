"""Storage of claims: the :class:`ClaimStore` protocol and its backends.

- :mod:`mfa_amr.stores.memory`: ``InMemoryClaimStore``, thread-safe, for tests and
  embedded use.
- :mod:`mfa_amr.stores.postgres`: ``PostgresClaimStore`` on ``auth.mfa_amr_claims``
  (needs the ``postgres`` extra).
"""

from __future__ import annotations

from mfa_amr.stores._protocol import (
    ClaimStore,
    Clock,
    MethodLike,
    RecordItem,
    SessionIdLike,
)

__all__ = ["ClaimStore", "Clock", "MethodLike", "RecordItem", "SessionIdLike"]
