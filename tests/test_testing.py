"""mfa_amr.testing's public face: what imports without the test extra, the names
imported on first use, and FakeClock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

import mfa_amr.testing
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError
from mfa_amr.testing import START, FakeClock

# Set before anything else runs, it makes `import pytest` and `import hypothesis`
# fail, as on an install without the test extra.
WITHOUT_TEST_EXTRA = "sys.modules['pytest'] = sys.modules['hypothesis'] = None"


def run_python(code: str, *, before: str = "") -> str:
    """Run ``code`` (indented as it may be) in a new interpreter, ``before`` first;
    fail if it fails, else return its output."""
    script = f"import sys\n{before}\n{textwrap.dedent(code)}"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout


class TestImports:
    def test_the_clock_and_the_async_tools_need_neither_pytest_nor_hypothesis(
        self,
    ) -> None:
        """Without pytest and Hypothesis, FakeClock, START, AsyncRunner and
        BlockingClaimStore import and work."""
        out = run_python(
            """
            from mfa_amr import AsyncInMemoryClaimStore
            from mfa_amr.testing import START, AsyncRunner, BlockingClaimStore, FakeClock

            clock = FakeClock()
            with AsyncRunner() as runner:
                inner = AsyncInMemoryClaimStore(clock=clock)
                claim = BlockingClaimStore(inner, runner).record("5b0f6c1e-8a5d-4f3e-9c2a-3d1e7b9a4c60", "totp")
            print(claim.updated_at == START, clock.advance(60).isoformat())
            """,
            before=WITHOUT_TEST_EXTRA,
        )
        assert "True 2026-01-15T09:01:00+00:00\n" == out

    def test_the_suite_without_pytest_or_hypothesis_says_what_to_install(
        self,
    ) -> None:
        """Without the test extra, the contract and the machine raise an
        ImportError naming the extra, as attributes and by from-import."""
        out = run_python(
            """
            import mfa_amr.testing

            for name in ("ClaimStoreContract", "ClaimStoreMachine"):
                for attempt in (
                    lambda: getattr(mfa_amr.testing, name),
                    lambda: exec(f"from mfa_amr.testing import {name}"),
                ):
                    try:
                        attempt()
                    except ImportError as exc:
                        print(exc.name, exc)
            """,
            before=WITHOUT_TEST_EXTRA,
        )
        expected = [
            f"pytest mfa_amr.testing.{name} needs pytest and Hypothesis, and pytest "
            "cannot be imported: install the test extra, pip install 'mfa-amr[test]'"
            for name in ("ClaimStoreContract", "ClaimStoreMachine")
            for _ in range(2)
        ]
        assert expected == out.splitlines()

    def test_without_hypothesis_alone_the_message_names_it(self) -> None:
        """With pytest but not Hypothesis, the ImportError names Hypothesis."""
        out = run_python(
            """
            import mfa_amr.testing

            try:
                mfa_amr.testing.ClaimStoreContract
            except ImportError as exc:
                print(exc.name, exc)
            """,
            before="sys.modules['hypothesis'] = None",
        )
        assert out.startswith("hypothesis mfa_amr.testing.ClaimStoreContract needs")
        assert "and hypothesis cannot be imported" in out

    def test_the_demo_runs_without_pytest_or_hypothesis(self) -> None:
        """mfa-amr demo, which uses FakeClock, runs without the test extra."""
        out = run_python(
            """
            from mfa_amr.cli import main

            sys.exit(main(["demo", "--json"]))
            """,
            before=WITHOUT_TEST_EXTRA,
        )
        assert '"token_claims"' in out

    def test_importing_it_imports_neither_pytest_nor_hypothesis(self) -> None:
        """import mfa_amr.testing leaves pytest and Hypothesis unimported until the
        contract or the machine is first used."""
        out = run_python(
            """
            import mfa_amr.testing

            print(sorted(m for m in ("pytest", "hypothesis") if m in sys.modules))
            """
        )
        assert "[]\n" == out

    def test_every_public_name_imports_from_the_package(self) -> None:
        """Each name of __all__ is there, the ones imported on first use included,
        and dir() lists them."""
        assert [
            "START",
            "AsyncRunner",
            "BlockingClaimStore",
            "ClaimStoreContract",
            "ClaimStoreMachine",
            "FakeClock",
        ] == mfa_amr.testing.__all__
        for name in mfa_amr.testing.__all__:
            assert getattr(mfa_amr.testing, name) is not None
            assert name in dir(mfa_amr.testing)

    def test_an_unknown_name_is_an_attribute_error(self) -> None:
        """A name the package does not have raises AttributeError, so hasattr
        works."""
        with pytest.raises(AttributeError, match="'ClaimStoreContrac'"):
            _ = mfa_amr.testing.ClaimStoreContrac  # type: ignore[attr-defined]
        assert not hasattr(mfa_amr.testing, "ClaimStore")


# -- FakeClock ----------------------------------------------------------------------


class TestFakeClock:
    def test_starts_at_start_and_moves_only_when_told(self) -> None:
        """A new clock reads START, again and again."""
        clock = FakeClock()
        assert START == clock() == clock()
        assert timedelta(0) == clock().utcoffset()

    def test_advance_by_seconds_or_timedelta(self) -> None:
        """advance takes seconds (int or float) or a timedelta and returns the new
        instant."""
        clock = FakeClock()
        assert START + timedelta(seconds=90) == clock.advance(90)
        assert START + timedelta(seconds=90.5) == clock.advance(0.5)
        assert START + timedelta(minutes=2, seconds=30.5) == clock.advance(
            timedelta(minutes=1)
        )
        assert START + timedelta(minutes=2, seconds=31.5) == clock.advance()
        assert clock.advance(0) == clock()

    @pytest.mark.parametrize("by", [-1, timedelta(microseconds=-1), "1", True, None])
    def test_advance_refuses_going_back_or_non_numbers(self, by: object) -> None:
        """advance moves forward only, by a number of seconds or a timedelta."""
        clock = FakeClock()
        with pytest.raises(InvalidInputError):
            clock.advance(by)  # type: ignore[arg-type]
        assert START == clock()

    def test_set_jumps_anywhere_and_normalises_to_utc(self) -> None:
        """set accepts any aware datetime, earlier too, and reads back in UTC."""
        clock = FakeClock()
        there = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        clock.set(there)
        assert there == clock()
        assert timedelta(0) == clock().utcoffset()

    @pytest.mark.parametrize("when", [datetime(2026, 1, 1), "2026-01-01", 0])
    def test_set_and_start_refuse_naive_or_non_datetimes(self, when: object) -> None:
        """A naive datetime or a non-datetime is refused."""
        clock = FakeClock()
        with pytest.raises(InvalidClaimError):
            clock.set(when)  # type: ignore[arg-type]
        with pytest.raises(InvalidClaimError):
            FakeClock(when)  # type: ignore[arg-type]
        assert START == clock()

    def test_a_custom_start(self) -> None:
        """FakeClock(start) starts there; its repr shows the instant."""
        clock = FakeClock(START + timedelta(days=1))
        assert START + timedelta(days=1) == clock()
        assert "FakeClock(2026-01-16T09:00:00+00:00)" == repr(clock)
