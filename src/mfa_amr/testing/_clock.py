"""``FakeClock``: a clock that moves only when told to.

Public as :class:`mfa_amr.testing.FakeClock`. It needs neither pytest nor Hypothesis,
so that ``mfa-amr demo`` and an application's own tests can use it on an install
without the ``test`` extra.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final

from mfa_amr._grammar import UTC, to_utc
from mfa_amr.exceptions import InvalidInputError

__all__ = ["START", "FakeClock"]

START: Final = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
"""Where a :class:`FakeClock` starts unless told otherwise: 2026-01-15 09:00 UTC."""


class FakeClock:
    """A clock for tests: a callable returning an aware UTC datetime that moves only
    when told to.

    Pass it as a store's ``clock=``; ``advance`` and ``set`` are safe to call from
    several threads.

    Example:
        >>> from datetime import timedelta
        >>> clock = FakeClock()
        >>> clock().isoformat()
        '2026-01-15T09:00:00+00:00'
        >>> clock.advance(90).isoformat()
        '2026-01-15T09:01:30+00:00'
        >>> clock.advance(timedelta(hours=1)).isoformat()
        '2026-01-15T10:01:30+00:00'

    Args:
        start: the first instant, an aware datetime (default :data:`START`).

    Raises:
        InvalidClaimError: ``start`` is naive or not a datetime.
    """

    def __init__(self, start: datetime = START) -> None:
        self._now = to_utc(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta | float = 1) -> datetime:
        """Move forward by ``by`` (a ``timedelta``, or seconds) and return the new
        instant.

        Raises:
            InvalidInputError: ``by`` is negative or not a number of seconds; move a
                clock backwards with :meth:`set`.
        """
        if isinstance(by, timedelta):
            step = by
        elif isinstance(by, (int, float)) and not isinstance(by, bool):
            step = timedelta(seconds=by)
        else:
            raise InvalidInputError(
                f"advance takes a timedelta or seconds, got {type(by).__name__}"
            )
        if step < timedelta(0):
            raise InvalidInputError(
                f"advance moves forward only, got {by!r}: use set() to go back"
            )
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, an aware datetime, forward or backward.

        Raises:
            InvalidClaimError: ``when`` is naive or not a datetime.
        """
        instant = to_utc(when, "when")
        with self._lock:
            self._now = instant

    def __repr__(self) -> str:
        return f"FakeClock({self().isoformat()})"
