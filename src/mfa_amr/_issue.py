"""The issuing side: what a session's claims are worth and the ``amr`` they are
written as, under a policy's terms.

Everything here is pure: no I/O, and the result never depends on the order of the
claims given. This is also the render path of every token a service issues, so it
is written for speed where the profile said so (see docs/performance.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from mfa_amr import rfc8176
from mfa_amr._claims import AMRClaim, AMREntry, entry_from_claim
from mfa_amr._errors import InvalidClaimError
from mfa_amr._grammar import DEFAULT_MAX_ENTRIES, EPOCH, provider_problem, unix_seconds
from mfa_amr._levels import AAL, PolicyTerms, level_of, windows
from mfa_amr._methods import MethodSpec, evidence, is_known

__all__ = [
    "Assessment",
    "Latest",
    "assess",
    "auth_time",
    "counted",
    "latest_per_method",
    "provider_of",
    "rfc_values",
    "session_level",
    "shown",
    "supabase_entries",
]

# A module constant: reading an enum member off its class costs ~0.2 us on 3.11, a
# measurable share of rendering a small session (benchmarks/render.py).
_AAL1: Final = AAL.AAL1

Latest = list[tuple[int, AMRClaim]]
"""One claim per method, as ``(whole Unix seconds of updated_at, claim)``, most
recent first, ties by method name in code-point order."""


@attrs.frozen
class Assessment:
    """What a session's claims prove, under one policy at one instant.

    Attributes:
        aal: the level the session has now.
        next_aal: the level it can reach (aal2 when the user has a verified factor
            and the session is below it), as Supabase clients compute ``nextLevel``.
        entries: one per method, most recent first, ties broken by method name
            (a strict policy's: only the methods it reads back).
        amr_values: RFC 8176 values: unique, most recent first, derived ``mfa`` last
            exactly when ``aal`` is aal2 or higher.
        auth_time: when the end-user last authenticated, as OpenID Connect means it:
            Unix seconds of the newest ``updated_at`` among the claims the policy
            counts (methods of its catalog, not dated beyond its clock skew);
            ``None`` without such a claim.
        started_at: Unix seconds of the earliest ``created_at``: when the session
            began; ``None`` without claims.
    """

    aal: AAL
    next_aal: AAL
    entries: tuple[AMREntry, ...]
    amr_values: tuple[str, ...]
    auth_time: int | None
    started_at: int | None = None


def latest_per_method(
    claims: Iterable[AMRClaim], session_id: uuid.UUID | None
) -> Latest:
    """One claim per method (the most recently updated), most recent first.

    Raises:
        InvalidClaimError: a value is not an :class:`~mfa_amr.AMRClaim`, or the
            claims belong to more than one session (or not to ``session_id``).
    """
    by_method: dict[str, AMRClaim] = {}
    # UUID.__eq__ is Python code; comparing the 128-bit ints is several times faster
    # and this is the render path.
    session = None if session_id is None else session_id.int
    for c in claims:
        if not isinstance(c, AMRClaim):
            raise InvalidClaimError(f"expected AMRClaim values, got {c!r}")
        sid = c.session_id.int
        if sid != session:
            if session is not None:
                raise InvalidClaimError(
                    f"claims of more than one session given ({session_id} and "
                    f"{c.session_id}): assess one session at a time"
                )
            session_id, session = c.session_id, sid
        name = c.authentication_method
        held = by_method.get(name)
        if held is None or c.updated_at > held.updated_at:
            by_method[name] = c
    # Sort plain tuples rather than through a key function; methods are unique here,
    # so the comparison never reaches the claim itself. The seconds are
    # unix_seconds(), inlined: a call per claim is a fifth of this function's time.
    keyed = []
    for name, c in by_method.items():
        delta = c.updated_at - EPOCH
        if delta.days < 0:  # a row another writer dated before 1970
            raise InvalidClaimError(
                f"the {name!r} claim {c.id} was last used at "
                f"{c.updated_at.isoformat()}, before 1970: a token's timestamps are "
                "Unix seconds from 0, so no token can carry it"
            )
        keyed.append((-delta.days * 86_400 - delta.seconds, name, c))
    keyed.sort()
    return [(-negated, c) for negated, _, c in keyed]


def shown(terms: PolicyTerms, latest: Latest) -> Latest:
    """The claims a token lists: all of them, but under a strict policy only those
    it would read back (its catalog's methods and registered RFC 8176 values); the
    others count toward nothing either way."""
    if not terms.strict:
        return latest
    catalog = terms.methods
    return [(ts, c) for ts, c in latest if is_known(c.authentication_method, catalog)]


def provider_of(providers: Mapping[str, str], method: str) -> str | None:
    """The provider id to show in ``method``'s entry; ``""`` means none, as in
    Supabase's tokens.

    Raises:
        InvalidClaimError: the one given is neither a string nor ``None``.
    """
    provider = providers.get(method)
    problem = provider_problem(provider)
    if problem is not None:
        raise InvalidClaimError(f"provider of {method!r}: {problem}")
    return provider or None


Counted = list[tuple[int, MethodSpec]]
"""The claims the policy's catalog knows, as ``(whole seconds of updated_at,
spec)``, most recent first: what the level, the RFC 8176 values and ``auth_time``
all read, found in one pass."""


def counted(terms: PolicyTerms, latest: Latest) -> Counted:
    """The claims of ``latest`` that the catalog knows, with their specs."""
    methods = terms.methods
    return [
        (ts, spec)
        for ts, c in latest
        if (spec := methods.get(c.authentication_method)) is not None
    ]


def session_level(terms: PolicyTerms, known: Counted, now: int | None) -> AAL:
    """The level the policy gives the claims at ``now`` (whole Unix seconds;
    ``None``: every claim fresh, for a policy without windows).

    Both sides judge in whole seconds, as tokens carry them, and through the same
    :func:`~mfa_amr._methods.evidence`, so a token reads back exactly as its
    claims were judged.
    """
    proof = evidence(known, now, *windows(terms), terms.skew.total_seconds())
    return level_of(terms.rule, proof)


def rfc_values(known: Counted, level: AAL) -> list[str]:
    """The RFC 8176 values of the claims: unique, most recent first, and ``mfa``
    last exactly when ``level`` (the level written beside them) is aal2 or higher,
    so that one token never says two things."""
    seen: dict[str, None] = {}
    for _, spec in known:
        for value in spec.rfc8176:
            seen.setdefault(value)
    if level is not _AAL1:
        seen.setdefault(rfc8176.MFA)
    return list(seen)


def auth_time(terms: PolicyTerms, known: Counted, now: int | None) -> int | None:
    """When the end-user last authenticated (OpenID Connect's ``auth_time``): the
    newest whole seconds among the catalog's claims not dated beyond the skew of
    ``now``; ``None`` without one."""
    limit = None if now is None else now + terms.skew.total_seconds()
    for ts, _ in known:  # newest first
        if limit is None or ts <= limit:
            return ts
    return None


def supabase_entries(
    latest: Latest, providers: Mapping[str, str]
) -> list[dict[str, str | int]]:
    """The Supabase-style ``amr``: an object per claim, most recent first (no level
    needed).

    Raises:
        InvalidClaimError: more claims than a token's ``amr`` is read with
            (:data:`~mfa_amr.DEFAULT_MAX_ENTRIES`): no reader would accept it.
    """
    if len(latest) > DEFAULT_MAX_ENTRIES:
        raise InvalidClaimError(
            f"the session holds {len(latest)} methods, more than the "
            f"{DEFAULT_MAX_ENTRIES} entries a token's amr is read with: revoke those "
            "it no longer uses"
        )
    out: list[dict[str, str | int]] = []
    for ts, c in latest:
        entry: dict[str, str | int] = {
            "method": c.authentication_method,
            "timestamp": ts,
        }
        provider = provider_of(providers, c.authentication_method)
        if provider is not None:
            entry["provider"] = provider
        out.append(entry)
    return out


def assess(
    terms: PolicyTerms,
    claims: tuple[AMRClaim, ...],
    now: int,
    has_factors: bool,
    providers: Mapping[str, str],
) -> Assessment:
    """The :class:`Assessment` of one session's claims at ``now`` (whole Unix
    seconds)."""
    latest = shown(terms, latest_per_method(claims, None))
    known = counted(terms, latest)
    aal = session_level(terms, known, now)
    next_aal = max(aal, AAL.AAL2) if has_factors else aal
    # Entries are built as render() builds its dicts: a claim's name is as valid as
    # the claim (a store returns another system's rows as they are), and one set of
    # claims must get one verdict from every function.
    entries = tuple(
        entry_from_claim(
            c.authentication_method, ts, provider_of(providers, c.authentication_method)
        )
        for ts, c in latest
    )
    return Assessment(
        aal=aal,
        next_aal=next_aal,
        entries=entries,
        amr_values=tuple(rfc_values(known, aal)),
        auth_time=auth_time(terms, known, now),
        started_at=unix_seconds(min(c.created_at for c in claims)) if latest else None,
    )
