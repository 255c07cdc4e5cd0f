"""The docs site's griffe extension (tools/griffe_docstrings.py, loaded by
mkdocs.yml) reads the docstrings as Napoleon does: Sphinx roles become
cross-references, a role to nothing is a warning (a failure under
`mkdocs build --strict`), `Example:` is an examples section, and a constant longer
than a line shows no value."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import griffe
import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "griffe_docstrings.py"

PACKAGE = {
    "__init__.py": 'from pkg._core import Thing, helper\n__all__ = ["Thing", "helper"]\n',
    "_core.py": '''
class Thing:
    """See :meth:`use`, :class:`~pkg.Thing`, :func:`the helper <pkg._core.helper>`.

    Example:
        >>> [1]
        [1]
    """

    def use(self) -> None:
        """Use a :class:`Thing`, not a :class:`Nothing`."""


def helper() -> None:
    """Plain text, no roles."""


CATALOG = ("password", "totp", "mfa/phone", "mfa/webauthn", "passkey", "sso/saml", "sso/oidc")
SMALL = 3
''',
}


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("griffe_docstrings", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(caplog: pytest.LogCaptureFixture) -> Iterator[griffe.Module]:
    extension = _tool().NapoleonDocstrings()
    with (
        caplog.at_level(logging.WARNING, logger="griffe"),
        griffe.temporary_visited_package(
            "pkg", PACKAGE, extensions=griffe.load_extensions(extension)
        ) as pkg,
    ):
        yield pkg


def docstring(package: griffe.Module, path: str) -> str:
    value = package[path].docstring
    assert value is not None
    text: str = value.value
    return text


class TestNapoleonDocstrings:
    def test_roles_become_cross_references(self, package: griffe.Module) -> None:
        """A member, a dotted path shortened by ~, and a role with a title each
        become an optional autorefs reference to the full path."""
        assert (
            'See <autoref identifier="pkg._core.Thing.use" optional><code>use</code>'
            '</autoref>, <autoref identifier="pkg.Thing" optional><code>Thing</code>'
            '</autoref>, <autoref identifier="pkg._core.helper" optional><code>the '
            "helper</code></autoref>."
        ) == docstring(package, "_core.Thing").splitlines()[0]

    def test_a_role_to_nothing_is_a_warning(
        self, package: griffe.Module, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A role whose target does not exist stays as code and logs a warning on
        griffe's logger (when the package loads), which a strict build counts."""
        assert (
            'Use a <autoref identifier="pkg._core.Thing" optional><code>Thing</code>'
            "</autoref>, not a `Nothing`."
        ) == docstring(package, "_core.Thing.use")
        assert [
            "pkg._core.Thing.use: the docstring's :class:`Nothing` names nothing "
            "that griffe can find"
        ] == [
            record.getMessage()
            for record in caplog.get_records("setup")
            if record.name.startswith("griffe")
        ]

    def test_an_example_section_is_an_examples_section(
        self, package: griffe.Module
    ) -> None:
        """`Example:` is rewritten `Examples:`, the section griffe reads doctests
        from."""
        assert ["Examples:", "    >>> [1]", "    [1]"] == docstring(
            package, "_core.Thing"
        ).splitlines()[2:]

    def test_a_constant_longer_than_a_line_shows_no_value(
        self, package: griffe.Module
    ) -> None:
        """A long value is left out; a short one stays."""
        assert (None, "3") == (
            package["_core.CATALOG"].value,
            str(package["_core.SMALL"].value),
        )
