"""examples/service's own tests pass, run as its README runs them (`python -m pytest`
in its directory, under its pytest.ini): the service with the in-memory claims
store, and end to end on this suite's PostgreSQL server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

SERVICE = Path(__file__).resolve().parents[1] / "examples" / "service"
# pytest -q's last line when nothing failed or erred.
SUMMARY = re.compile(r"(?P<passed>\d+) passed(?:, (?P<skipped>\d+) skipped)? in \S+")


class TestExampleService:
    def test_its_tests_pass(self, pytestconfig: pytest.Config) -> None:
        """Every test of the example passes, on the database this suite's
        PostgreSQL tests use; its end-to-end test may skip only where this
        suite's PostgreSQL tests may (MFA_AMR_REQUIRE_POSTGRES unset)."""
        dsn = (
            pytestconfig.getoption("--test-dsn")
            or os.environ.get("MFA_AMR_TEST_DSN")
            or "host=127.0.0.1 port=5432 dbname=test"
        )
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q"],
            cwd=SERVICE,
            env={**os.environ, "TEST_DATABASE_URL": str(dsn)},
            capture_output=True,
            text=True,
            check=False,
        )
        output = done.stdout + done.stderr
        assert 0 == done.returncode, output
        summary = SUMMARY.fullmatch(output.strip().splitlines()[-1])
        assert summary is not None, output
        assert 0 < int(summary["passed"])
        if os.environ.get("MFA_AMR_REQUIRE_POSTGRES") == "1":
            assert summary["skipped"] is None, output
