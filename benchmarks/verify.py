"""Check a 3-entry token with the library and by hand, side by side.

Run: ``python benchmarks/verify.py``. For a token of each shape (Supabase objects,
RFC 8176 strings) it times ``parse_amr``, ``policy.require(aal=...)``,
``policy.require(methods=..., max_age=...)`` and a prepared ``Requirement.check``
against the simplest hand-written code that gives the same answer for this valid
token, and prints the per-call times and the ratios. It asserts nothing; the target
is a ratio of at most 3x.

The hand-written code knows what ``Policy.nist()`` says of this token's methods
(their factor kinds, the 12-hour window) and trusts the token's shape: it reads the
fields it needs and compares, and would raise ``KeyError`` or ``TypeError`` (or
answer wrongly) on a malformed one. The library checks every
entry, keeps the names another writer stored, and applies the policy's rule and
clock skew.
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
OTP_METHODS = frozenset({"otp", "totp"})
TWELVE_HOURS = 43_200


# -- by hand ----------------------------------------------------------------------------


def parse_by_hand(amr: list[Any]) -> list[tuple[str, int | None, str | None]]:
    if amr and type(amr[0]) is str:
        return [(value, None, None) for value in amr]
    return [(e["method"], e["timestamp"], e.get("provider") or None) for e in amr]


def aal2_supabase_by_hand(payload: Mapping[str, Any]) -> bool:
    """NIST's aal2: two factor kinds among the entries of the last 12 hours."""
    if payload.get("aal") not in ("aal2", "aal3"):
        return False
    bits = 0
    for e in payload["amr"]:
        if NOW - e["timestamp"] <= TWELVE_HOURS:
            bits |= FACTOR_BITS.get(e["method"], 0)
    return bits & (bits - 1) != 0


def aal2_rfc_by_hand(payload: Mapping[str, Any]) -> bool:
    """NIST's aal2 in the string shape: mfa, authenticated in the last 12 hours."""
    return (
        payload.get("aal") in ("aal2", "aal3")
        and "mfa" in payload["amr"]
        and NOW - payload["auth_time"] <= TWELVE_HOURS
    )


def otp_fresh_supabase_by_hand(payload: Mapping[str, Any]) -> bool:
    stamps = [e["timestamp"] for e in payload["amr"] if e["method"] in OTP_METHODS]
    return bool(stamps) and NOW - max(stamps) <= 300


def otp_fresh_rfc_by_hand(payload: Mapping[str, Any]) -> bool:
    return "otp" in payload["amr"] and NOW - payload["auth_time"] <= 300


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


def _same(library: object, by_hand: object) -> bool:
    if isinstance(library, tuple):  # parse_amr's ParsedMethods against the tuples
        return [(m.method, m.timestamp, m.provider) for m in library] == by_hand
    return library is not None and by_hand is True


def _call(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Callable[[], object]:
    """``fn`` bound to its arguments, as timeit calls it."""
    return lambda: fn(*args, **kwargs)


def _both(
    first: Callable[[Mapping[str, Any]], bool],
    second: Callable[[Mapping[str, Any]], bool],
    token: Mapping[str, Any],
) -> bool:
    return first(token) and second(token)


def main() -> None:
    nist = Policy.nist()
    prepared = nist.requirement(aal="aal2", methods={"otp"}, max_age=300)
    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = []
    for shape, token, aal2_by_hand, otp_by_hand in (
        ("supabase", SUPABASE_TOKEN, aal2_supabase_by_hand, otp_fresh_supabase_by_hand),
        ("rfc8176", RFC_TOKEN, aal2_rfc_by_hand, otp_fresh_rfc_by_hand),
    ):
        rows += [
            (
                f"{shape}: parse_amr",
                _call(parse_amr, token["amr"]),
                _call(parse_by_hand, token["amr"]),
            ),
            (
                f"{shape}: require(aal=)",
                _call(nist.require, token, aal="aal2", now=NOW),
                _call(aal2_by_hand, token),
            ),
            (
                f"{shape}: require(methods=, max_age=)",
                _call(nist.require, token, methods={"otp"}, max_age=300, now=NOW),
                _call(otp_by_hand, token),
            ),
            (
                f"{shape}: Requirement.check",
                _call(prepared.check, token, now=NOW),
                _call(_both, aal2_by_hand, otp_by_hand, token),
            ),
        ]
    print(
        f"3-entry tokens, Policy.nist(); best of {REPEAT} x {NUMBER:,} calls, "
        "microseconds per call"
    )
    print(f"{'':<40}{'library':>9}{'by hand':>9}{'ratio':>8}  same answer")
    for name, library, by_hand in rows:
        same = _same(library(), by_hand())
        lib, hand = per_call(library, by_hand)
        print(
            f"{name:<40}{lib * 1e6:>9.2f}{hand * 1e6:>9.2f}{lib / hand:>7.2f}x"
            f"  {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
