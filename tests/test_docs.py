"""The docs hold what the code does: the catalog table, the examples, the errors."""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import re
import runpy
from pathlib import Path

import pytest

from mfa_amr import Factor, exceptions
from mfa_amr._methods import DEFAULT_CATALOG, MethodSpec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

Row = tuple[frozenset[Factor], tuple[str, ...], bool, bool, bool, bool]
HEADER = [
    "method",
    "factors",
    "rfc8176",
    "supabase aal2",
    "multi-factor",
    "hardware-bound",
    "recordable",
]


def _fenced_blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, body, the line before the fence) of each fenced block, in order."""
    blocks = []
    for match in re.finditer(r"(?m)^```(\w*)\n(.*?)^```$", text, re.DOTALL):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        blocks.append((match.group(1), match.group(2), before))
    return blocks


def _yes_no(cell: str, where: str) -> bool:
    assert cell in {"yes", "no"}, f"{where}: {cell!r} is neither 'yes' nor 'no'"
    return cell == "yes"


def _catalog_table() -> dict[str, Row]:
    """The rows of the table under the catalog-table marker in docs/methods.md."""
    text = (DOCS / "methods.md").read_text(encoding="utf-8")
    marker = "<!-- catalog-table"
    assert marker in text, "docs/methods.md lost its catalog-table marker"
    lines = text[text.index(marker) :].splitlines()[1:]
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert HEADER == table[0], "the catalog table's columns changed"
    rows: dict[str, Row] = {}
    for cells in table[2:]:
        method, factors, values, aal2, multi, hardware, recordable = cells
        assert re.fullmatch(r"`[^`]+`", method), f"method cell {method!r}"
        name = method.strip("`")
        assert name not in rows, f"{name} is listed twice"
        where = f"docs/methods.md, row {name}"
        rfc = tuple(v.strip().strip("`") for v in values.split(",") if v.strip())
        rows[name] = (
            frozenset(Factor(f.strip()) for f in factors.split("+")),
            rfc,
            _yes_no(aal2, where),
            _yes_no(multi, where),
            _yes_no(hardware, where),
            _yes_no(recordable, where),
        )
    return rows


def _code_row(spec: MethodSpec) -> Row:
    return (
        spec.factors,
        spec.rfc8176,
        spec.supabase_aal2,
        spec.multi_factor,
        spec.hardware_bound,
        spec.recordable,
    )


class TestCatalogTable:
    def test_doc_rows_are_in_the_code(self) -> None:
        """Every row of docs/methods.md's table is the code's spec, column by column."""
        code = {spec.name: _code_row(spec) for spec in DEFAULT_CATALOG}
        for name, row in _catalog_table().items():
            assert name in code, f"docs/methods.md lists {name!r}; the catalog does not"
            assert code[name] == row, f"docs/methods.md disagrees on {name!r}"

    def test_code_specs_are_in_the_doc(self) -> None:
        """Every spec of DEFAULT_CATALOG has its row in docs/methods.md, equal."""
        doc = _catalog_table()
        for spec in DEFAULT_CATALOG:
            assert spec.name in doc, f"docs/methods.md has no row for {spec.name!r}"
            assert _code_row(spec) == doc[spec.name]

    def test_same_order(self) -> None:
        """The table lists the methods in the catalog's order."""
        assert [s.name for s in DEFAULT_CATALOG] == list(_catalog_table())


def _run_doc(name: str) -> tuple[dict[str, object], int]:
    """Execute the python blocks of a doc in order, in one namespace, and check each
    json block against the ``<!-- result: EXPR -->`` line above it, EXPR evaluated
    at that point. Returns the namespace and the number of json blocks checked."""
    text = (DOCS / name).read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": f"docs.{name}"}
    checked = 0
    for lang, body, before in _fenced_blocks(text):
        if lang == "python":
            exec(compile(body, f"docs/{name}", "exec"), namespace)
        elif lang == "json":
            shown = json.loads(body)
            marker = re.fullmatch(r"<!-- result: (.+) -->", before)
            assert marker is not None, (
                f"docs/{name}: a json block without <!-- result: EXPR --> above it "
                "shows output no test checks"
            )
            produced = eval(marker.group(1), namespace)
            assert shown == json.loads(json.dumps(produced)), (
                f"docs/{name}: the JSON after <!-- result: {marker.group(1)} --> "
                f"is not what the code gives: {json.dumps(produced)}"
            )
            checked += 1
    return namespace, checked


