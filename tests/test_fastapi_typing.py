"""Applications on mfa_amr.fastapi type-check: mypy --strict and pyright's strict mode
pass, with no ignores, on a sample application (tests/typing/sample_app.py), on the
example service (examples/service) and on the code of docs/fastapi.md; and both
checkers see a misuse of the module, so its signatures are types, not Any.

One run of each checker covers all four."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["tests/typing/sample_app.py", "examples/service"]

# Each line that ends with `# wrong` must be reported by both checkers, and no other.
MISUSE = """\
# pyright: strict
from mfa_amr import Policy
from mfa_amr.fastapi import add_exception_handlers, postgres_lifespan, requires

policy = Policy.supabase()


async def payload() -> dict[str, object]:
    return {}


requires(policy.requirement(aal="aal2"), payload=payload)
requires(policy, payload=payload)  # wrong
requires(policy.requirement(aal="aal2"))  # wrong
add_exception_handlers(object())  # wrong
name: str = requires(policy.requirement(), payload=payload)  # wrong
postgres_lifespan(create_schema="yes")  # wrong
"""


def python_blocks(page: Path) -> Iterator[str]:
    """The page's Python blocks that are code, not doctests, as Sybil reads them."""
    document = Document(page.read_text(encoding="utf-8"), str(page))
    for block in FencedCodeBlockLexer("python")(document):
        source = str(block.lexemes["source"])
        if not source.startswith(">>>"):
            yield source


def wrong_lines(source: str) -> set[int]:
    return {n for n, line in enumerate(source.splitlines(), 1) if "# wrong" in line}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The misuse module and docs/fastapi.md's code as a module, in a directory of
    their own."""
    where = tmp_path_factory.mktemp("typing")
    misuse = where / "misuse.py"
    misuse.write_text(MISUSE, encoding="utf-8")
    page = where / "fastapi_page.py"
    code = "\n\n".join(python_blocks(ROOT / "docs" / "fastapi.md"))
    page.write_text(f"# pyright: strict\n{code}", encoding="utf-8")
    return {"misuse": misuse, "page": page}


def errors_by_file(lines: Iterator[tuple[str, int]]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for path, line in lines:
        found.setdefault(Path(path).name, set()).add(line)
    return found


class TestTyping:
    def test_mypy_strict(self, files: dict[str, Path]) -> None:
        """mypy --strict: no error in the applications, one on each wrong line."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--no-error-summary",
                *CHECKED,
                str(files["page"]),
                str(files["misuse"]),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        errors = re.findall(r"^(.+?\.py):(\d+): error:", done.stdout, re.MULTILINE)
        found = errors_by_file((path, int(line)) for path, line in errors)
        assert {"misuse.py": wrong_lines(MISUSE)} == found, done.stdout + done.stderr

    def test_pyright_strict(self, files: dict[str, Path]) -> None:
        """pyright in strict mode: no error in the applications, one on each wrong
        line."""
        if importlib.util.find_spec("cryptography") is None:
            pytest.fail(
                "PyJWT's key types come from cryptography, and pyright reads them "
                "as unknown without it: install pyjwt[crypto]"
            )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pyright",
                "--outputjson",
                "--pythonpath",
                sys.executable,
                *CHECKED,
                str(files["page"]),
                str(files["misuse"]),
            ],
            cwd=ROOT,
            env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(done.stdout)
        found = errors_by_file(
            (d["file"], d["range"]["start"]["line"] + 1)
            for d in report["generalDiagnostics"]
            if d["severity"] == "error"
        )
        assert {"misuse.py": wrong_lines(MISUSE)} == found, json.dumps(
            report["generalDiagnostics"], indent=1
        )
        assert 0 < report["summary"]["filesAnalyzed"]
