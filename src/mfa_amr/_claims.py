"""Frozen value objects: one row of the table (:class:`AMRClaim`), one element of
an ``amr`` claim (:class:`AMREntry`), and the two shapes of that claim
(:class:`AmrStyle`)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import attrs

from mfa_amr._errors import InvalidClaimError, InvalidInputError
from mfa_amr._grammar import (
    provider_or_none,
    provider_problem,
    timestamp_problem,
    to_utc,
    to_uuid,
    validate_method,
)

__all__ = [
    "AMRClaim",
    "AMREntry",
    "AmrStyle",
    "check_timestamp",
    "claim_from_row",
    "entry_from_claim",
    "to_provider",
    "to_style",
]


class AmrStyle(enum.StrEnum):
    """The two shapes of a token's ``amr`` claim; each member equals its string
    (``AmrStyle.RFC8176 == "rfc8176"``), and every function that takes a style
    takes the string too."""

    SUPABASE = "supabase"
    """Objects ``{"method", "timestamp"[, "provider"]}``, as Supabase Auth issues."""
    RFC8176 = "rfc8176"
    """Strings from the RFC 8176 registry, as OpenID Connect expects."""


_STYLES: dict[object, AmrStyle] = {
    **{style: style for style in AmrStyle},
    **{style.value: style for style in AmrStyle},
}


def to_style(value: object) -> AmrStyle:
    """Return ``value`` as an :class:`AmrStyle`; accepts a member or its string.

    Raises:
        InvalidInputError: anything else.
    """
    try:
        return _STYLES[value]
    except (KeyError, TypeError):
        raise InvalidInputError(
            f"style must be 'supabase' or 'rfc8176' (an AmrStyle), got {value!r}"
        ) from None


def _id(value: object) -> uuid.UUID:
    return to_uuid(value, "id")


def _session_id(value: object) -> uuid.UUID:
    return to_uuid(value, "session_id")


def _created_at(value: object) -> datetime:
    return to_utc(value, "created_at")


def _updated_at(value: object) -> datetime:
    return to_utc(value, "updated_at")


@attrs.frozen
class AMRClaim:
    """One row of ``auth.mfa_amr_claims``: a method a session proved.

    ``created_at`` is when the session first proved the method, ``updated_at`` the
    last time it did. Both are timezone-aware and normalised to UTC.

    Raises:
        InvalidClaimError: a field is not a UUID, a datetime is naive, or
            ``created_at`` is after ``updated_at``.
        InvalidMethodError: the method breaks the name syntax.
    """

    id: uuid.UUID = attrs.field(converter=_id)
    session_id: uuid.UUID = attrs.field(converter=_session_id)
    authentication_method: str = attrs.field(converter=validate_method)
    created_at: datetime = attrs.field(converter=_created_at)
    updated_at: datetime = attrs.field(converter=_updated_at)

    def __attrs_post_init__(self) -> None:
        if self.created_at > self.updated_at:
            raise InvalidClaimError(
                f"created_at ({self.created_at.isoformat()}) is after "
                f"updated_at ({self.updated_at.isoformat()})"
            )

    @property
    def method(self) -> str:
        """Short for ``authentication_method``."""
        return self.authentication_method


_set_id, _set_session_id, _set_method, _set_created_at, _set_updated_at = (
    AMRClaim.__dict__[field.name].__set__ for field in attrs.fields(AMRClaim)
)


def claim_from_row(
    id: uuid.UUID,
    session_id: uuid.UUID,
    authentication_method: str,
    created_at: datetime,
    updated_at: datetime,
) -> AMRClaim:
    """An :class:`AMRClaim` of values a store already trusts (a row of its table, or
    its own claim with a later ``updated_at``), without running the converters and
    validators: for stores, which build thousands per ``claims_many``. The datetimes
    must be aware UTC; nothing is checked."""
    claim = object.__new__(AMRClaim)
    # The slot descriptors' setters directly: object.__setattr__ would look each
    # name up again.
    _set_id(claim, id)
    _set_session_id(claim, session_id)
    _set_method(claim, authentication_method)
    _set_created_at(claim, created_at)
    _set_updated_at(claim, updated_at)
    return claim


def check_timestamp(_i: object, _a: object, value: int) -> None:
    """The attrs validator of an entry's ``timestamp``.

    Raises:
        InvalidClaimError: not whole Unix seconds from 0 to ``MAX_TIMESTAMP``.
    """
    problem = timestamp_problem(value)
    if problem is not None:
        raise InvalidClaimError(f"timestamp: {problem}")


def to_provider(value: object) -> str | None:
    """The attrs converter of an entry's ``provider``: a string, ``""`` and ``None``
    meaning none (kept as ``None``).

    Raises:
        InvalidClaimError: neither a string nor ``None``.
    """
    problem = provider_problem(value)
    if problem is not None:
        raise InvalidClaimError(f"provider: {problem}")
    return provider_or_none(value)  # type: ignore[arg-type]  # a str or None


@attrs.frozen
class AMREntry:
    """One element of a token's ``amr`` claim, Supabase shape: what
    :meth:`to_dict` renders, :func:`~mfa_amr.parse_amr` reads back equal.

    Raises:
        InvalidMethodError: the method breaks the name syntax.
        InvalidClaimError: the timestamp is not whole Unix seconds (an ``int``) from
            0 to :data:`~mfa_amr.MAX_TIMESTAMP`, or the provider is neither a string
            nor ``None`` (``""`` means none, as in Supabase's tokens).
    """

    method: str = attrs.field(converter=validate_method)
    timestamp: int = attrs.field(validator=check_timestamp)
    provider: str | None = attrs.field(default=None, converter=to_provider)

    def to_dict(self) -> dict[str, str | int]:
        """The JSON-ready object: ``method`` and ``timestamp``, and ``provider`` only
        when set."""
        out: dict[str, str | int] = {"method": self.method, "timestamp": self.timestamp}
        if self.provider is not None:
            out["provider"] = self.provider
        return out


_set_entry_method, _set_entry_timestamp, _set_entry_provider = (
    AMREntry.__dict__[field.name].__set__ for field in attrs.fields(AMREntry)
)


def entry_from_claim(method: str, timestamp: int, provider: str | None) -> AMREntry:
    """An :class:`AMREntry` of a claim's method, its whole seconds and a provider
    already checked: as valid as the claim, so nothing is checked again. A claim's
    name is kept as it is, even one another system wrote outside the syntax: one set
    of claims gets one verdict from every function."""
    entry = object.__new__(AMREntry)
    _set_entry_method(entry, method)
    _set_entry_timestamp(entry, timestamp)
    _set_entry_provider(entry, provider)
    return entry
