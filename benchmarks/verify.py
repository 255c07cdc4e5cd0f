"""Check a 3-entry token with the library and by hand, side by side.

Run: ``python benchmarks/verify.py``. For a token of each shape (Supabase objects,
RFC 8176 strings) it times ``parse_amr``, ``policy.require(aal=...)``,
``policy.require(methods=..., max_age=...)`` and a prepared ``Requirement.check``
against hand-written code, and prints the per-call times and the ratios. It asserts
nothing; the target is at most 3x the hand-written code that gives the same answer.

Two hand-written baselines, both knowing what ``Policy.nist()`` says of these methods
(their factor kinds, the 12-hour window) and trusting the token's shape (a malformed
token makes them raise ``KeyError`` or ``TypeError``, or answer wrongly):

- *same answer*: what the library returns, computed the simplest way: the entries
  read into tuples, the level claimed, the level the entries prove, ``auth_time``,
  and the verdict;
- *yes/no*: only the verdict, reading no more of the token than it needs.

The library checks every entry, keeps the names another writer stored, reads
``acr`` when there is no ``aal``, applies the policy's skew, and returns an
``Evaluation`` of validated values.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Mapping
from typing import Any

from mfa_amr import Policy, parse_amr

REPEAT = 7
NUMBER = 20_000
NOW = 1_800_000_000

SUPABASE_TOKEN: dict[str, Any] = {
    "aal": "aal2",
    "amr": [
        {"method": "totp", "timestamp": NOW - 120},
        {"method": "password", "timestamp": NOW - 600},
        {"method": "sso/saml", "timestamp": NOW - 900, "provider": "idp"},
    ],
    "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
RFC_TOKEN: dict[str, Any] = {
    "aal": "aal2",
    "amr": ["otp", "pwd", "mfa"],
    "acr": "aal2",
    "auth_time": NOW - 120,
    "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
# What Policy.nist() knows of these methods, written out: the factor kinds as bits
# (knowledge 1, possession 2, inherence 4), and what {"otp"} is met by.
FACTOR_BITS = {
    "password": 1,
    "totp": 2,
    "mfa/phone": 2,
    "mfa/webauthn": 2,
    "passkey": 6,
}
VALUE_BITS = {"pwd": 1, "otp": 2, "sms": 2, "pop": 2, "mfa": 3}
OTP_METHODS = frozenset({"otp", "totp"})
TWELVE_HOURS = 43_200

Entry = tuple[str, int | None, str | None]
Facts = tuple[list[Entry], str | None, str, int | None]


# -- by hand: the same answer -----------------------------------------------------------


def parse_by_hand(amr: list[Any]) -> list[Entry]:
    if amr and type(amr[0]) is str:
        return [(value, None, None) for value in amr]
    return [(e["method"], e["timestamp"], e.get("provider") or None) for e in amr]


def evaluate_by_hand(payload: Mapping[str, Any]) -> Facts:
    """The entries, the level claimed, the level the entries prove under NIST's
    rule (two factor kinds in the last 12 hours), and auth_time."""
    entries = parse_by_hand(payload["amr"])
    auth_time = payload.get("auth_time")
    bits = 0
    for method, stamp, _ in entries:
        at = auth_time if stamp is None else stamp
        if at is not None and NOW - at <= TWELVE_HOURS:
            table = VALUE_BITS if stamp is None else FACTOR_BITS
            bits |= table.get(method, 0)
    proven = "aal2" if bits & (bits - 1) else "aal1"
    return entries, payload.get("aal"), proven, auth_time


def require_aal2_by_hand(payload: Mapping[str, Any]) -> Facts | None:
    """The facts when the token is aal2, by its claim and by its entries."""
    facts = evaluate_by_hand(payload)
    _, claimed, proven, _ = facts
    return facts if claimed in ("aal2", "aal3") and proven == "aal2" else None


def require_otp_fresh_by_hand(payload: Mapping[str, Any]) -> Facts | None:
    """The facts when an otp-like entry is at most 300 s old."""
    facts = evaluate_by_hand(payload)
    entries, _, _, auth_time = facts
    stamps = [
        auth_time if stamp is None else stamp
        for method, stamp, _ in entries
        if method in OTP_METHODS
    ]
    fresh = [s for s in stamps if s is not None]
    return facts if fresh and NOW - max(fresh) <= 300 else None


def check_by_hand(payload: Mapping[str, Any]) -> Facts | None:
    """Both requirements, as one prepared requirement checks them."""
    facts = require_aal2_by_hand(payload)
    return facts if facts is not None and require_otp_fresh_by_hand(payload) else None


# -- by hand: yes or no -----------------------------------------------------------------


def aal2_yes_no(payload: Mapping[str, Any]) -> bool:
    if payload.get("aal") not in ("aal2", "aal3"):
        return False
    amr = payload["amr"]
    if amr and type(amr[0]) is str:
        return "mfa" in amr and NOW - payload["auth_time"] <= TWELVE_HOURS
    bits = 0
    for e in amr:
        if NOW - e["timestamp"] <= TWELVE_HOURS:
            bits |= FACTOR_BITS.get(e["method"], 0)
    return bits & (bits - 1) != 0


def otp_fresh_yes_no(payload: Mapping[str, Any]) -> bool:
    amr = payload["amr"]
    if amr and type(amr[0]) is str:
        return "otp" in amr and NOW - payload["auth_time"] <= 300
    stamps = [e["timestamp"] for e in amr if e["method"] in OTP_METHODS]
    return bool(stamps) and NOW - max(stamps) <= 300


# -- timing -----------------------------------------------------------------------------


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


def _call(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Callable[[], object]:
    """``fn`` bound to its arguments, as timeit calls it."""
    return lambda: fn(*args, **kwargs)


def _same(library: object, by_hand: object) -> bool:
    """Whether the library and the same-answer code agree on this token."""
    if isinstance(library, tuple):  # parse_amr's ParsedMethods against the tuples
        return [(m.method, m.timestamp, m.provider) for m in library] == by_hand
    facts = by_hand
    if not isinstance(facts, tuple):
        return False
    entries, claimed, proven, auth_time = facts
    return (
        [(m.method, m.timestamp, m.provider) for m in library.methods],  # type: ignore[attr-defined]
        library.aal,  # type: ignore[attr-defined]
        library.amr_aal,  # type: ignore[attr-defined]
        library.auth_time,  # type: ignore[attr-defined]
    ) == (entries, claimed, proven, auth_time)


def main() -> None:
    nist = Policy.nist()
    prepared = nist.requirement(aal="aal2", methods={"otp"}, max_age=300)
    rows: list[
        tuple[str, Callable[[], object], Callable[[], object], Callable[[], object]]
    ] = []
    for shape, token in (("supabase", SUPABASE_TOKEN), ("rfc8176", RFC_TOKEN)):
        rows += [
            (
                f"{shape}: parse_amr",
                _call(parse_amr, token["amr"]),
                _call(parse_by_hand, token["amr"]),
                _call(parse_by_hand, token["amr"]),
            ),
            (
                f"{shape}: require(aal=)",
                _call(nist.require, token, aal="aal2", now=NOW),
                _call(require_aal2_by_hand, token),
                _call(aal2_yes_no, token),
            ),
            (
                f"{shape}: require(methods=, max_age=)",
                _call(nist.require, token, methods={"otp"}, max_age=300, now=NOW),
                _call(require_otp_fresh_by_hand, token),
                _call(otp_fresh_yes_no, token),
            ),
            (
                f"{shape}: Requirement.check",
                _call(prepared.check, token, now=NOW),
                _call(check_by_hand, token),
                _call(lambda t=token: aal2_yes_no(t) and otp_fresh_yes_no(t)),
            ),
        ]
    print(
        f"3-entry tokens, Policy.nist(); best of {REPEAT} x {NUMBER:,} calls, "
        "microseconds per call"
    )
    print(
        f"{'':<40}{'library':>9}{'same':>7}{'ratio':>8}{'yes/no':>8}{'ratio':>8}"
        "  same answer"
    )
    for name, library, same_answer, yes_no in rows:
        same = _same(library(), same_answer())
        lib, hand, bare = per_call(library, same_answer, yes_no)
        print(
            f"{name:<40}{lib * 1e6:>9.2f}{hand * 1e6:>7.2f}{lib / hand:>7.2f}x"
            f"{bare * 1e6:>8.2f}{lib / bare:>7.2f}x  {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
