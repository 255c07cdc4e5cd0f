"""Write the synchronous PostgreSQL store from its asyncio source.

``src/mfa_amr/stores/_pg_async.py`` is the one source of both PostgreSQL stores. This
script writes ``src/mfa_amr/stores/_pg_sync.py`` from it:

- ``async def``, ``async with`` and ``async for`` lose their ``async``, and ``await``
  goes;
- each name in ``RENAMES`` becomes its synchronous counterpart, as a whole word, in
  the code, the strings and the comments alike, so that the docstrings follow;
- a header says that the file is generated and must not be edited;
- ruff sorts the imports (a rename can change their order) and formats the result
  (a line that lost an ``await`` may now fit on one line).

It refuses to write a file that would still hold asynchronous code (an ``await``, a
name with ``Async`` in it that ``RENAMES`` does not know, ...): add the rename, or
write the source without it. Ruff is looked for next to the running interpreter,
then on ``PATH``.

Usage::

    python tools/async_to_sync.py          # write the generated file
    python tools/async_to_sync.py --check  # exit 1 if it differs from what would be written
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "src/mfa_amr/stores/_pg_async.py"
TARGET = "src/mfa_amr/stores/_pg_sync.py"

RENAMES: dict[str, str] = {
    "AbstractAsyncContextManager": "AbstractContextManager",
    "AsyncClaimStore": "ClaimStore",
    "AsyncConnection": "Connection",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncCursor": "Cursor",
    "AsyncIterator": "Iterator",
    "AsyncPostgresClaimStore": "PostgresClaimStore",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "asynccontextmanager": "contextmanager",
    # The one lock of the source: asyncio's, for tasks, becomes threading's.
    "asyncio.Lock": "threading.Lock",
    "import asyncio": "import threading",
}
"""Every asynchronous name the source uses, and the synchronous name it becomes."""

HEADER = f"""\
# Generated from {SOURCE} by tools/async_to_sync.py.
# DO NOT CHANGE: edit the source, then run `python tools/async_to_sync.py`.
"""

# Blanks within a line only: a keyword ending a line of prose would otherwise pull up
# the next line. Such a keyword is then left, and refused below.
_KEYWORDS = re.compile(r"\basync[ \t]+(?=(?:def|with|for)\b)|\bawait[ \t]+")
_NAMES = re.compile(
    r"\b(?:" + "|".join(re.escape(name) for name in sorted(RENAMES)) + r")\b"
)
_ASYNC_LEFT = re.compile(
    r"\b(?:async|await|asyncio|asynccontextmanager|__a(?:enter|exit|iter|next)__|\w*Async[A-Z]\w*)\b"
)


class GenerationError(Exception):
    """The generated file cannot be written; the message says why."""


def unasync(text: str) -> str:
    """``text`` with the asynchronous keywords removed and ``RENAMES`` applied."""
    text = _KEYWORDS.sub("", text)
    return _NAMES.sub(lambda match: RENAMES[match[0]], text)


def _refuse_leftovers(text: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        found = _ASYNC_LEFT.search(line)
        if found:
            raise GenerationError(
                f"{SOURCE}: line {number} would keep {found[0]!r} in {TARGET}: add "
                "the name to RENAMES in tools/async_to_sync.py, or write the source "
                "without it"
            )


def _ruff() -> str:
    """The ruff next to the running interpreter (a virtualenv's), else on PATH."""
    for name in ("ruff", "ruff.exe"):
        beside = Path(sys.executable).parent / name
        if beside.is_file():
            return str(beside)
    found = shutil.which("ruff")
    if found is None:
        raise GenerationError(
            f"ruff is neither next to {sys.executable} nor on PATH: pip install ruff"
        )
    return found


def _through_ruff(ruff: str, arguments: Sequence[str], text: str) -> str:
    done = subprocess.run(
        [ruff, *arguments, "--stdin-filename", TARGET, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise GenerationError(
            f"ruff {' '.join(arguments)} failed on the generated {TARGET}:\n"
            f"{done.stderr.strip()}"
        )
    return done.stdout


def generate() -> str:
    """The text of the generated file, from the source as it is now.

    Raises:
        GenerationError: the source keeps asynchronous code the script cannot
            translate, or ruff is missing or fails.
    """
    body = unasync((ROOT / SOURCE).read_text(encoding="utf-8"))
    _refuse_leftovers(body)
    ruff = _ruff()
    text = _through_ruff(ruff, ["check", "--fix-only", "--select", "I"], HEADER + body)
    return _through_ruff(ruff, ["format"], text)


def main(argv: Sequence[str] | None = None) -> int:
    """Write or check the generated file; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing; exit 1 if {TARGET} differs from what would be written",
    )
    args = parser.parse_args(argv)
    try:
        expected = generate()
    except GenerationError as exc:
        print(f"async_to_sync: {exc}", file=sys.stderr)
        return 2
    target = ROOT / TARGET
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if args.check:
        if current != expected:
            print(
                f"{TARGET} is not what tools/async_to_sync.py generates from "
                f"{SOURCE}: run `python tools/async_to_sync.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != expected:
        with target.open("w", encoding="utf-8", newline="\n") as out:
            out.write(expected)
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