class TestExamples:
    def test_index_examples_run(self) -> None:
        """docs/index.md's python blocks run, and its JSON shows what the code gives."""
        _, checked = _run_doc("index.md")
        assert checked > 0

    def test_methods_examples_run(self) -> None:
        """docs/methods.md's python blocks run."""
        namespace, _ = _run_doc("methods.md")
        assert "security_key" in namespace

    @pytest.mark.parametrize("name", ["index.md", "methods.md"])
    def test_every_json_block_parses(self, name: str) -> None:
        """Every json block in the docs is valid JSON."""
        text = (DOCS / name).read_text(encoding="utf-8")
        for lang, body, _ in _fenced_blocks(text):
            if lang == "json":
                json.loads(body)

    def test_token_claims_example_script(self) -> None:
        """examples/token_claims.py runs and prints both styles under both presets."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(
                str(ROOT / "examples" / "token_claims.py"), run_name="__main__"
            )
        printed = out.getvalue()
        for title in (
            "Policy.supabase(), SUPABASE:",
            "Policy.supabase(), RFC8176:",
            "Policy.nist(), SUPABASE:",
            "Policy.nist(), RFC8176:",
        ):
            assert title in printed
        assert '"method": "totp"' in printed
        assert '"mfa"' in printed


_TREE_LINE = re.compile(
    r"^(?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>\w+)(?: \((?P<builtin>\w+)\))?"
)


def _exception_tree() -> dict[str, tuple[str | None, str | None]]:
    """{class: (documented parent in the tree, documented builtin)} of docs/index.md."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    marker = "<!-- exception-tree"
    assert marker in text, "docs/index.md lost its exception-tree marker"
    _, body, _ = next(
        b for b in _fenced_blocks(text[text.index(marker) :]) if b[0] == "text"
    )
    tree: dict[str, tuple[str | None, str | None]] = {}
    stack: list[str] = []
    for line in body.splitlines():
        match = _TREE_LINE.match(line)
        assert match, f"unreadable line in the exception tree: {line!r}"
        depth = len(match.group("indent")) // 4 + (1 if "── " in line else 0)
        del stack[depth:]
        tree[match.group("name")] = (
            stack[-1] if stack else None,
            match.group("builtin"),
        )
        stack.append(match.group("name"))
    return tree


class TestErrorHierarchy:
    def test_documented_tree_is_the_code(self) -> None:
        """docs/index.md's exception tree names exactly mfa_amr.exceptions' classes,
        each with its real parent and builtin base."""
        tree = _exception_tree()
        assert sorted(exceptions.__all__) == sorted(tree), (
            "docs/index.md's exception tree and mfa_amr.exceptions.__all__ differ"
        )
        for name, (parent, builtin) in tree.items():
            cls = getattr(exceptions, name)
            expected = []
            if parent is not None:
                expected.append(getattr(exceptions, parent))
            if builtin is not None:
                expected.append(getattr(builtins, builtin))
            assert set(expected) == set(cls.__bases__), (
                f"docs/index.md shows {name} under {parent} ({builtin}); "
                f"its bases are {[b.__name__ for b in cls.__bases__]}"
            )

    def test_every_error_is_an_mfa_amr_error(self) -> None:
        """Every class in mfa_amr.exceptions derives from MfaAmrError."""
        for name in exceptions.__all__:
            assert issubclass(getattr(exceptions, name), exceptions.MfaAmrError)


class TestReadme:
    def test_python_blocks_run(self) -> None:
        """README.md's python blocks run in order, except those marked not run."""
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        namespace: dict[str, object] = {"__name__": "README"}
        ran = 0
        for lang, body, before in _fenced_blocks(text):
            if lang == "python" and not before.startswith("<!-- not run"):
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(body, "README.md", "exec"), namespace)
                ran += 1
        assert 3 == ran

    def test_ci_runs_the_readme_test_command(self) -> None:
        """.ci/run takes its test command from README.md's ci-test block, which
        installs the test extra and runs pytest."""
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        block = text.split("<!-- ci-test -->", 1)[1].split("<!-- /ci-test -->", 1)[0]
        command = [line for line in block.splitlines() if line.startswith("python3 ")]
        assert 1 == len(command)
        assert "'.[test]'" in command[0]
        assert command[0].endswith("python -m pytest")
        assert "ci-test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
