"""Input checks every store shares, so that every backend refuses the same input
with the same error before anything changes. No driver is imported here."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final, cast

from mfa_amr._errors import InvalidInputError, InvalidMethodError
from mfa_amr._grammar import DEFAULT_SKEW, UTC, to_skew, to_utc, to_uuid
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


STORE_SKEW: Final = timedelta(seconds=DEFAULT_SKEW)
"""How far ahead of a store's clock an ``at`` may lie, unless the store is told
otherwise: :data:`mfa_amr.DEFAULT_SKEW` seconds, as for a policy's ``skew``."""


def check_skew(skew: object) -> timedelta:
    """Return a store's ``skew=`` as a ``timedelta`` (see :func:`~mfa_amr._grammar.to_skew`).

    Raises:
        InvalidInputError: anything else.
    """
    return to_skew(skew, "how far ahead of the store's clock a recorded time may lie")


def not_ahead(at: datetime, clock_now: datetime, skew: timedelta) -> datetime:
    """Return ``at`` unless it lies more than ``skew`` ahead of ``clock_now``.

    A time from the future would stick: ``updated_at`` never moves backwards, so
    one writer whose clock runs ahead would date a claim past every later record
    (and a policy never counts such a claim as fresh).

    Raises:
        InvalidInputError: ``at`` is too far ahead.
    """
    ahead = at - clock_now
    if ahead > skew:
        raise InvalidInputError(
            f"at {at.isoformat()} is {ahead.total_seconds():g} s ahead of the "
            f"store's clock ({clock_now.isoformat()}), more than its allowed skew "
            f"of {skew.total_seconds():g} s: record the time the method was "
            "proved (or leave at out, for the store's clock); if the clock that "
            "gave at is right and the store's own is behind, fix that one, or give "
            "the store a larger skew="
        )
    return at


def record_at(at: object, clock: Clock, skew: timedelta) -> datetime:
    """The time of one ``record``: ``at`` checked against the clock, or the clock
    for ``None``.

    Raises:
        InvalidClaimError: ``at`` is not an aware datetime, or the clock returned
            something else.
        InvalidInputError: ``at`` lies more than ``skew`` ahead of the clock.
    """
    if at is None:
        return now(clock)
    when = to_utc(at, "at")
    return not_ahead(when, now(clock), skew)


def stored_name(value: object) -> str:
    """A method name as a store may hold it, for ``revoke``: any non-empty ``str``
    PostgreSQL can store, since another writer may have stored a name outside the
    syntax (``'TOTP'``, ``'sso:okta'``); a member of ``AuthenticationMethod`` gives
    its value.

    The empty string is refused: no writer records it, and a caller passing it has
    lost the name it meant (a claim named ``''`` still goes with
    ``delete_sessions``).

    Raises:
        InvalidMethodError: not a ``str``, empty, holding NUL (which PostgreSQL
            cannot store), or not encodable as UTF-8.
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str):
        raise InvalidMethodError(
            f"a method name to revoke must be a str, not {type(value).__name__}"
        )
    name = str.__str__(value)  # a plain str, whatever a subclass's __str__ says
    if not name:
        raise InvalidMethodError(
            "the method name to revoke is empty: give the name the claim was stored "
            "under (such as 'mfa/phone'), or remove the session's claims with "
            "delete_sessions"
        )
    if "\x00" in name:
        raise InvalidMethodError(
            f"the method name to revoke holds a NUL character, which no stored name "
            f"can: {name[:80]!r}"
        )
    try:
        name.encode()
    except UnicodeEncodeError as exc:
        raise InvalidMethodError(
            f"the method name to revoke is not encodable as UTF-8: {name[:80]!r}"
        ) from exc
    return name


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
    items: Iterable[RecordItem], policy: Policy, clock: Clock, skew: timedelta
) -> list[tuple[uuid.UUID, str, datetime]]:
    """Every item of ``record_many`` as ``(session, method, at)``, all validated
    before the caller changes anything. ``at`` left out or ``None`` means the clock,
    read once for the whole batch, which every given ``at`` is also checked against.

    Raises:
        InvalidInputError: ``items`` or one item has the wrong shape, or an ``at``
            lies more than ``skew`` ahead of the clock.
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
        when = None if at is None else to_utc(at, "at")
        if clock_now is None:
            clock_now = now(clock)
        if when is None:
            when = clock_now
        else:
            not_ahead(when, clock_now, skew)
        checked.append((sid, name, when))
    return checked
