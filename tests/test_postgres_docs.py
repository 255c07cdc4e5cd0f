"""docs/postgres.md: its Python blocks run, in order, against a scratch database."""

from __future__ import annotations

import importlib.util
import os
import re
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


pytestmark = pytest.mark.postgres

DOCS = Path(__file__).resolve().parents[1] / "docs" / "postgres.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def docs_blocks() -> list[str]:
    """The page's Python blocks, padded so that tracebacks give the page's line."""
    text = DOCS.read_text(encoding="utf-8")
    return [
        "\n" * text.count("\n", 0, match.start(1)) + match.group(1)
        for match in _BLOCK.finditer(text)
    ]


class TestDocs:
    """docs/postgres.md shows code that works."""

    def test_the_examples_run(
        self, scratch_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The page's examples run in order, in one namespace, as written."""
        monkeypatch.setenv("DATABASE_URL", scratch_database)
        blocks = docs_blocks()
        assert len(blocks) >= 6
        namespace: dict[str, Any] = {"__name__": "docs_postgres"}
        for code in blocks:
            exec(compile(code, str(DOCS), "exec"), namespace)
