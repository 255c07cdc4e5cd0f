"""``mfa-amr demo``: one login session played on the in-memory store, with a fake
clock so that its output is the same on every run, showing after each step the
session's claims and the token claims they give, in both ``amr`` styles, under both
presets."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from mfa_amr._claims import AMRClaim, AmrStyle
from mfa_amr.cli._output import Output, iso, table
from mfa_amr.cli._tokens import PRESETS
from mfa_amr.stores.memory import InMemoryClaimStore
from mfa_amr.testing import START, FakeClock

__all__ = ["DEMO_SESSION", "demo", "demo_document", "render_text", "run_demo"]

DEMO_SESSION: Final = uuid.UUID("5b0f6c1e-8a5d-4f3e-9c2a-3d1e7b9a4c60")
"""The demo's session id, fixed so that its output is stable."""

STYLES: Final = (AmrStyle.SUPABASE, AmrStyle.RFC8176)


@attrs.frozen
class DemoStep:
    """One step of the demo: when it happens, what the user did, the store call."""

    after: timedelta
    title: str
    call: str
    run: Callable[[InMemoryClaimStore, uuid.UUID], object]


DEMO_STEPS: Final = (
    DemoStep(
        timedelta(0),
        "password sign-in",
        "store.record(session_id, 'password')",
        lambda store, sid: store.record(sid, "password"),
    ),
    DemoStep(
        timedelta(seconds=40),
        "TOTP step-up",
        "store.record(session_id, 'totp')",
        lambda store, sid: store.record(sid, "totp"),
    ),
    # Thirteen hours on, the first two claims are past the nist preset's 12-hour
    # window: the presets part ways.
    DemoStep(
        timedelta(hours=13),
        "WebAuthn verification, 13 hours later",
        "store.record(session_id, 'mfa/webauthn')",
        lambda store, sid: store.record(sid, "mfa/webauthn"),
    ),
    DemoStep(
        timedelta(hours=13, minutes=5),
        "the TOTP factor is removed",
        "store.revoke(session_id, 'totp')",
        lambda store, sid: store.revoke(sid, "totp"),
    ),
)


def _claim_dict(claim: AMRClaim) -> dict[str, str]:
    return {
        "method": claim.authentication_method,
        "created_at": iso(claim.created_at),
        "updated_at": iso(claim.updated_at),
    }


@attrs.frozen
class StepResult:
    """What one demo step left: the session's claims and the token claims they give
    (``token_claims[preset][style]``)."""

    number: int
    at: datetime
    step: DemoStep
    claims: tuple[AMRClaim, ...]
    token_claims: dict[str, dict[str, dict[str, object]]]

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.number,
            "at": iso(self.at),
            "title": self.step.title,
            "call": self.step.call,
            "claims": [_claim_dict(c) for c in self.claims],
            "token_claims": self.token_claims,
        }


def run_demo() -> list[StepResult]:
    """Play the demo on a new in-memory store with a fake clock."""
    clock = FakeClock(START)
    store = InMemoryClaimStore(clock=clock)
    policies = {name: make() for name, make in PRESETS.items()}
    results = []
    for number, step in enumerate(DEMO_STEPS, start=1):
        clock.set(START + step.after)
        step.run(store, DEMO_SESSION)
        claims = store.claims(DEMO_SESSION)
        token_claims = {
            name: {
                style.value: policy.token_claims(
                    DEMO_SESSION, claims, style=style, now=clock()
                )
                for style in STYLES
            }
            for name, policy in policies.items()
        }
        results.append(StepResult(number, clock(), step, tuple(claims), token_claims))
    return results


def demo_document(results: Sequence[StepResult]) -> dict[str, object]:
    """The demo as one JSON-ready document: ``session_id``, ``presets``,
    ``styles`` and ``steps``; each step has ``step``, ``at``, ``title``, ``call``,
    ``claims`` (most recent first) and ``token_claims[preset][style]``, as
    ``Policy.token_claims`` gives them at that instant."""
    return {
        "session_id": str(DEMO_SESSION),
        "presets": list(PRESETS),
        "styles": [style.value for style in STYLES],
        "steps": [result.to_dict() for result in results],
    }


def render_text(results: Sequence[StepResult]) -> str:
    """The demo as the text ``mfa-amr demo`` prints."""
    out = [
        "mfa-amr demo: one login session on the in-memory store "
        "(a fake clock keeps the output stable)",
        f"session_id: {DEMO_SESSION}",
    ]
    for result in results:
        out += [
            "",
            f"[{result.number}] {iso(result.at)}  {result.step.title}",
            f"    {result.step.call}",
            "",
        ]
        rows = [
            (c.authentication_method, iso(c.created_at), iso(c.updated_at))
            for c in result.claims
        ]
        out += [
            "    " + line
            for line in table(("method", "created_at", "updated_at"), rows)
        ]
        out.append("")
        for preset, by_style in result.token_claims.items():
            for style, claims in by_style.items():
                label = f"{preset} preset, {style} amr:"
                out.append(f"    {label:<32} {json.dumps(claims)}")
    return "\n".join(out) + "\n"


def demo(args: argparse.Namespace, out: Output) -> int:
    """Play the demo and print it, as text or as one JSON document."""
    results = run_demo()
    if out.json:
        out.document(demo_document(results))
    else:
        out.stdout.write(render_text(results))
    return 0
