"""The values and Hypothesis strategies the contract and the state machine draw
from: method names that collide and tie, malformed ones, instants a few seconds
apart in several zones."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Final

from hypothesis import strategies as st

from mfa_amr import DEFAULT_SKEW, AuthenticationMethod
from mfa_amr._grammar import UTC, is_valid_method
from mfa_amr.testing._clock import START

__all__ = [
    "BAD_ITEMS",
    "FOREIGN_NAMES",
    "MACHINE_POOL",
    "POOL",
    "SECOND",
    "SKEW",
    "STEPS",
    "TIE_NAMES",
    "TOKEN_REFRESH",
    "ZONES",
    "ahead_of_the_clock",
    "bad_names",
    "instants",
    "recordable_names",
    "shifts",
]

SECOND: Final = timedelta(seconds=1)
TOKEN_REFRESH: Final = AuthenticationMethod.TOKEN_REFRESH.value
SKEW: Final = timedelta(seconds=DEFAULT_SKEW)
"""How far ahead of its clock a store built with the default skew takes ``at``."""

# Names another writer of a shared table may have stored, outside the syntax: a
# store must be able to revoke them.
FOREIGN_NAMES: Final = (
    "TOTP",
    "sso:okta",
    "Legacy Method",
    "mfa\\phone",
    " totp",
    "totp\n",
    "ünïcode",
    "x" * 100,
)

# Names that sort differently under a database's linguistic collation than by code
# point: '-' (0x2d) < '.' < '/' < digits < '_' (0x5f) < letters.
TIE_NAMES: Final = ("x_a", "x-b", "x.c", "x/d", "x0", "xa", "mfa/phone", "mfa_phone")
POOL: Final = (
    "password",
    "totp",
    "mfa/phone",
    "mfa/webauthn",
    "passkey",
    "x-b",
    "x_a",
    "x.c",
)
ZONES: Final = (
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
)

recordable_names = st.from_regex(r"[a-z0-9/_.\-]{1,64}", fullmatch=True).filter(
    lambda n: n != TOKEN_REFRESH
)
"""Any name of the method syntax but token_refresh."""

bad_names: st.SearchStrategy[object] = st.one_of(
    st.text(max_size=70).filter(lambda s: not is_valid_method(s)),
    st.sampled_from(["TOTP", "Totp", " totp", "totp\n", "mfa\\phone", "x" * 65]),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
)
"""What a store must refuse as a method name."""


def _instant(seconds: int, micros: int, zone: timezone) -> datetime:
    return (START + seconds * SECOND + timedelta(microseconds=micros)).astimezone(zone)


ahead_of_the_clock = st.one_of(
    st.sampled_from(
        [SKEW, SKEW + timedelta(microseconds=1), SKEW - timedelta(microseconds=1)]
    ),
    st.builds(timedelta, seconds=st.integers(-7200, 7200)),
    st.builds(timedelta, microseconds=st.integers(-(10**9), 10**9)),
)
"""Offsets from a store's clock around its default skew: within, at, and beyond."""

instants = st.builds(
    _instant,
    st.integers(-3, 3),
    st.sampled_from([0, 0, 1, 999_999]),
    st.sampled_from(ZONES),
)
"""Instants a few seconds apart, so that they collide and ties happen; in any zone."""

# -- the state machine's pools -------------------------------------------------------

# Few names, so that pairs repeat; two pairs that a linguistic collation orders
# otherwise than code points ('mfa/phone' < 'mfa_phone', 'x-b' < 'x_a').
MACHINE_POOL: Final = ("password", "totp", "mfa/phone", "mfa_phone", "x-b", "x_a")
STEPS: Final = (
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(minutes=10),
    timedelta(hours=2),
)
shifts = st.tuples(
    st.sampled_from([-7200, -60, -1, 0, 1, 60, 61, 7200]), st.sampled_from(ZONES)
)
"""Seconds away from the clock, and the zone to express the instant in: 61 and 7200
lie beyond the default skew, which a store refuses."""

BAD_ITEMS: Final[tuple[object, ...]] = (
    ("not-a-uuid", "totp"),
    (uuid.UUID(int=0), "TOTP"),
    (uuid.UUID(int=0), TOKEN_REFRESH),
    (uuid.UUID(int=0), "totp", datetime(2026, 1, 15, 9, 0)),
    (uuid.UUID(int=0),),
)
"""``record_many`` items a store must refuse, whatever the other items."""
