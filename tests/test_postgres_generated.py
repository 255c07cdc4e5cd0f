"""mfa_amr.stores._pg_sync, generated from mfa_amr.stores._pg_async by
tools/async_to_sync.py: the two stores pair up name for name, signature for
signature and docstring for docstring, and the generated file is up to date.
Runs without a server."""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

if (
    importlib.util.find_spec("psycopg") is None
    and os.environ.get("MFA_AMR_REQUIRE_POSTGRES") != "1"
):
    pytest.skip(
        "psycopg is not installed: pip install '.[test]'", allow_module_level=True
    )

from mfa_amr.stores.postgres import AsyncPostgresClaimStore, PostgresClaimStore

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "async_to_sync.py"

# What each store's operations do; the rest (schema_sql, the properties, __init__,
# __repr__) is the same plain code in both.
AWAITED = {
    "connect",
    "close",
    "__aenter__",
    "__aexit__",
    "create_schema",
    "record",
    "record_many",
    "revoke",
    "revoke_everywhere",
    "delete_sessions",
    "purge",
    "claims",
    "claims_many",
    "get",
}


def load_tool() -> ModuleType:
    """tools/async_to_sync.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("async_to_sync", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL_MODULE = load_tool()
unasync: Callable[[str], str] = TOOL_MODULE.unasync


def members(cls: type) -> dict[str, Any]:
    """The class's public methods and properties, with the dunders it defines
    (constructor, repr, context manager)."""
    return {
        name: value
        for name, value in vars(cls).items()
        if not name.startswith("_") or (name.startswith("__") and callable(value))
    }


def described(cls: type, name: str) -> tuple[str, str | None]:
    """A member's signature (a property's getter's) and docstring, as text."""
    static = vars(cls)[name]
    if isinstance(static, property):
        assert static.fget is not None
        return str(inspect.signature(static.fget)), static.__doc__
    return str(inspect.signature(getattr(cls, name))), static.__doc__


class TestPairing:
    """PostgresClaimStore is AsyncPostgresClaimStore with async and await removed
    and the async names renamed, so the two cannot drift."""

    def test_the_same_public_names(self) -> None:
        """Every public method, property and dunder of the async store has a
        synchronous counterpart of the renamed name, and no other is added."""
        assert sorted(unasync(n) for n in members(AsyncPostgresClaimStore)) == sorted(
            members(PostgresClaimStore)
        )

    def test_both_classes_stand_alone(self) -> None:
        """Neither store inherits anything but object's, so comparing what each
        defines compares everything they offer."""
        assert (PostgresClaimStore, object) == PostgresClaimStore.__mro__
        assert (AsyncPostgresClaimStore, object) == AsyncPostgresClaimStore.__mro__

    def test_the_class_docstrings_pair_up(self) -> None:
        """The sync class's docstring is the async one's, renamed."""
        assert AsyncPostgresClaimStore.__doc__ is not None
        assert unasync(AsyncPostgresClaimStore.__doc__) == PostgresClaimStore.__doc__

    @pytest.mark.parametrize("name", sorted(members(AsyncPostgresClaimStore)))
    def test_each_member_pairs_up(self, name: str) -> None:
        """Each member's signature and docstring in the sync store are the async
        store's, renamed."""
        signature, doc = described(AsyncPostgresClaimStore, name)
        assert (unasync(signature), doc and unasync(doc)) == described(
            PostgresClaimStore, unasync(name)
        )

    def test_only_the_async_store_awaits(self) -> None:
        """The async store's operations, lifecycle and context manager are
        coroutine functions; nothing in the sync store is."""

        def coroutines(cls: type) -> set[str]:
            return {
                name
                for name in members(cls)
                if inspect.iscoroutinefunction(getattr(cls, name))
            }

        assert AWAITED == coroutines(AsyncPostgresClaimStore)
        assert set() == coroutines(PostgresClaimStore)


