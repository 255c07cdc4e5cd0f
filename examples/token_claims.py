"""Print one session's token claims in both `amr` styles under both policy presets.

The session signs in with a password, then verifies TOTP two minutes later. The
claims are plain ``AMRClaim`` values, as a store would return them.

Run: ``python examples/token_claims.py``
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from mfa_amr import AMRClaim, AmrStyle, Policy


def main() -> None:
    session_id = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
    signed_in = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    stepped_up = signed_in + timedelta(minutes=2)
    claims = [
        AMRClaim(uuid.uuid4(), session_id, "password", signed_in, signed_in),
        AMRClaim(uuid.uuid4(), session_id, "totp", stepped_up, stepped_up),
    ]
    # One instant for every call, so the nist() freshness window gives the same answer
    # on every run; leave `now` out in a service to use the current time.
    now = stepped_up + timedelta(seconds=30)

    for name, policy in (("supabase", Policy.supabase()), ("nist", Policy.nist())):
        for style in AmrStyle:
            token = policy.token_claims(session_id, claims, style=style, now=now)
            print(f"Policy.{name}(), {style.name}:")
            print(json.dumps(token, indent=2))
            print()


if __name__ == "__main__":
    main()
