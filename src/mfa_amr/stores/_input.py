"""Input checks every store shares, so that every backend refuses the same input
with the same error before anything changes. No driver is imported here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from mfa_amr._errors import InvalidInputError
from mfa_amr._grammar import UTC, to_utc, to_uuid
from mfa_amr._policy import Policy
from mfa_amr.stores._protocol import Clock, RecordItem, SessionIdLike


def utc_now() -> datetime:
    """The real current time, in UTC: the stores' default clock."""
    return datetime.now(UTC)


def check_clock(clock: object) -> Clock:
    """Return ``clock``, or :func:`utc_now` for ``None``.

    Raises:
        InvalidInputError: not callable.
    """
    if clock is None:
        return utc_now
    if not callable(clock):
        raise InvalidInputError(
            f"clock must be a callable returning an aware datetime, got {clock!r}"
        )
    return cast("Clock", clock)


def check_policy(policy: object) -> Policy:
    """Return ``policy``, or ``Policy.supabase()`` for ``None``.

    Raises:
        InvalidInputError: not a :class:`~mfa_amr.Policy`.
    """
    if policy is None:
        return Policy.supabase()
    if not isinstance(policy, Policy):
        raise InvalidInputError(
            f"policy must be a mfa_amr.Policy, got {type(policy).__name__}"
        )
    return policy


def now(clock: Clock) -> datetime:
    """Read ``clock`` as an aware UTC datetime.

    Raises:
        InvalidClaimError: the clock returned something else.
    """
    return to_utc(clock(), "the store's clock")


def session_ids(values: Iterable[SessionIdLike], what: str) -> list[uuid.UUID]:
    """The distinct session ids of an iterable argument, in order, all validated;
    one id given where an iterable is expected is refused rather than iterated.

    Raises:
        InvalidInputError: ``values`` is a single id or not iterable.
        InvalidClaimError: an element is not a UUID.
    """
    if isinstance(values, (str, bytes, uuid.UUID)):
        raise InvalidInputError(
            f"{what} takes an iterable of session ids, got a single "
            f"{type(values).__name__}: wrap it in a list"
        )
    try:
        items = list(values)
    except TypeError as exc:
        raise InvalidInputError(
            f"{what} takes an iterable of session ids, got {type(values).__name__}"
        ) from exc
    return list(dict.fromkeys(to_uuid(v, "session_id") for v in items))


def record_items(
    items: Iterable[RecordItem], policy: Policy, clock: Clock
) -> list[tuple[uuid.UUID, str, datetime]]:
    """Every item of ``record_many`` as ``(session, method, at)``, all validated
    before the caller changes anything. ``at`` left out or ``None`` means the clock,
    read once for the whole batch.

    Raises:
        InvalidInputError: ``items`` or one item has the wrong shape.
        InvalidClaimError, InvalidMethodError, UnrecordableMethodError: as
            ``record``, naming the offending value.
    """
    given: object = items  # typed as the protocol says, checked as anything
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise InvalidInputError(
            "record_many takes an iterable of (session_id, method[, at]) tuples, "
            f"got {type(items).__name__}"
        )
    clock_now: datetime | None = None
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise InvalidInputError(
                f"record_many item {index} must be a tuple (session_id, method) "
                f"or (session_id, method, at), got {item!r}"
            )
        sid = to_uuid(item[0], "session_id")
        name = policy.check_recordable(item[1])
        at = item[2] if len(item) == 3 else None
        if at is None:
            if clock_now is None:
                clock_now = now(clock)
            when = clock_now
        else:
            when = to_utc(at, "at")
        checked.append((sid, name, when))
    return checked
