"""Render a 3-claim session's ``amr`` with the policy core and by hand, side by side.

Run: ``python benchmarks/render.py``. For each style it times ``policy.render_amr``
against two hand-written comprehensions over the same rows, and prints the per-call
times and the ratios. It asserts nothing; the target is a ratio within 2x.

- *naive*: what a service writes for itself: sort the rows by ``updated_at``, newest
  first, and build the dicts (RFC style: a dict lookup per method, ``mfa`` when two
  factor kinds appear). It gives the same output for this session, but it neither
  checks its input nor breaks ties within one second.
- *same rules*: the naive one plus what the library promises: whole seconds, ties
  broken by method name, one entry per method.
"""

from __future__ import annotations

import timeit
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from mfa_amr import AMRClaim, AmrStyle, Policy

UTC = UTC
REPEAT = 7
NUMBER = 20_000

SESSION_ID = uuid.UUID("5f0f1d2e-8b6a-4c3e-9d1f-2a7b8c9d0e1f")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ROWS: tuple[AMRClaim, ...] = tuple(
    AMRClaim(
        id=uuid.uuid4(),
        session_id=uuid.UUID(str(SESSION_ID)),  # one UUID object per row, as from SQL
        authentication_method=method,
        created_at=T0 + timedelta(seconds=offset),
        updated_at=T0 + timedelta(seconds=offset),
    )
    # not in timestamp order, as a database may return them
    for method, offset in (("totp", 30), ("password", 0), ("mfa/phone", 65))
)

# The hand-written knowledge of these methods.
RFC_VALUES: dict[str, tuple[str, ...]] = {
    "password": ("pwd",),
    "otp": ("otp",),
    "totp": ("otp",),
    "mfa/phone": ("sms",),
}
FACTOR: dict[str, str] = {
    "password": "knowledge",
    "otp": "possession",
    "totp": "possession",
    "mfa/phone": "possession",
}
_UPDATED_AT = attrgetter("updated_at")


def naive_supabase(rows: Sequence[AMRClaim]) -> list[dict[str, str | int]]:
    return [
        {"method": r.authentication_method, "timestamp": int(r.updated_at.timestamp())}
        for r in sorted(rows, key=_UPDATED_AT, reverse=True)
    ]


def naive_rfc8176(rows: Sequence[AMRClaim]) -> list[str]:
    ordered = sorted(rows, key=_UPDATED_AT, reverse=True)
    values = list(
        dict.fromkeys(
            v for r in ordered for v in RFC_VALUES.get(r.authentication_method, ())
        )
    )
    if len({FACTOR.get(r.authentication_method) for r in ordered} - {None}) >= 2:
        values.append("mfa")
    return values


def _same_rules_order(rows: Sequence[AMRClaim]) -> list[tuple[int, str]]:
    newest: dict[str, datetime] = {}
    for r in rows:
        held = newest.get(r.authentication_method)
        if held is None or r.updated_at > held:
            newest[r.authentication_method] = r.updated_at
    return sorted(
        ((int(u.timestamp()), m) for m, u in newest.items()),
        key=lambda pair: (-pair[0], pair[1]),
    )


def same_rules_supabase(rows: Sequence[AMRClaim]) -> list[dict[str, str | int]]:
    return [{"method": m, "timestamp": ts} for ts, m in _same_rules_order(rows)]


def same_rules_rfc8176(rows: Sequence[AMRClaim]) -> list[str]:
    ordered = [m for _, m in _same_rules_order(rows)]
    values = list(dict.fromkeys(v for m in ordered for v in RFC_VALUES.get(m, ())))
    if len({FACTOR.get(m) for m in ordered} - {None}) >= 2:
        values.append("mfa")
    return values


def per_call(*fns: Callable[[], object]) -> list[float]:
    """Seconds per call of each function: the best of REPEAT rounds of NUMBER calls.

    The rounds interleave the functions, so a burst of load on the machine touches
    all of them alike rather than skewing one ratio.
    """
    best = [float("inf")] * len(fns)
    for _ in range(REPEAT):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], timeit.timeit(fn, number=NUMBER))
    return [b / NUMBER for b in best]


def main() -> None:
    supabase, nist = Policy.supabase(), Policy.nist()
    now = T0 + timedelta(minutes=5)
    cases: list[
        tuple[str, Callable[[], object], Callable[[], object], Callable[[], object]]
    ] = [
        (
            "supabase",
            lambda: supabase.render_amr(ROWS),
            lambda: naive_supabase(ROWS),
            lambda: same_rules_supabase(ROWS),
        ),
        (
            "rfc8176",
            lambda: supabase.render_amr(ROWS, style=AmrStyle.RFC8176),
            lambda: naive_rfc8176(ROWS),
            lambda: same_rules_rfc8176(ROWS),
        ),
        (
            "rfc8176, nist() with now",
            lambda: nist.render_amr(ROWS, style=AmrStyle.RFC8176, now=now),
            lambda: naive_rfc8176(ROWS),
            lambda: same_rules_rfc8176(ROWS),
        ),
    ]
    print(
        f"3-claim session, Policy.supabase() unless noted; best of {REPEAT} x "
        f"{NUMBER:,} calls, microseconds per call"
    )
    print(
        f"{'style':<26}{'render_amr':>11}{'naive':>9}{'ratio':>8}"
        f"{'same rules':>12}{'ratio':>8}  same output"
    )
    for name, library, naive, same_rules in cases:
        same = library() == naive() == same_rules()
        lib, nai, rul = per_call(library, naive, same_rules)
        print(
            f"{name:<26}{lib * 1e6:>11.2f}{nai * 1e6:>9.2f}{lib / nai:>7.2f}x"
            f"{rul * 1e6:>12.2f}{lib / rul:>7.2f}x  {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
