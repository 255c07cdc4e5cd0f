"""The ``mfa-amr`` command: ``demo``, ``demo --json``, help and usage errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mfa_amr import AMRClaim, AmrStyle, InMemoryClaimStore, Policy
from mfa_amr.cli import DEMO_SESSION, main
from mfa_amr.testing import START, FakeClock


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def demo_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status, out, err = run(capsys, "demo", "--json")
    assert (0, "") == (status, err)
    document: dict[str, Any] = json.loads(out)
    return document


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestDemoText:
    def test_prints_each_step_with_its_claims_and_token_claims(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each of the four steps shows a claims table and four token-claim lines."""
        status, out, err = run(capsys, "demo")
        assert (0, "") == (status, err)
        for title in (
            "password sign-in",
            "TOTP step-up",
            "WebAuthn verification",
            "the TOTP factor is removed",
        ):
            assert title in out
        assert 4 == out.count("method        created_at") + out.count(
            "method    created_at"
        )
        for preset in ("supabase", "nist"):
            for style in ("supabase", "rfc8176"):
                assert 4 == out.count(f"{preset} preset, {style} amr:")
        assert str(DEMO_SESSION) in out

    def test_the_output_is_the_same_on_every_run(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A fake clock and a fixed session id make the output stable."""
        first = run(capsys, "demo")
        assert first == run(capsys, "demo")

    def test_the_second_step_as_printed(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A step prints its instant and title, the call, the claims as an aligned
        table and the token claims of each preset and style, byte for byte."""
        _, out, _ = run(capsys, "demo")
        sid = DEMO_SESSION
        second = out.split("\n\n[2] ")[1].split("\n\n[3] ")[0]
        assert (
            "2026-01-15T09:00:40Z  TOTP step-up\n"
            "    store.record(session_id, 'totp')\n"
            "\n"
            "    method    created_at            updated_at\n"
            "    --------  --------------------  --------------------\n"
            "    totp      2026-01-15T09:00:40Z  2026-01-15T09:00:40Z\n"
            "    password  2026-01-15T09:00:00Z  2026-01-15T09:00:00Z\n"
            "\n"
            '    supabase preset, supabase amr:   {"aal": "aal2", "amr": [{"method": '
            '"totp", "timestamp": 1768467640}, {"method": "password", "timestamp": '
            f'1768467600}}], "session_id": "{sid}"}}\n'
            '    supabase preset, rfc8176 amr:    {"aal": "aal2", "amr": ["otp", '
            f'"pwd", "mfa"], "session_id": "{sid}", "acr": "aal2", "auth_time": '
            "1768467640}\n"
            '    nist preset, supabase amr:       {"aal": "aal2", "amr": [{"method": '
            '"totp", "timestamp": 1768467640}, {"method": "password", "timestamp": '
            f'1768467600}}], "session_id": "{sid}"}}\n'
            '    nist preset, rfc8176 amr:        {"aal": "aal2", "amr": ["otp", '
            f'"pwd", "mfa"], "session_id": "{sid}", "acr": "aal2", "auth_time": '
            "1768467640}"
        ) == second

    def test_the_last_step_has_no_totp_row(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """After the TOTP factor is removed, its claim is gone from the table."""
        _, out, _ = run(capsys, "demo")
        last = out.split("the TOTP factor is removed")[1]
        table = last.split("preset")[0]
        assert "mfa/webauthn" in table
        assert "password" in table
        assert "totp " not in table


class TestDemoJson:
    def test_json_is_one_document_with_every_step(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json prints one JSON document with the session, presets and steps."""
        document = demo_json(capsys)
        assert str(DEMO_SESSION) == document["session_id"]
        assert ["supabase", "nist"] == document["presets"]
        assert ["supabase", "rfc8176"] == document["styles"]
        assert [1, 2, 3, 4] == [step["step"] for step in document["steps"]]

    def test_claims_are_what_the_store_holds(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each step's claims are those of the same session replayed on a store."""
        document = demo_json(capsys)
        clock = FakeClock(START)
        store = InMemoryClaimStore(clock=clock)
        sid = uuid.uuid4()
        actions: list[Callable[[], object]] = [
            lambda: store.record(sid, "password"),
            lambda: store.record(sid, "totp"),
            lambda: store.record(sid, "mfa/webauthn"),
            lambda: store.revoke(sid, "totp"),
        ]
        for step, action in zip(document["steps"], actions, strict=True):
            clock.set(parse_time(step["at"]))
            action()
            expected = [
                {
                    "method": c.method,
                    "created_at": c.created_at,
                    "updated_at": c.updated_at,
                }
                for c in store.claims(sid)
            ]
            got = [
                {
                    "method": c["method"],
                    "created_at": parse_time(c["created_at"]),
                    "updated_at": parse_time(c["updated_at"]),
                }
                for c in step["claims"]
            ]
            assert expected == got

    def test_token_claims_match_policy_token_claims(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each step's token claims are Policy.token_claims of its claims, for both
        presets and both styles, at the step's instant."""
        document = demo_json(capsys)
        presets = {"supabase": Policy.supabase(), "nist": Policy.nist()}
        for step in document["steps"]:
            at = parse_time(step["at"])
            claims = [
                AMRClaim(
                    uuid.uuid4(),
                    DEMO_SESSION,
                    c["method"],
                    parse_time(c["created_at"]),
                    parse_time(c["updated_at"]),
                )
                for c in step["claims"]
            ]
            for name, policy in presets.items():
                for style in AmrStyle:
                    expected = policy.token_claims(
                        DEMO_SESSION, claims, style=style, now=at
                    )
                    assert expected == step["token_claims"][name][style.value]

    def test_the_story_the_demo_tells(self, capsys: pytest.CaptureFixture[str]) -> None:
        """aal2 after the step-up; 13 hours on, only the supabase preset keeps it."""
        steps = demo_json(capsys)["steps"]
        levels = [
            (
                s["token_claims"]["supabase"]["supabase"]["aal"],
                s["token_claims"]["nist"]["rfc8176"]["aal"],
            )
            for s in steps
        ]
        assert [
            ("aal1", "aal1"),
            ("aal2", "aal2"),
            ("aal2", "aal1"),
            ("aal2", "aal1"),
        ] == levels
        assert ["pop", "pwd", "mfa"] == steps[3]["token_claims"]["supabase"]["rfc8176"][
            "amr"
        ]


COMMANDS = [
    "demo",
    "schema",
    "migrate",
    "doctor",
    "claims",
    "explain",
    "challenge",
    "purge",
    "revoke",
    "revoke-everywhere",
    "delete-sessions",
]


class TestUsage:
    def test_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """mfa-amr --help lists every command, ends with examples, and exits 0."""
        status, out, _ = run(capsys, "--help")
        assert 0 == status
        assert "usage: mfa-amr" in out
        listed = out.split("positional arguments:")[1].split("options:")[0].split()
        assert set(COMMANDS) <= set(listed)
        assert "\nexamples:\n  mfa-amr demo\n" in out

    @pytest.mark.parametrize("command", COMMANDS)
    def test_each_commands_help_shows_an_example(
        self, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        """COMMAND --help describes --json and ends with the command's examples."""
        status, out, err = run(capsys, command, "--help")
        assert (0, "") == (status, err)
        assert out.startswith(f"usage: mfa-amr {command} ")
        assert "--json" in out
        examples = out.split("\nexamples:\n")[1]
        assert examples.startswith("  ")
        assert f"mfa-amr {command}" in examples

    @pytest.mark.parametrize(
        "command",
        [c for c in COMMANDS if c not in ("demo", "explain", "challenge")],
    )
    def test_database_commands_take_schema_and_table(
        self, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        """Each database command has --schema/--table (auth.mfa_amr_claims), --dsn."""
        _, out, _ = run(capsys, command, "--help")
        assert re.search(r"--schema SCHEMA\s+default: auth\n", out)
        assert re.search(r"--table TABLE\s+default: mfa_amr_claims\n", out)
        assert ("--dsn DSN" in out) is (command != "schema")

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """mfa-amr --version prints the version."""
        status, out, _ = run(capsys, "--version")
        assert 0 == status
        assert out.startswith("mfa-amr ")

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["bogus"], "invalid choice: 'bogus'"),
            ([], "a command is required"),
            (["demo", "--bogus"], "unrecognized arguments: --bogus"),
            (["claims"], "the following arguments are required: SESSION_ID"),
            (["revoke", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"], "METHOD"),
            (["revoke-everywhere", "totp"], "--sessions-from"),
            (["delete-sessions"], "SESSION_ID"),
            (["purge"], "--before"),
            (["challenge"], "HEADER"),
            (["explain", "--max-age"], "expected one argument"),
        ],
    )
    def test_usage_errors_exit_2_with_a_message(
        self, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
    ) -> None:
        """A bad command, option or missing argument exits 2 with usage and cause."""
        status, out, err = run(capsys, *argv)
        assert 2 == status
        assert "" == out
        assert message in err.splitlines()[-1]
        assert "usage: mfa-amr" in err


class TestWithoutThePostgresExtra:
    """Without psycopg, every command that needs no database still runs, and the
    others say what to install."""

    BLOCK = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None\n"
        "from mfa_amr.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )

    def test_database_commands_say_what_to_install(self) -> None:
        """Without psycopg, doctor names the extra to install; explain still works."""
        started = [
            subprocess.Popen(
                [sys.executable, "-c", self.BLOCK, *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for argv in (
                ["doctor"],
                ["explain", "{}", "--aal", "aal1"],
                ["doctor", "--help"],
            )
        ]
        outputs = [process.communicate(timeout=60) for process in started]
        doctor, explain, helped = (
            subprocess.CompletedProcess(process.args, process.returncode, out, err)
            for process, (out, err) in zip(started, outputs, strict=True)
        )
        assert (2, "") == (doctor.returncode, doctor.stdout)
        assert 1 == doctor.stderr.count("\n")
        assert doctor.stderr.startswith(
            "mfa-amr: error: doctor needs the postgres extra"
        )
        assert "pip install 'mfa-amr[postgres]'" in doctor.stderr
        assert 1 == explain.returncode  # a step-up: no level claimed
        assert "WWW-Authenticate: Bearer" in explain.stdout
        assert 0 == helped.returncode
        assert re.search(
            r"--schema SCHEMA\s+default: \(needs the postgres extra\)", helped.stdout
        )


class TestEntryPoints:
    def test_python_dash_m(self, capsys: pytest.CaptureFixture[str]) -> None:
        """python -m mfa_amr demo prints what main() prints."""
        _, expected, _ = run(capsys, "demo")
        done = subprocess.run(
            [sys.executable, "-m", "mfa_amr", "demo"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert expected == done.stdout

    def test_python_dash_m_unknown_command(self) -> None:
        """python -m mfa_amr with an unknown command exits 2."""
        done = subprocess.run(
            [sys.executable, "-m", "mfa_amr", "bogus"], capture_output=True, text=True
        )
        assert 2 == done.returncode
        assert "invalid choice" in done.stderr

    def test_console_script(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The installed mfa-amr script runs the demo."""
        script = Path(sys.executable).with_name("mfa-amr")
        if not script.exists():
            pytest.skip(f"no console script next to {sys.executable}")
        expected = demo_json(capsys)
        done = subprocess.run(
            [str(script), "demo", "--json"], capture_output=True, text=True, check=True
        )
        assert expected == json.loads(done.stdout)
