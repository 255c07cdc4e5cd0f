"""``mfa-amr explain`` and ``mfa-amr challenge``: a token, and a step-up challenge,
read as a resource server and a client read them. Neither needs a database."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import urllib.parse
from typing import Any, Final

from mfa_amr._challenge import StepUpChallenge, StepUpRequired
from mfa_amr._claims import AmrStyle
from mfa_amr._errors import AmrParseError, ChallengeParseError, InvalidMethodError
from mfa_amr._grammar import MAX_TIMESTAMP, validate_method
from mfa_amr._policy import Policy
from mfa_amr._verify import Evaluation
from mfa_amr.cli._output import CommandError, Output, iso, judged_at, plural, table

__all__ = [
    "PRESETS",
    "challenge",
    "explain",
    "max_age_seconds",
    "method_names",
]

PRESETS: Final = {"supabase": Policy.supabase, "nist": Policy.nist}
"""The policies a command can judge by, by name."""

MET: Final = 0
STEP_UP: Final = 1

NOT_VERIFIED: Final = (
    "THE TOKEN'S SIGNATURE IS NOT VERIFIED: it is decoded for reading only; "
    "never trust what it says"
)


def max_age_seconds(text: str) -> int:
    """``--max-age``: whole seconds, 0 or more.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    value = int(text) if text.isascii() and text.isdigit() else -1
    if not 0 <= value <= MAX_TIMESTAMP:
        raise argparse.ArgumentTypeError(
            f"must be whole seconds from 0 to {MAX_TIMESTAMP}, got {text!r}"
        )
    return value


