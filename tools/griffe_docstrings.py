"""A griffe extension for the docs site's API reference (mkdocs.yml): it has griffe
read mfa-amr's docstrings as Sphinx's Napoleon reads them, without changing them.

- Sphinx roles (``:class:`~mfa_amr.Policy```), which mkdocstrings does not read,
  become autorefs cross-references: a link when the target is in the reference, its
  name in code when the target is private and not rendered. A role whose target
  names nothing is a warning, so ``mkdocs build --strict`` fails on it as on a
  broken link.
- An ``Example:`` section is read as ``Examples:``, its doctests as code (griffe
  knows only the plural; read as prose, a doctest's output such as ``['password']``
  would be a Markdown link to nothing).

It also leaves out the value of a constant longer than a line (``DEFAULT_CATALOG``):
its docstring says what it is, and its source, rendered, would be a page of private
names.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:class|meth|func|attr|mod|data|exc|obj):`(?P<short>~)?"
    r"(?:(?P<title>[^`<]+?)\s*<(?P<target>[^`>]+)>|(?P<name>[^`]+))`"
)


LINE = 80
EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)


class NapoleonDocstrings(griffe.Extension):
    """Rewrite every docstring's Sphinx roles and ``Example:`` sections."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if isinstance(obj, griffe.Attribute) and len(str(obj.value or "")) > LINE:
            obj.value = None
        docstring = obj.docstring
        if docstring is None:
            return
        value = EXAMPLE.sub(r"\g<indent>Examples:", docstring.value)
        if ":`" in value:
            value = ROLE.sub(lambda m: _reference(obj, m), value)
        docstring.value = value


def _reference(obj: griffe.Object, match: re.Match[str]) -> str:
    target = match["target"] or match["name"]
    title = match["title"] or (target.rpartition(".")[2] if match["short"] else target)
    path = _resolve(obj, target)
    if path is None:
        griffe.logger.warning(
            "%s: the docstring's %s names nothing that griffe can find",
            obj.path,
            match[0],
        )
        return f"`{title}`"
    return (
        f'<autoref identifier="{html.escape(path)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The full path of ``target``, as written in ``obj``'s docstring: a dotted path
    from the package, or a name in the object's scope (a member, or a name its
    module defines or imports), with attributes after it."""
    collection = obj.modules_collection
    try:
        collection[target]
    except KeyError:
        pass
    else:
        return target
    first, _, rest = target.partition(".")
    try:
        path = obj.resolve(first)
    except griffe.NameResolutionError:
        return None
    full = f"{path}.{rest}" if rest else path
    try:
        collection[full]
    except KeyError:
        return None
    return full
