"""The docs hold what the code does: the catalog table, the exception tree, the
README's commands, only public names. Their examples run as tests through Sybil
(conftest.py); these tests check what is not an example."""

from __future__ import annotations

import builtins
import contextlib
import io
import re
import runpy
import tomllib
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from mfa_amr import DEFAULT_CATALOG, Factor, MethodSpec, exceptions

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

Row = tuple[frozenset[Factor], tuple[str, ...], bool, bool, bool, bool, bool]
HEADER = [
    "method",
    "factors",
    "rfc8176",
    "supabase aal2",
    "multi-factor",
    "phishing-resistant",
    "hardware-bound",
    "recordable",
]


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
        method, factors, values, aal2, multi, phishing, hardware, recordable = cells
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
            _yes_no(phishing, where),
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
        spec.phishing_resistant,
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


class TestExamples:
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


def _block_after(page: Path, marker: str, language: str) -> str:
    """The source of the first ``language`` block after ``marker`` in ``page``, as
    Sybil's Markdown lexer reads it."""
    text = page.read_text(encoding="utf-8")
    assert marker in text, f"{page.name} lost its {marker} marker"
    after = text.index(marker)
    document = Document(text, str(page))
    return next(
        str(block.lexemes["source"])
        for block in FencedCodeBlockLexer(language)(document)
        if block.start > after
    )


_TREE_LINE = re.compile(
    r"^(?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>\w+)(?: \((?P<builtin>\w+)\))?"
)


def _exception_tree() -> dict[str, tuple[str | None, str | None]]:
    """{class: (documented parent in the tree, documented builtin)} of docs/index.md."""
    body = _block_after(DOCS / "index.md", "<!-- exception-tree", "text")
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
        """docs/index.md's exception tree is mfa_amr.exceptions: classes and bases."""
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


README = ROOT / "README.md"
DEMO_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/mfa-amr demo"
)
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q '.[test]' "
    "&& .venv/bin/python -m pytest"
)


class TestReadme:
    def test_says_what_it_is_then_how_to_run_it(self) -> None:
        """README.md opens with what the library is, then the demo and test commands."""
        text = README.read_text(encoding="utf-8")
        title, intro = text.split("\n\n", 2)[:2]
        assert title.startswith("# ")
        assert "`amr`" in intro
        assert not intro.startswith(("`", "<", "#"))
        commands = [line for line in text.splitlines() if line.startswith("python3 ")]
        assert [DEMO_COMMAND, TEST_COMMAND] == commands[:2]
        assert text.index(intro) < text.index(DEMO_COMMAND) < text.index("## ")

    def test_ci_runs_the_readme_test_command(self) -> None:
        """README.md's ci-test block holds the test command that .ci/run runs."""
        text = README.read_text(encoding="utf-8")
        block = text.split("<!-- ci-test -->", 1)[1].split("<!-- /ci-test -->", 1)[0]
        command = [line for line in block.splitlines() if line.startswith("python3 ")]
        assert [TEST_COMMAND] == command
        assert "ci-test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    def test_the_test_command_collects_the_docs(self) -> None:
        """`python -m pytest` from the root collects the docs' examples too."""
        config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        testpaths = config["tool"]["pytest"]["ini_options"]["testpaths"]
        assert {"tests", "README.md", "docs", "src"} <= set(testpaths)


# A module path or attribute of mfa_amr that starts with "_" (mfa_amr._methods,
# mfa_amr/stores/_sql.py), or a private attribute of a class (AMRClaim._unchecked).
_PRIVATE_NAME = re.compile(r"\bmfa_amr(?:[./]\w+)*[./]_(?!_)\w*|\b[A-Z]\w*\._(?!_)\w+")


class TestPublicNames:
    @pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
    def test_no_private_names(self, page: Path) -> None:
        """A page names only public modules and attributes."""
        text = page.read_text(encoding="utf-8")
        found = [
            f"line {text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
            for match in _PRIVATE_NAME.finditer(text)
        ]
        assert [] == found

    @pytest.mark.parametrize(
        "text",
        [
            "mfa_amr._methods.DEFAULT_CATALOG",
            "`mfa_amr.stores._sql`",
            "src/mfa_amr/stores/_sql.py",
            "from mfa_amr._claims import AMRClaim",
            "AMRClaim._unchecked",
        ],
    )
    def test_the_check_sees_private_names(self, text: str) -> None:
        """The pattern finds each way a page could name a private path."""
        assert _PRIVATE_NAME.search(text)

    @pytest.mark.parametrize(
        "text",
        ["mfa_amr.DEFAULT_CATALOG", "mfa_amr.stores.postgres", "AMRClaim.__dict__"],
    )
    def test_the_check_passes_public_names(self, text: str) -> None:
        """Public paths and dunder attributes are not private names."""
        assert _PRIVATE_NAME.search(text) is None
