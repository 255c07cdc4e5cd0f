"""What every command shares: where its output goes, in text or JSON, and how times,
tables and failures are written."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TextIO, overload

import attrs

from mfa_amr._grammar import EPOCH, MAX_TIMESTAMP
from mfa_amr.exceptions import InvalidInputError

__all__ = [
    "CommandError",
    "Output",
    "current_instant",
    "iso",
    "judged_at",
    "parse_instant",
    "plural",
    "table",
]

USAGE_ERROR: Final = 2
"""The exit status of a command that could not run: a usage error, bad input, an
unreachable database, a malformed token."""


class CommandError(Exception):
    """A command could not do what it was asked; the message says why, in one
    line, and is all the user sees (no traceback)."""


@attrs.frozen
class Output:
    """Where a command writes: its result on ``stdout`` (text, or one JSON document
    with ``--json``), warnings and errors on ``stderr``."""

    json: bool
    stdout: TextIO = attrs.field(factory=lambda: sys.stdout)
    stderr: TextIO = attrs.field(factory=lambda: sys.stderr)

    def document(self, value: object) -> None:
        """Write ``value`` as the command's one JSON document."""
        self.stdout.write(json.dumps(value, indent=2) + "\n")

    def line(self, text: str = "") -> None:
        """Write a line of the text result."""
        self.stdout.write(text + "\n")

    def warn(self, text: str) -> None:
        """Write a warning, in text and JSON modes alike, where scripts do not
        read it."""
        self.stderr.write(f"mfa-amr: warning: {text}\n")


def current_instant() -> datetime:
    """Now, in whole seconds: the precision at which tokens carry times and at which
    every command judges and shows them."""
    return datetime.now(UTC).replace(microsecond=0)


@overload
def iso(value: datetime | int) -> str: ...


@overload
def iso(value: None) -> None: ...


@overload
def iso(value: datetime | int | None) -> str | None: ...


def iso(value: datetime | int | None) -> str | None:
    """A UTC instant (or Unix seconds) as ISO 8601 with ``Z``; ``None`` stays."""
    if value is None:
        return None
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plural(count: int, noun: str) -> str:
    """``1 claim``, ``2 claims``, ``0 claims``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns with a rule under the header; ``(none)`` without rows."""
    if not rows:
        return ["(none)"]
    cells = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


_AGO: Final = re.compile(r"([0-9]{1,6})([dhm])")
_UNITS: Final = {"d": "days", "h": "hours", "m": "minutes"}
_LATEST: Final = datetime.fromtimestamp(MAX_TIMESTAMP, UTC)


def parse_instant(text: str, *, now: datetime, what: str) -> datetime:
    """An instant given on the command line: Unix seconds, an ISO 8601 date or
    datetime (UTC unless it says otherwise), or a span before ``now`` (``90d``,
    ``12h``, ``30m``), from 1970 to the end of year 9999.

    Raises:
        InvalidInputError: anything else, naming ``what``.
    """
    span = _AGO.fullmatch(text)
    value: datetime | None = None
    try:
        if span is not None:
            value = now - timedelta(**{_UNITS[span[2]]: int(span[1])})
        elif text.isascii() and text.isdigit():
            value = EPOCH + timedelta(seconds=int(text))
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC)
    except ValueError:
        raise InvalidInputError(
            f"{what} must be Unix seconds, an ISO 8601 date or datetime "
            f"(2026-09-01, 2026-09-01T12:00:00Z) or a span ago such as 90d, 12h or "
            f"30m; got {text!r}"
        ) from None
    except OverflowError:  # a span or seconds past what a datetime can hold
        value = None
    if value is None or not EPOCH <= value <= _LATEST:
        raise InvalidInputError(
            f"{what} must lie between 1970-01-01T00:00:00Z and "
            f"{iso(_LATEST)}; got {text!r}"
        )
    return value


def judged_at(args: argparse.Namespace) -> datetime:
    """The instant ``--now`` gives, else the current one, in whole seconds.

    Raises:
        InvalidInputError: ``--now`` names no usable instant.
    """
    now = current_instant()
    if args.now is None:
        return now
    # Floored, as a judgement counts whole Unix seconds: the instant shown is the
    # one judged.
    return parse_instant(args.now, now=now, what="--now").replace(microsecond=0)
