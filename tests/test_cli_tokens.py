"""``mfa-amr explain`` and ``mfa-amr challenge``: tokens of both shapes read, as a
JWT and as JSON, judged by each requirement; malformed ones refused in one line; a
step-up challenge read as a client reads it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mfa_amr import AAL, Policy
from mfa_amr.cli import main
from mfa_amr.exceptions import StepUpRequired

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
AT = ["--now", str(NOW)]
KEY = "a key of thirty-two bytes or more, for HS256"
NOT_VERIFIED = (
    "mfa-amr: warning: THE TOKEN'S SIGNATURE IS NOT VERIFIED: it is decoded for "
    "reading only; never trust what it says\n"
)

# Supabase's shape: objects with timestamps, the level in `aal`.
SUPABASE: dict[str, Any] = {
    "aal": "aal2",
    "amr": [
        {"method": "totp", "timestamp": NOW - 60},
        {"method": "password", "timestamp": NOW - 120},
    ],
    "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
# RFC 8176's shape: strings, the level in `acr`, the time in `auth_time`.
RFC8176: dict[str, Any] = {
    "acr": "aal2",
    "amr": ["pwd", "otp", "mfa"],
    "auth_time": NOW - 120,
}


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    """``main(argv)`` in-process, standard input given: (status, stdout, stderr)."""
    with pytest.MonkeyPatch.context() as patch:
        if stdin is not None:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def token(payload: dict[str, Any]) -> str:
    """A signed JWT of ``payload``."""
    return jwt.encode(payload, KEY, algorithm="HS256")


def explain_json(
    capsys: pytest.CaptureFixture[str], payload: dict[str, Any], *argv: str
) -> tuple[int, dict[str, Any]]:
    """``explain --json`` of ``payload`` as JSON on standard input, at NOW."""
    status, out, err = run(
        capsys, "explain", "--json", *AT, *argv, stdin=json.dumps(payload)
    )
    assert "" == err
    document: dict[str, Any] = json.loads(out)
    return status, document


def one_error_line(err: str) -> str:
    """The message of stderr's one error line (without the prefix)."""
    assert err.endswith("\n")
    assert 1 == err.count("\n"), err
    assert "Traceback" not in err
    assert err.startswith("mfa-amr: error: ")
    return err.removeprefix("mfa-amr: error: ").rstrip("\n")


