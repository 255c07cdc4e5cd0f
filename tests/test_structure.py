"""The house keeps its shape: no module reaches into another's private names, and no
import hides inside a function (the layers themselves are import-linter's contract
in pyproject.toml, run by .ci/run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mfa_amr"
MODULES = sorted(SRC.rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_here(tree: ast.Module) -> set[str]:
    """Every private name the module itself defines: functions, classes, module and
    class attributes, attributes it assigns (``self._x = ...``), attrs fields."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # object.__setattr__(self, "_x", ...) and attrs' private fields
            names.add(node.value)
    return {name for name in names if _private(name)}


def _reaches(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, what) of each use of a private name defined elsewhere."""
    own = _defined_here(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name):
                    yield node.lineno, f"from {node.module} import {alias.name}"
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr not in own
        ):
            yield node.lineno, f"attribute {node.attr}"


def _imports_in_functions(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of each import of mfa_amr inside a function, but in a module's
    ``__getattr__`` (PEP 562: an optional dependency imported on first use)."""
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if func.name == "__getattr__" and func in tree.body:
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "mfa_amr"
            ):
                yield node.lineno, str(node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mfa_amr"):
                        yield node.lineno, alias.name


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _where(path: Path) -> str:
    return str(path.relative_to(SRC.parent))


class TestPrivateNames:
    @pytest.mark.parametrize("path", MODULES, ids=_where)
    def test_no_module_reaches_into_another_modules_private_names(
        self, path: Path
    ) -> None:
        """A module uses only its own _private names: what two modules share has a
        public name in a home of its own."""
        assert [] == list(_reaches(_tree(path)))

    def test_the_check_sees_a_reach(self) -> None:
        """The check flags a private import and a private attribute of another
        module, and lets a module's own private names pass."""
        tree = ast.parse(
            "from mfa_amr._policy import _level_of\n"
            "from mfa_amr._claims import AMRClaim\n"
            "def f(spec):\n"
            "    return AMRClaim._unchecked(spec._bits)\n"
            "def _own(): ...\n"
            "_own()\n"
        )
        assert {
            (1, "from mfa_amr._policy import _level_of"),
            (4, "attribute _unchecked"),
            (4, "attribute _bits"),
        } == set(_reaches(tree))


class TestImports:
    @pytest.mark.parametrize("path", MODULES, ids=_where)
    def test_no_import_inside_a_function(self, path: Path) -> None:
        """mfa_amr modules import each other at the top: an import inside a function
        (to dodge a cycle) would mean the layers are wrong."""
        assert [] == list(_imports_in_functions(_tree(path)))

    def test_the_check_sees_a_hidden_import(self) -> None:
        """The check flags an import inside a method, and allows a module
        __getattr__."""
        tree = ast.parse(
            "class P:\n"
            "    def evaluate(self):\n"
            "        from mfa_amr._verify import evaluate\n"
            "def __getattr__(name):\n"
            "    from mfa_amr.testing import _contract\n"
        )
        assert [(3, "mfa_amr._verify")] == list(_imports_in_functions(tree))