def method_names(text: str) -> list[str]:
    """``--methods``: method names or RFC 8176 values, comma-separated, at least
    one.

    Raises:
        argparse.ArgumentTypeError: no name, or a name outside the method syntax.
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"must name at least one method, comma-separated (such as otp,hwk), "
            f"got {text!r}"
        )
    try:
        return [validate_method(name) for name in names]
    except InvalidMethodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _read_stdin() -> str:
    if sys.stdin.isatty():
        sys.stderr.write(
            "mfa-amr: reading a token from standard input (end it with Ctrl-D)\n"
        )
    try:
        return sys.stdin.read()
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"malformed token: standard input is not UTF-8 text ({exc.reason})"
        ) from None


def _payload(text: str, out: Output) -> dict[str, Any]:
    """A JSON payload, or the payload of a JWT decoded without verifying it.

    Raises:
        CommandError: neither.
    """
    text = text.strip()
    if text.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CommandError(
                f"malformed token: the JSON payload does not parse ({exc})"
            ) from None
    else:
        parts = text.split(".")
        if len(parts) != 3:
            encrypted = " (an encrypted JWE, which only its recipient can read)"
            raise CommandError(
                "malformed token: expected a JWT (three base64url parts joined by "
                f"dots) or a JSON payload, got {plural(len(parts), 'part')}"
                + (encrypted if len(parts) == 5 else "")
            )
        try:
            raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        except (binascii.Error, ValueError) as exc:
            raise CommandError(
                f"malformed token: its payload (the part between the dots) is not "
                f"base64url ({exc})"
            ) from None
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CommandError(
                "malformed token: its payload does not decode to UTF-8 text"
            ) from None
        except (ValueError, RecursionError) as exc:
            raise CommandError(
                f"malformed token: its payload is not JSON ({exc})"
            ) from None
    if not isinstance(value, dict):
        raise CommandError("malformed token: its payload is not a JSON object")
    if not text.startswith(("{", "[")):
        # Said once the payload is read, and however it is printed: what follows
        # is the word of whoever made the token.
        out.warn(NOT_VERIFIED)
    return value


def _claimed_from(payload: dict[str, Any], ev: Evaluation) -> str | None:
    if ev.aal is None:
        return None
    return "aal" if payload.get("aal") is not None else "acr"


def explain(args: argparse.Namespace, out: Output) -> int:
    """Read a token as a resource server would, and judge it by the requirements
    given: 0 when they are met, 1 when a step-up is needed, 2 when the token is
    malformed."""
    now = judged_at(args)
    policy = PRESETS[args.policy]()
    needs = {
        "aal": args.aal,
        "methods": args.methods,
        "max_age": args.max_age,
        "phishing_resistant": {None: False, "yes": True}.get(
            args.phishing_resistant, args.phishing_resistant
        ),
    }
    requirement = policy.requirement(**needs)  # a bad argument fails before reading
    text = _read_stdin() if args.token in (None, "-") else args.token
    try:
        payload = _payload(text, out)
        ev = policy.evaluate(payload, now=now)
    except AmrParseError as exc:
        raise CommandError(f"malformed token: {exc}") from None
    asked = any(v not in (None, False) for v in needs.values())
    verdict, header = "no requirement given", None
    status = MET
    if asked:
        try:
            requirement.check(payload, now=now)
            verdict = "met"
        except StepUpRequired as exc:
            verdict, header, status = (
                f"step-up needed: {exc.description}",
                exc.www_authenticate(),
                STEP_UP,
            )
    document = {
        "verified": False,
        "policy": args.policy,
        "now": iso(now),
        "amr": {
            "style": None if ev.style is None else ev.style.value,
            "entries": [
                {
                    "method": m.method,
                    "timestamp": m.timestamp,
                    "time": iso(m.timestamp),
                    "provider": m.provider,
                }
                for m in ev.methods
            ],
        },
        "claimed": None if ev.aal is None else ev.aal.value,
        "claimed_from": _claimed_from(payload, ev),
        "computed": ev.amr_aal.value,
        "effective": None if ev.effective_aal is None else ev.effective_aal.value,
        "acr": ev.acr,
        "auth_time": ev.auth_time,
        "requirement": {k: v for k, v in needs.items() if v not in (None, False)},
        "verdict": "met" if verdict == "met" else ("step-up" if header else None),
        "www_authenticate": header,
    }
    if out.json:
        out.document(document)
        return status
    shape = {
        None: "no amr",
        AmrStyle.SUPABASE: "Supabase objects",
        AmrStyle.RFC8176: "RFC 8176 strings",
    }[ev.style]
    out.line(f"amr ({shape}):")
    for line in table(
        ("method", "timestamp", "provider"),
        [(m.method, iso(m.timestamp) or "-", m.provider or "") for m in ev.methods],
    ):
        out.line(f"  {line}")
    claimed = "none (no aal, and no acr the policy maps to a level)"
    if ev.aal is not None:
        claimed = f"{ev.aal} (from {_claimed_from(payload, ev)})"
    out.line(f"level claimed: {claimed}")
    out.line(
        f"level its amr proves under the {args.policy} policy at {iso(now)}: {ev.amr_aal}"
    )
    out.line(f"level a requirement is checked against: {ev.effective_aal or 'none'}")
    out.line(f"auth_time: {iso(ev.auth_time) or 'none'}")
    if asked:
        out.line(f"verdict: {verdict}")
        if header is not None:
            out.line(f"WWW-Authenticate: {header}")
    return status


def challenge(args: argparse.Namespace, out: Output) -> int:
    """Read a ``WWW-Authenticate`` value as a client would: 0 when it holds a step-up
    challenge, 2 when it does not."""
    try:
        parsed = StepUpChallenge.parse(args.header)
    except ChallengeParseError as exc:
        raise CommandError(f"cannot read the WWW-Authenticate value: {exc}") from None
    params = parsed.authorization_params()
    if out.json:
        out.document(
            {
                "error": parsed.error,
                "error_description": parsed.description or None,
                "acr_values": list(parsed.acr_values),
                "max_age": parsed.max_age,
                "authorization_params": params,
            }
        )
        return MET
    out.line(f"error: {parsed.error}")
    out.line(f"error_description: {parsed.description or '(none)'}")
    out.line(f"acr_values: {' '.join(parsed.acr_values) or '(none)'}")
    out.line(f"max_age: {'(none)' if parsed.max_age is None else parsed.max_age}")
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    out.line(f"add to the next authorization request: {query or '(nothing)'}")
    return MET
