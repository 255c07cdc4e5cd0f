"""The issuing side: what a session's claims are worth and the ``amr`` they are
written as, under a policy's terms.

Everything here is pure: no I/O, and the result never depends on the order of the
claims given. This is also the render path of every token a service issues, so it
is written for speed where the profile said so (see docs/performance.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs

from mfa_amr import rfc8176
from mfa_amr._claims import AMRClaim, AMREntry, AmrStyle, entry_from_claim
from mfa_amr._errors import InvalidClaimError
from mfa_amr._grammar import EPOCH, provider_problem, unix_seconds
from mfa_amr._levels import AAL, LevelRule, PolicyTerms, level_of
from mfa_amr._methods import MethodSpec, proves_mfa

__all__ = [
    "Assessment",
    "Latest",
    "assess",
    "latest_per_method",
    "provider_of",
    "render",
    "rfc_values",
    "session_level",
]

# A module constant: reading an enum member off its class costs ~0.2 us on 3.11, a
# measurable share of rendering a small session (benchmarks/render.py).
_RFC8176: Final = AmrStyle.RFC8176

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
        entries: one per method, most recent first, ties broken by method name.
        amr_values: RFC 8176 values: unique, most recent first, derived ``mfa`` last.
        auth_time: Unix seconds of the earliest claim's ``created_at``; ``None``
            without claims.
    """

    aal: AAL
    next_aal: AAL
    entries: tuple[AMREntry, ...]
    amr_values: tuple[str, ...]
    auth_time: int | None


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
        keyed.append((-delta.days * 86_400 - delta.seconds, name, c))
    keyed.sort()
    return [(-negated, c) for negated, _, c in keyed]


def provider_of(providers: Mapping[str, str], method: str) -> str | None:
    """The provider id to show in ``method``'s entry.

    Raises:
        InvalidClaimError: the one given is neither a non-empty string nor ``None``.
    """
    provider = providers.get(method)
    problem = provider_problem(provider)
    if problem is not None:
        raise InvalidClaimError(f"provider of {method!r}: {problem}")
    return provider


def _counted(
    terms: PolicyTerms,
    latest: Latest,
    now: datetime | None,
    window: timedelta | None,
) -> list[MethodSpec]:
    """Specs of the known claims still fresh within ``window`` at ``now``."""
    methods = terms.methods
    specs = []
    for _, c in latest:
        spec = methods.get(c.authentication_method)
        if spec is None:
            continue
        if window is not None and now is not None and now - c.updated_at > window:
            continue
        specs.append(spec)
    return specs


def session_level(terms: PolicyTerms, latest: Latest, now: datetime | None) -> AAL:
    """The level the policy gives the claims at ``now`` (``None``: every claim
    fresh)."""
    fresh2 = _counted(terms, latest, now, terms.aal2_max_age)
    if terms.rule is LevelRule.SUPABASE:
        return level_of(terms.rule, fresh2, [])
    return level_of(
        terms.rule, fresh2, _counted(terms, latest, now, terms.aal3_max_age)
    )


def rfc_values(terms: PolicyTerms, latest: Latest, now: datetime | None) -> list[str]:
    """The RFC 8176 values of the claims: unique, most recent first, ``mfa`` last
    when the counted claims prove it."""
    methods = terms.methods
    seen: dict[str, None] = {}
    known: list[MethodSpec] = []
    for _, c in latest:
        spec = methods.get(c.authentication_method)
        if spec is not None:
            known.append(spec)
            for value in spec.rfc8176:
                seen.setdefault(value)
    # without a window (or a `now`) every known claim counts: no second pass
    if terms.aal2_max_age is not None and now is not None:
        known = _counted(terms, latest, now, terms.aal2_max_age)
    if proves_mfa(known):
        seen.setdefault(rfc8176.MFA)
    return list(seen)


def render(
    terms: PolicyTerms,
    latest: Latest,
    style: AmrStyle,
    now: datetime | None,
    providers: Mapping[str, str],
) -> list[dict[str, str | int]] | list[str]:
    """The JSON-ready ``amr`` of the claims in ``style`` (already an
    :class:`~mfa_amr.AmrStyle`)."""
    if style is _RFC8176:
        return rfc_values(terms, latest, now)
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
    at: datetime,
    has_factors: bool,
    providers: Mapping[str, str],
) -> Assessment:
    """The :class:`Assessment` of one session's claims at ``at``."""
    latest = latest_per_method(claims, None)
    aal = session_level(terms, latest, at)
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
        amr_values=tuple(rfc_values(terms, latest, at)),
        auth_time=unix_seconds(min(c.created_at for c in claims)) if latest else None,
    )