class TestExplainReads:
    def test_a_jwt_of_supabase_objects(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A Supabase-shape JWT: entries, levels, auth_time; loudly NOT VERIFIED."""
        status, out, err = run(capsys, "explain", token(SUPABASE), *AT)
        assert 0 == status
        assert NOT_VERIFIED == err
        assert (
            "amr (Supabase objects):\n"
            "  method    timestamp             provider\n"
            "  --------  --------------------  --------\n"
            "  totp      2027-01-15T07:59:00Z\n"
            "  password  2027-01-15T07:58:00Z\n"
            "level claimed: aal2 (from aal)\n"
            "level its amr proves under the supabase policy at 2027-01-15T08:00:00Z: "
            "aal2\n"
            "level a requirement is checked against: aal2\n"
            "auth_time: none\n"
        ) == out

    def test_a_jwt_of_rfc8176_strings(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An RFC 8176 JWT: untimed strings, the level from acr, and auth_time."""
        status, out, err = run(capsys, "explain", token(RFC8176), *AT)
        assert 0 == status
        assert NOT_VERIFIED == err
        assert (
            "amr (RFC 8176 strings):\n"
            "  method  timestamp  provider\n"
            "  ------  ---------  --------\n"
            "  pwd     -\n"
            "  otp     -\n"
            "  mfa     -\n"
            "level claimed: aal2 (from acr)\n"
            "level its amr proves under the supabase policy at 2027-01-15T08:00:00Z: "
            "aal2\n"
            "level a requirement is checked against: aal2\n"
            "auth_time: 2027-01-15T07:58:00Z\n"
        ) == out

    @pytest.mark.parametrize("argv", [[], ["-"]], ids=["no argument", "dash"])
    def test_json_on_standard_input(
        self, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """JSON on stdin reads as the same token as its JWT, with no warning."""
        status, out, err = run(
            capsys, "explain", *argv, *AT, stdin=json.dumps(SUPABASE) + "\n"
        )
        _, from_jwt, _ = run(capsys, "explain", token(SUPABASE), *AT)
        assert (0, "") == (status, err)
        assert from_jwt == out

    def test_a_json_payload_as_the_argument(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A JSON payload given as TOKEN reads as it does on standard input."""
        status, out, err = run(capsys, "explain", json.dumps(RFC8176), *AT)
        assert (0, "") == (status, err)
        assert "level claimed: aal2 (from acr)\n" in out

    def test_a_jwt_on_standard_input(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A JWT on standard input is decoded, with the warning."""
        status, out, err = run(capsys, "explain", "-", *AT, stdin=token(RFC8176))
        assert (0, NOT_VERIFIED) == (status, err)
        assert "amr (RFC 8176 strings):\n" in out

    def test_json_output_of_each_shape(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json gives the same reading as one document, unverified."""
        _, supabase = explain_json(capsys, SUPABASE)
        _, rfc = explain_json(capsys, RFC8176)
        assert {
            "verified": False,
            "policy": "supabase",
            "now": "2027-01-15T08:00:00Z",
            "amr": {
                "style": "supabase",
                "entries": [
                    {
                        "method": "totp",
                        "timestamp": NOW - 60,
                        "time": "2027-01-15T07:59:00Z",
                        "provider": None,
                    },
                    {
                        "method": "password",
                        "timestamp": NOW - 120,
                        "time": "2027-01-15T07:58:00Z",
                        "provider": None,
                    },
                ],
            },
            "claimed": "aal2",
            "claimed_from": "aal",
            "computed": "aal2",
            "effective": "aal2",
            "acr": None,
            "auth_time": None,
            "requirement": {},
            "verdict": None,
            "www_authenticate": None,
        } == supabase
        assert ("rfc8176", "acr", "aal2", NOW - 120) == (
            rfc["amr"]["style"],
            rfc["claimed_from"],
            rfc["acr"],
            rfc["auth_time"],
        )
        assert [None, None, None] == [e["timestamp"] for e in rfc["amr"]["entries"]]

    def test_json_output_of_a_jwt_keeps_the_warning_on_stderr(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --json the warning stays on stderr; stdout is one JSON document."""
        status, out, err = run(capsys, "explain", token(SUPABASE), "--json", *AT)
        assert (0, NOT_VERIFIED) == (status, err)
        assert False is json.loads(out)["verified"]

    def test_a_provider_is_shown(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An entry's provider is shown beside its method."""
        payload = {
            "aal": "aal1",
            "amr": [{"method": "sso/saml", "timestamp": NOW, "provider": "okta-prod"}],
        }
        _, out, _ = run(capsys, "explain", json.dumps(payload), *AT)
        assert "  sso/saml  2027-01-15T08:00:00Z  okta-prod\n" in out

    def test_a_claim_above_what_the_amr_proves(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A token that claims aal2 with a password alone is checked as aal1."""
        payload = {"aal": "aal2", "amr": [{"method": "password", "timestamp": NOW}]}
        _, document = explain_json(capsys, payload)
        assert ("aal2", "aal1", "aal1") == (
            document["claimed"],
            document["computed"],
            document["effective"],
        )

    def test_no_amr_and_no_level(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A payload with neither amr nor a level claims none and proves aal1."""
        status, out, _ = run(capsys, "explain", "{}", *AT)
        assert 0 == status
        assert (
            "amr (no amr):\n"
            "  (none)\n"
            "level claimed: none (no aal, and no acr the policy maps to a level)\n"
            "level its amr proves under the supabase policy at 2027-01-15T08:00:00Z: "
            "aal1\n"
            "level a requirement is checked against: none\n"
            "auth_time: none\n"
        ) == out

    def test_the_policy_judges(self, capsys: pytest.CaptureFixture[str]) -> None:
        """13 hours on, supabase still gives aal2, and nist's 12 h window aal1."""
        later = ["--now", str(NOW + 13 * 3600)]
        _, supabase = explain_json(capsys, SUPABASE, *later)
        _, nist = explain_json(capsys, SUPABASE, *later, "--policy", "nist")
        assert ("aal2", "aal1") == (supabase["computed"], nist["computed"])
        assert "nist" == nist["policy"]

    def test_now_as_an_iso_datetime(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--now takes an ISO 8601 datetime too."""
        _, document = explain_json(capsys, {}, "--now", "2027-01-15T09:00:00+01:00")
        assert "2027-01-15T08:00:00Z" == document["now"]

    def test_now_defaults_to_the_clock_in_whole_seconds(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --now the token is judged now, in whole seconds."""
        before = datetime.now(UTC).replace(microsecond=0)
        status, out, _ = run(capsys, "explain", "{}", "--json")
        after = datetime.now(UTC)
        now = datetime.fromisoformat(json.loads(out)["now"])
        assert 0 == status
        assert before <= now <= after
        assert 0 == now.microsecond

    @pytest.mark.parametrize(
        "now", ["2026-01-01T00:00:00.75Z", "2026-01-01T01:00:00.999999+01:00"]
    )
    def test_now_is_floored_to_whole_seconds(
        self, capsys: pytest.CaptureFixture[str], now: str
    ) -> None:
        """A --now with a fraction of a second is shown floored, as it is judged."""
        _, document = explain_json(capsys, {}, "--now", now)
        assert "2026-01-01T00:00:00Z" == document["now"]


class TestExplainRequirements:
    @pytest.mark.parametrize(
        ("payload", "argv", "requirement"),
        [
            (SUPABASE, ["--aal", "aal2"], {"aal": "aal2"}),
            (SUPABASE, ["--methods", "otp,hwk"], {"methods": ["otp", "hwk"]}),
            (SUPABASE, ["--methods", "totp"], {"methods": ["totp"]}),
            (RFC8176, ["--methods", "otp"], {"methods": ["otp"]}),
            (SUPABASE, ["--max-age", "60"], {"max_age": 60}),
            (RFC8176, ["--max-age", "120"], {"max_age": 120}),
            (
                {"amr": [{"method": "mfa/webauthn", "timestamp": NOW}]},
                ["--phishing-resistant", "yes"],
                {"phishing_resistant": True},
            ),
            (
                {"acr": "phrh", "amr": ["hwk", "user"], "auth_time": NOW},
                ["--phishing-resistant", "hardware"],
                {"phishing_resistant": "hardware"},
            ),
        ],
    )
    def test_met(
        self,
        capsys: pytest.CaptureFixture[str],
        payload: dict[str, Any],
        argv: list[str],
        requirement: dict[str, object],
    ) -> None:
        """A requirement the token meets: exit 0, verdict met, no header."""
        status, out, _ = run(capsys, "explain", json.dumps(payload), *AT, *argv)
        assert 0 == status
        assert out.endswith("verdict: met\n")
        status, document = explain_json(capsys, payload, *argv)
        assert 0 == status
        assert (requirement, "met", None) == (
            document["requirement"],
            document["verdict"],
            document["www_authenticate"],
        )

    @pytest.mark.parametrize(
        ("payload", "argv", "header"),
        [
            (
                SUPABASE,
                ["--aal", "aal3"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs aal3 but the token is aal2", '
                'acr_values="aal3"',
            ),
            (
                {"aal": "aal2", "amr": [{"method": "password", "timestamp": NOW}]},
                ["--aal", "aal2"],
                'Bearer error="insufficient_user_authentication", '
                "error_description=\"This request needs aal2 but the token's amr "
                'supports only aal1 (it claims aal2)", acr_values="aal2 aal3"',
            ),
            (
                {"amr": ["pwd"]},
                ["--aal", "aal1"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs aal1 but the token claims no '
                'level (no aal, and no acr this policy maps to a level)", '
                'acr_values="aal1 aal2 aal3"',
            ),
            (
                SUPABASE,
                ["--methods", "hwk"],
                'Bearer error="insufficient_user_authentication", '
                "error_description=\"This request needs hwk and the token's amr has "
                'none of that"',
            ),
            (
                SUPABASE,
                ["--max-age", "30"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs an authentication in the last '
                '30 s and the last was 60 s ago", max_age=30',
            ),
            (
                RFC8176,
                ["--max-age", "60"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs an authentication in the last '
                '60 s and the last was 120 s ago", max_age=60',
            ),
            (
                SUPABASE,
                ["--phishing-resistant", "yes"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs a phishing-resistant sign-in '
                'and the token shows none", acr_values="phr phrh"',
            ),
            (
                {"amr": [{"method": "mfa/webauthn", "timestamp": NOW}]},
                ["--phishing-resistant", "hardware"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs a phishing-resistant sign-in '
                'with a hardware-bound key and the token shows none", '
                'acr_values="phrh"',
            ),
            (
                SUPABASE,
                ["--aal", "aal3", "--max-age", "30"],
                'Bearer error="insufficient_user_authentication", '
                'error_description="This request needs aal3 but the token is aal2; '
                "this request needs an authentication in the last 30 s and the last "
                'was 60 s ago", acr_values="aal3", max_age=30',
            ),
        ],
    )
    def test_step_up(
        self,
        capsys: pytest.CaptureFixture[str],
        payload: dict[str, Any],
        argv: list[str],
        header: str,
    ) -> None:
        """An unmet requirement exits 1 with the verdict and the exact header."""
        status, out, _ = run(capsys, "explain", json.dumps(payload), *AT, *argv)
        assert 1 == status
        description = header.split('error_description="')[1].split('"')[0]
        assert out.endswith(
            f"verdict: step-up needed: {description}\nWWW-Authenticate: {header}\n"
        )
        status, document = explain_json(capsys, payload, *argv)
        assert (1, "step-up", header) == (
            status,
            document["verdict"],
            document["www_authenticate"],
        )

    def test_the_header_is_the_librarys(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The header is what Policy.require raises for the same requirement."""
        _, document = explain_json(capsys, RFC8176, "--aal", "aal3", "--max-age", "9")
        with pytest.raises(StepUpRequired) as raised:
            Policy.supabase().require(RFC8176, aal="aal3", max_age=9, now=NOW)
        assert raised.value.www_authenticate() == document["www_authenticate"]

    def test_no_requirement_no_verdict(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a requirement there is no verdict line, and exit 0."""
        status, out, _ = run(capsys, "explain", json.dumps(SUPABASE), *AT)
        assert 0 == status
        assert "verdict" not in out
        assert "WWW-Authenticate" not in out

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--max-age", "-1"], "argument --max-age: must be whole seconds from 0"),
            (["--max-age", "soon"], "argument --max-age: must be whole seconds from 0"),
            (["--methods", ""], "argument --methods: must name at least one method"),
            (["--methods", " , "], "argument --methods: must name at least one method"),
            (["--methods", "otp,TOTP"], "'TOTP' is not a canonical method name"),
            (["--aal", "aal4"], "argument --aal: invalid choice: 'aal4'"),
            (["--phishing-resistant", "no"], "invalid choice: 'no'"),
            (["--policy", "strict"], "invalid choice: 'strict'"),
        ],
    )
    def test_a_bad_requirement_is_a_usage_error(
        self, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
    ) -> None:
        """An unusable requirement is a usage error (exit 2) before any reading."""
        status, out, err = run(capsys, "explain", "{}", *argv)
        assert (2, "") == (status, out)
        assert err.startswith("usage: mfa-amr explain")
        assert message in err.splitlines()[-1]

    @pytest.mark.parametrize(
        ("now", "message"),
        [
            ("yesterday", "--now must be Unix seconds, an ISO 8601 date or datetime"),
            ("99999999999999", "--now must lie between 1970-01-01T00:00:00Z and"),
            ("1969-12-31", "--now must lie between 1970-01-01T00:00:00Z and"),
            ("999999d", "--now must lie between 1970-01-01T00:00:00Z and"),
        ],
    )
    def test_a_bad_now(
        self, capsys: pytest.CaptureFixture[str], now: str, message: str
    ) -> None:
        """An unusable --now: exit 2, one line naming it."""
        status, out, err = run(capsys, "explain", "{}", "--now", now)
        assert (2, "") == (status, out)
        assert one_error_line(err).startswith(message)


MALFORMED = [
    ("", "expected a JWT (three base64url parts joined by dots) or a JSON payload"),
    ("not a token", "expected a JWT"),
    ("a.b.c.d.e", "got 5 parts (an encrypted JWE, which only its recipient can read)"),
    ("eyJhbGciOiJIUzI1NiJ9.e.sig", "its payload (the part between the dots) is not"),
    ("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig", "its payload is not JSON"),
    ("eyJhbGciOiJIUzI1NiJ9.__79.sig", "its payload does not decode to UTF-8 text"),
    ("eyJhbGciOiJIUzI1NiJ9.WzFd.sig", "its payload is not a JSON object"),
    ('{"amr": ', "the JSON payload does not parse"),
    ("[1, 2]", "its payload is not a JSON object"),
    ("[" * 100_000, "the JSON payload does not parse"),
    ('{"amr": 5}', "amr: expected a list of objects or of strings, got a number"),
    ('{"amr": ["pwd", {"method": "totp"}]}', "amr[1].timestamp: missing"),
    ('{"amr": [{"method": "totp", "timestamp": -1}]}', "amr[0].timestamp:"),
    ('{"amr": ["pwd", 7]}', "amr[1]: expected an object or a string"),
    ('{"auth_time": "yesterday"}', "auth_time: expected whole Unix seconds"),
]


class TestExplainMalformed:
    @pytest.mark.parametrize(("text", "message"), MALFORMED)
    def test_as_the_argument(
        self, capsys: pytest.CaptureFixture[str], text: str, message: str
    ) -> None:
        """A malformed token exits 2 with one line saying what is wrong."""
        status, out, err = run(capsys, "explain", text, *AT)
        assert (2, "") == (status, out)
        error = one_error_line(err)
        assert error.startswith("malformed token: ")
        assert message in error

    @pytest.mark.parametrize(("text", "message"), MALFORMED[:4])
    def test_on_standard_input(
        self, capsys: pytest.CaptureFixture[str], text: str, message: str
    ) -> None:
        """A malformed token on stdin, with --json, also exits 2 in one line."""
        status, out, err = run(
            capsys, "explain", "--json", "--aal", "aal2", *AT, stdin=text
        )
        assert (2, "") == (status, out)
        assert message in one_error_line(err)

    def test_a_jwt_whose_amr_is_malformed_was_read(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A JWT that decodes to a bad amr: the warning, then one error line."""
        status, out, err = run(capsys, "explain", token({"amr": {"m": 1}}), *AT)
        assert (2, "") == (status, out)
        warning, error = err.splitlines()
        assert NOT_VERIFIED.rstrip("\n") == warning
        assert error.startswith("mfa-amr: error: malformed token: amr: expected a list")


CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A different authentication level is required", '
    'acr_values="aal2 aal3", max_age=300'
)


class TestChallenge:
    def test_a_step_up_challenge(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Each parameter is printed, then what to add to the next request."""
        status, out, err = run(capsys, "challenge", CHALLENGE)
        assert (0, "") == (status, err)
        assert (
            "error: insufficient_user_authentication\n"
            "error_description: A different authentication level is required\n"
            "acr_values: aal2 aal3\n"
            "max_age: 300\n"
            "add to the next authorization request: "
            "acr_values=aal2%20aal3&max_age=300\n"
        ) == out

    def test_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json gives the same as one document."""
        status, out, _ = run(capsys, "challenge", CHALLENGE, "--json")
        assert 0 == status
        assert {
            "error": "insufficient_user_authentication",
            "error_description": "A different authentication level is required",
            "acr_values": ["aal2", "aal3"],
            "max_age": 300,
            "authorization_params": {"acr_values": "aal2 aal3", "max_age": "300"},
        } == json.loads(out)

    def test_other_schemes_around_it(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Other challenges and parameters around the Bearer one are skipped."""
        header = (
            'Basic realm="admin", BEARER realm="api", '
            "ERROR=insufficient_user_authentication, acr_values=phrh, "
            'DPoP algs="ES256 PS256"'
        )
        status, out, _ = run(capsys, "challenge", header, "--json")
        assert 0 == status
        assert {
            "error": "insufficient_user_authentication",
            "error_description": None,
            "acr_values": ["phrh"],
            "max_age": None,
            "authorization_params": {"acr_values": "phrh"},
        } == json.loads(out)

    def test_nothing_to_add(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A challenge with neither acr_values nor max_age adds nothing."""
        status, out, _ = run(
            capsys, "challenge", 'Bearer error="insufficient_user_authentication"'
        )
        assert 0 == status
        assert out.endswith(
            "acr_values: (none)\nmax_age: (none)\n"
            "add to the next authorization request: (nothing)\n"
        )

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        aal=st.sampled_from([None, *AAL]),
        max_age=st.none() | st.integers(0, 200) | st.integers(0, 10**9),
        phishing_resistant=st.sampled_from([None, "yes", "hardware"]),
    )
    @example(aal=AAL.AAL3, max_age=30, phishing_resistant=None)
    def test_reads_what_explain_answers(
        self,
        capsys: pytest.CaptureFixture[str],
        aal: AAL | None,
        max_age: int | None,
        phishing_resistant: str | None,
    ) -> None:
        """Whatever the requirement, the header explain prints for a step-up reads
        back, through challenge, as the description explain printed and the
        acr_values and max_age the requirement asks for."""
        argv = [
            *(["--aal", aal.value] if aal is not None else []),
            *(["--max-age", str(max_age)] if max_age is not None else []),
            *(
                ["--phishing-resistant", phishing_resistant]
                if phishing_resistant
                else []
            ),
        ]
        status, out, _ = run(capsys, "explain", json.dumps(SUPABASE), *AT, *argv)
        lines = out.splitlines()
        if status == 0:
            assert not any(line.startswith("WWW-Authenticate:") for line in lines)
            return
        verdict, said = lines[-2:]
        assert 1 == status
        assert verdict.startswith("verdict: step-up needed: ")
        assert said.startswith("WWW-Authenticate: ")
        header = said.removeprefix("WWW-Authenticate: ")
        status, out, _ = run(capsys, "challenge", header, "--json")
        if phishing_resistant == "hardware":
            acr_values = ["phrh"]
        elif phishing_resistant:
            acr_values = ["phr", "phrh"]
        else:
            acr_values = [a.value for a in AAL if aal is not None and a >= aal]
        params: dict[str, str] = {}
        if acr_values:
            params["acr_values"] = " ".join(acr_values)
        if max_age is not None:
            params["max_age"] = str(max_age)
        assert 0 == status
        assert {
            "error": "insufficient_user_authentication",
            "error_description": verdict.removeprefix("verdict: step-up needed: "),
            "acr_values": acr_values,
            "max_age": max_age,
            "authorization_params": params,
        } == json.loads(out)

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("", "no Bearer challenge in ''"),
            ('Basic realm="x"', "no Bearer challenge"),
            (
                'Bearer error="invalid_token"',
                "not a step-up challenge: the Bearer challenge's error is "
                "'invalid_token', not 'insufficient_user_authentication'",
            ),
            (
                'Bearer error="insufficient_user_authentication',
                "the quoted-string opening at position 13 is not closed",
            ),
            (
                'Bearer error="insufficient_user_authentication", max_age=soon',
                "max_age must be whole seconds (digits), got 'soon'",
            ),
            (
                "Bearer error=insufficient_user_authentication, error=x",
                "the parameter 'error' appears twice in one challenge",
            ),
            ("=x", "expected an auth-scheme such as Bearer at position 0"),
        ],
    )
    def test_malformed(
        self, capsys: pytest.CaptureFixture[str], header: str, message: str
    ) -> None:
        """A value without a well-formed step-up challenge: exit 2, one line."""
        status, out, err = run(capsys, "challenge", header)
        assert (2, "") == (status, out)
        error = one_error_line(err)
        assert error.startswith("cannot read the WWW-Authenticate value: ")
        assert message in error


class TestConsoleScript:
    def test_exit_statuses_through_the_script(self) -> None:
        """Through the script: a step-up exits 1, malformed input 2 in one line."""
        script = Path(sys.executable).with_name("mfa-amr")
        assert script.exists(), f"no console script next to {sys.executable}"
        jwt_ = token(SUPABASE)
        runs = {
            "step-up": (["explain", jwt_, *AT, "--aal", "aal3"], None),
            "malformed": (["explain", "-"], "eyJ.e.x"),
            "bad challenge": (["challenge", "Bearer error="], None),
        }
        started = {
            name: subprocess.Popen(
                [str(script), *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, (argv, _) in runs.items()
        }
        done = {
            name: (process.communicate(runs[name][1] or "", timeout=60), process)
            for name, process in started.items()
        }
        status = {name: process.returncode for name, (_, process) in done.items()}
        assert {
            "step-up": 1,
            "malformed": 2,
            "bad challenge": 2,
        } == status
        (out, err), _ = done["step-up"]
        assert NOT_VERIFIED == err
        assert (
            'WWW-Authenticate: Bearer error="insufficient_user_authentication"' in out
        )
        (out, err), _ = done["malformed"]
        assert "" == out
        assert one_error_line(err).startswith("malformed token: ")
        (out, err), _ = done["bad challenge"]
        assert "" == out
        one_error_line(err)