class TestGenerated:
    """src/mfa_amr/stores/_pg_sync.py is what the script writes from the source."""

    def test_the_generated_file_is_up_to_date(self) -> None:
        """Generating again from _pg_async.py gives the committed _pg_sync.py
        exactly (run `python tools/async_to_sync.py` after changing the source)."""
        expected: str = TOOL_MODULE.generate()
        committed = (ROOT / TOOL_MODULE.TARGET).read_text(encoding="utf-8")
        assert expected == committed

    def test_the_generated_file_says_so(self) -> None:
        """The generated file opens with a header naming its source and the script,
        and asking not to be edited."""
        committed = (ROOT / TOOL_MODULE.TARGET).read_text(encoding="utf-8")
        assert committed.startswith(
            "# Generated from src/mfa_amr/stores/_pg_async.py by "
            "tools/async_to_sync.py.\n# DO NOT CHANGE"
        )


class TestScript:
    """tools/async_to_sync.py: the renaming, its refusals, and --check."""

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("async def f(self) -> None:", "def f(self) -> None:"),
            (
                "    async with self._connection() as conn:",
                "    with self._connection() as conn:",
            ),
            ("async for row in cur:", "for row in cur:"),
            ("return await self._run(call)", "return self._run(call)"),
            ("x: AsyncConnectionPool[Any]", "x: ConnectionPool[Any]"),
            ("psycopg.AsyncConnection[Any]", "psycopg.Connection[Any]"),
            (
                "``async with await X.connect(dsn) as s:``",
                "``with X.connect(dsn) as s:``",
            ),
            ("async def __aenter__(self)", "def __enter__(self)"),
            ("import asyncio", "import threading"),
            ("self._turn = asyncio.Lock()", "self._turn = threading.Lock()"),
            (
                "MyAsyncConnectionPool asyncio awaited",
                "MyAsyncConnectionPool asyncio awaited",
            ),
        ],
    )
    def test_renaming(self, source: str, expected: str) -> None:
        """Keywords go and known names are renamed as whole words, in code and in
        prose; anything else is left as it is."""
        assert expected == unasync(source)

    def copy(self, tmp_path: Path) -> Path:
        """The script, its source and the ruff configuration, in a tree of their own
        under ``tmp_path``, with the package markers that make ruff sort mfa_amr as
        first-party."""
        for name in ("tools/async_to_sync.py", TOOL_MODULE.SOURCE, "pyproject.toml"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, tmp_path / name)
        for package in ("src/mfa_amr", "src/mfa_amr/stores"):
            (tmp_path / package / "__init__.py").touch()
        return tmp_path

    def script(self, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the copy of the script under ``root`` with this interpreter."""
        return subprocess.run(
            [sys.executable, str(root / "tools" / "async_to_sync.py"), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def test_check_fails_in_one_line_on_a_stale_file(self, tmp_path: Path) -> None:
        """--check exits 1 with a one-line message when the generated file is
        missing or differs, writes nothing, and exits 0 once the script wrote it."""
        root = self.copy(tmp_path)
        target = root / TOOL_MODULE.TARGET
        missing = self.script(root, "--check")
        assert (1, "") == (missing.returncode, missing.stdout)
        assert 1 == len(missing.stderr.splitlines())
        assert "run `python tools/async_to_sync.py`" in missing.stderr
        assert not target.exists()
        assert 0 == self.script(root).returncode
        target.write_text(target.read_text(encoding="utf-8") + "# edited\n")
        edited = self.script(root, "--check")
        assert (1, 1) == (edited.returncode, len(edited.stderr.splitlines()))
        assert 0 == self.script(root).returncode
        assert 0 == self.script(root, "--check").returncode
        assert (ROOT / TOOL_MODULE.TARGET).read_text(
            encoding="utf-8"
        ) == target.read_text(encoding="utf-8")

    def test_asynchronous_code_left_over_is_refused(self, tmp_path: Path) -> None:
        """A source using an async name the script does not know, or asyncio beyond
        its lock, is refused naming the line, and nothing is written."""
        root = self.copy(tmp_path)
        source = root / TOOL_MODULE.SOURCE
        source.write_text(
            source.read_text(encoding="utf-8") + "\nasyncio.sleep(0)\n",
            encoding="utf-8",
        )
        refused = self.script(root)
        assert 2 == refused.returncode
        assert "'asyncio'" in refused.stderr
        assert (
            f"line {len(source.read_text(encoding='utf-8').splitlines())}"
            in refused.stderr
        )
        assert not (root / TOOL_MODULE.TARGET).exists()
