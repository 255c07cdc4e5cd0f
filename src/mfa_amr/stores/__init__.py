"""Storage of claims: the :class:`ClaimStore` protocol, its asyncio twin
:class:`AsyncClaimStore`, and their backends.

- :mod:`mfa_amr.stores.memory`: ``InMemoryClaimStore``, thread-safe, for tests and
  embedded use, and ``AsyncInMemoryClaimStore``.
- :mod:`mfa_amr.stores.postgres`: ``PostgresClaimStore`` on ``auth.mfa_amr_claims``
  and ``AsyncPostgresClaimStore`` (need the ``postgres`` extra).
"""

from __future__ import annotations

from mfa_amr.stores._protocol import (
    AsyncClaimStore,
    ClaimStore,
    Clock,
    MethodLike,
    RecordItem,
    SessionIdLike,
)

__all__ = [
    "AsyncClaimStore",
    "ClaimStore",
    "Clock",
    "MethodLike",
    "RecordItem",
    "SessionIdLike",
]
