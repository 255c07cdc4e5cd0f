"""The reference model: what a store must hold after any sequence of operations, in
plain dictionaries, and the protocol's order of a session's claims. Needs neither
pytest nor Hypothesis."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import attrs

from mfa_amr import AMRClaim
from mfa_amr._grammar import to_utc

__all__ = ["Model", "expect", "ordered"]


def expect(expected: object, actual: object, what: str) -> None:
    """``assert expected == actual`` with a message that survives without pytest's
    assertion rewriting (this package is a library, not a test module)."""
    if expected != actual:
        raise AssertionError(f"{what}:\n  expected {expected!r}\n  got      {actual!r}")


def ordered(claims: Iterable[AMRClaim]) -> list[AMRClaim]:
    """The protocol's order: most recent first, ties by method name in code-point
    order (Python compares ``str`` by code point)."""
    by_name = sorted(claims, key=lambda c: c.authentication_method)
    return sorted(by_name, key=lambda c: c.updated_at, reverse=True)


class Model:
    """What a store must hold, in plain dictionaries. It cannot know the ids a store
    draws, so it adopts the id a store returns for each new claim, after checking
    that it is a fresh uuid4."""

    def __init__(self) -> None:
        self.sessions: dict[uuid.UUID, dict[str, AMRClaim]] = {}
        # Every claim id a store ever returned -> the claim now, or None once gone.
        self.issued: dict[uuid.UUID, AMRClaim | None] = {}

    def claims(self, sid: uuid.UUID) -> list[AMRClaim]:
        """The session's claims in the protocol's order."""
        return ordered(self.sessions.get(sid, {}).values())

    def record(
        self, sid: uuid.UUID, name: str, at: datetime, new_id: uuid.UUID
    ) -> AMRClaim:
        """Record a pair at ``at``; ``new_id`` is the id the store gave the claim,
        adopted if the pair is new."""
        rows = self.sessions.setdefault(sid, {})
        held = rows.get(name)
        if held is None:
            if new_id in self.issued:
                raise AssertionError(
                    f"a new claim for ({sid}, {name!r}) reused the claim id {new_id}"
                )
            if new_id.version != 4:
                raise AssertionError(f"a new claim's id {new_id} is not a uuid4")
            at = to_utc(at)
            claim = AMRClaim(new_id, sid, name, at, at)
        elif at > held.updated_at:
            claim = attrs.evolve(held, updated_at=at)
        else:
            claim = held
        rows[name] = claim
        self.issued[claim.id] = claim
        return claim

    def record_many(
        self,
        items: list[tuple[uuid.UUID, str, datetime]],
        returned: list[AMRClaim],
    ) -> list[AMRClaim]:
        """Record a batch as sequential records; ``returned`` is what the store's
        ``record_many`` gave, whose shape is checked and whose new ids are adopted."""
        pairs = list(dict.fromkeys((sid, name) for sid, name, _ in items))
        expect(
            pairs,
            [(c.session_id, c.authentication_method) for c in returned],
            "record_many must return one claim per distinct pair, in the order "
            "each pair first appears",
        )
        new_ids = {(c.session_id, c.authentication_method): c.id for c in returned}
        final = {
            (sid, name): self.record(sid, name, at, new_ids[sid, name])
            for sid, name, at in items
        }
        return [final[pair] for pair in pairs]

    def revoke(self, sid: uuid.UUID, name: str) -> bool:
        """Remove the pair's claim; whether there was one."""
        rows = self.sessions.get(sid, {})
        claim = rows.pop(name, None)
        if claim is None:
            return False
        self.issued[claim.id] = None
        if not rows:
            del self.sessions[sid]
        return True

    def delete_sessions(self, sids: Iterable[uuid.UUID]) -> int:
        """Remove every claim of the sessions; how many."""
        removed = 0
        for sid in dict.fromkeys(sids):
            for claim in self.sessions.pop(sid, {}).values():
                self.issued[claim.id] = None
                removed += 1
        return removed

    def purge(self, before: datetime) -> int:
        """Remove the sessions whose newest claim is older than ``before``; how many
        claims."""
        stale = [
            sid
            for sid, rows in self.sessions.items()
            if max(c.updated_at for c in rows.values()) < before
        ]
        return self.delete_sessions(stale)
