"""docs/asyncio.md: its Python blocks run, in order, against a scratch database; the
framework block compiles; the backend test module passes under pytest."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

import psycopg

DOCS = Path(__file__).resolve().parents[1] / "docs" / "asyncio.md"
_FENCE = re.compile(r"(?m)^```python\n(.*?)^```$", re.DOTALL)


def docs_blocks() -> list[tuple[str, str]]:
    """(the line before the fence, the code padded so that tracebacks give the
    page's line) of each Python block, in order."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        code = "\n" * text.count("\n", 0, match.start(1)) + match.group(1)
        blocks.append((before, code))
    return blocks


def _kind(before: str) -> str:
    if before.startswith("<!-- not run"):
        return "not run"
    if before == "<!-- test module -->":
        return "test module"
    return "example"


class TestDocs:
    """docs/asyncio.md shows code that works."""

    @pytest.mark.postgres
    def test_the_examples_run(
        self, scratch_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The page's examples run in order, in one namespace, as written, and
        leave no connection open."""
        monkeypatch.setenv("DATABASE_URL", scratch_database)
        examples = [
            code for before, code in docs_blocks() if _kind(before) == "example"
        ]
        assert len(examples) >= 4
        namespace: dict[str, Any] = {"__name__": "docs_asyncio"}
        for code in examples:
            exec(compile(code, str(DOCS), "exec"), namespace)
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert (0,) == others

    def test_the_framework_block_compiles(self) -> None:
        """The blocks not run (FastAPI) are valid Python, with the handler."""
        skipped = [code for before, code in docs_blocks() if _kind(before) == "not run"]
        assert 1 == len(skipped)
        for code in skipped:
            compile(code, str(DOCS), "exec")
        assert "await sign_in(store, user.id)" in skipped[0]

    def test_the_backend_test_module_passes(self, tmp_path: Path) -> None:
        """The complete async backend test module passes under pytest."""
        [module] = [
            code for before, code in docs_blocks() if _kind(before) == "test module"
        ]
        (tmp_path / "test_my_async_store.py").write_text(
            module.lstrip(), encoding="utf-8"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-W",
                "error",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert 0 == done.returncode, done.stdout + done.stderr
        passed = re.search(r"(\d+) passed", done.stdout)
        assert passed is not None, done.stdout
        assert int(passed.group(1)) > 80  # the contract's tests and the machine
