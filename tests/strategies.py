"""Hypothesis strategies shared by the test suite.

Sections are grouped by what they generate; add a section rather than a second file.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from mfa_amr import (
    DEFAULT_CATALOG,
    AMRClaim,
    AuthenticationMethod,
    Factor,
    MethodSpec,
    rfc8176,
)

UTC = UTC

# -- method names ---------------------------------------------------------------------

KNOWN_METHODS: tuple[str, ...] = tuple(m.value for m in AuthenticationMethod)
SUPABASE_AAL2_METHODS: tuple[str, ...] = tuple(
    s.name for s in DEFAULT_CATALOG if s.supabase_aal2
)
METHOD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789/_-."
_ANY_KNOWN_METHOD = st.sampled_from(KNOWN_METHODS)

known_methods = _ANY_KNOWN_METHOD
"""The 17 Supabase names, as plain strings."""

valid_method_names = st.text(alphabet=METHOD_ALPHABET, min_size=1, max_size=64)
"""Any name of the accepted syntax, known or not."""

unknown_methods = valid_method_names.filter(lambda m: m not in KNOWN_METHODS)
"""Well-formed names the default catalog does not know."""

methods = st.one_of(known_methods, known_methods, unknown_methods)
"""Mostly known names, some unknown ones."""

# Letters that look like (or fold to) ASCII ones: Cyrillic, Greek, fullwidth,
# mathematical, small capitals, dotless i, Kelvin sign, long s, ligatures.
LOOKALIKES: dict[str, str] = {
    "a": "\u0430\u0251\uff41\U0001d41a",
    "b": "\u0184\uff42",
    "c": "\u0441\u03f2\uff43",
    "e": "\u0435\u0454\uff45",
    "f": "\uff46\ufb00",
    "h": "\u04bb\uff48",
    "i": "\u0456\u0131\uff49\u2170",
    "k": "\u212a\u03ba\uff4b",
    "l": "\u04cf\u217c\uff4c",
    "m": "\u217f\uff4d",
    "n": "\u0578\uff4e",
    "o": "\u043e\u03bf\u0585\uff4f\u1d0f\U0001d428",
    "p": "\u0440\u03c1\uff50",
    "s": "\u0455\u017f\uff53",
    "t": "\uff54\u1d1b\U0001d42d",
    "u": "\u057d\uff55",
    "w": "\u051d\uff57",
    "x": "\u0445\uff58",
    "y": "\u0443\uff59",
    "/": "\u2215\u2044\uff0f",
    "-": "\u2010\u2011\u2212\uff0d",
    "_": "\uff3f",
    ".": "\u2024\uff0e",
    "1": "\uff11\u00b9",
    "2": "\uff12\u00b2",
}
INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
WHITESPACE = " \t\n\r\x0b\x0c\x00\u00a0\u2028\u3000"


def _not_canonical(value: str) -> bool:
    return not (1 <= len(value) <= 64 and all(c in METHOD_ALPHABET for c in value))


@st.composite
def noncanonical_spellings(
    draw: st.DrawFn, of: st.SearchStrategy[str] = _ANY_KNOWN_METHOD
) -> str:
    """A spelling of a method name that a careless reader might take for it:
    changed case, padding, a look-alike or invisible character, or any character
    outside the accepted alphabet. Never a canonical name."""
    name = draw(of)
    kind = draw(
        st.sampled_from(
            ["case", "pad", "lookalike", "all-fullwidth", "invisible", "foreign"]
        )
    )
    if kind == "case":
        flags = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        out = "".join(c.upper() if f else c for c, f in zip(name, flags, strict=True))
        if out == name:
            out = name.upper() if name.upper() != name else name + "A"
    elif kind == "pad":
        before = draw(st.text(alphabet=WHITESPACE, max_size=2))
        after = draw(st.text(alphabet=WHITESPACE, max_size=2))
        if not before and not after:
            after = draw(st.sampled_from(WHITESPACE))
        out = before + name + after
    elif kind == "lookalike":
        positions = [i for i, c in enumerate(name) if c in LOOKALIKES]
        if not positions:
            out = name + "\uff41"
        else:
            i = draw(st.sampled_from(positions))
            out = name[:i] + draw(st.sampled_from(LOOKALIKES[name[i]])) + name[i + 1 :]
    elif kind == "all-fullwidth":
        out = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in name)
    elif kind == "invisible":
        i = draw(st.integers(0, len(name)))
        out = name[:i] + draw(st.sampled_from(INVISIBLES)) + name[i:]
    else:
        i = draw(st.integers(0, len(name) - 1))
        foreign = draw(
            st.characters(codec=None).filter(lambda c: c not in METHOD_ALPHABET)
        )
        out = name[:i] + foreign + name[i + draw(st.integers(0, 1)) :]
    assert _not_canonical(out), out
    return out


# -- times -----------------------------------------------------------------------------

BASE = datetime(2026, 1, 1, tzinfo=UTC)
"""A fixed instant the examples are built around."""

offsets = st.builds(
    timezone,
    st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)),
)
"""Fixed-offset zones, UTC among them."""

aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
"""Timezone-aware datetimes in any fixed offset."""

instants = st.builds(
    lambda s, us: BASE + timedelta(seconds=s, microseconds=us),
    st.one_of(
        st.integers(min_value=-3 * 86_400, max_value=0),
        # 12 hours and 13 hours back, and the last seconds: the edges that matter
        st.sampled_from([0, -1, -2, -43_199, -43_200, -43_201, -46_800]),
    ),
    st.one_of(st.just(0), st.integers(min_value=0, max_value=999_999)),
)
"""UTC instants within three days before BASE, to the microsecond, so that some share
a whole second, some sit within 12 hours of BASE and some do not."""

nows = st.integers(min_value=-86_400, max_value=86_400).map(
    lambda s: BASE + timedelta(seconds=s)
)
"""An assessment instant around BASE: some claims are fresh at it, some stale, some
in its future."""

# -- claims ----------------------------------------------------------------------------


@st.composite
def claims(
    draw: st.DrawFn,
    session_id: uuid.UUID | None = None,
    method: st.SearchStrategy[str] = methods,
) -> AMRClaim:
    """One valid claim; created_at <= updated_at, both near BASE."""
    a, b = draw(instants), draw(instants)
    return AMRClaim(
        id=draw(st.uuids()),
        session_id=session_id if session_id is not None else draw(st.uuids()),
        authentication_method=draw(method),
        created_at=min(a, b),
        updated_at=max(a, b),
    )


@st.composite
def sessions(
    draw: st.DrawFn,
    *,
    method: st.SearchStrategy[str] = methods,
    min_size: int = 0,
    max_size: int = 8,
    unique: bool = False,
) -> list[AMRClaim]:
    """The claims of one session. ``unique`` keeps one row per method, as the table
    does; otherwise a method may repeat (input the policy must still handle)."""
    sid = draw(st.uuids())
    return draw(
        st.lists(
            claims(sid, method),
            min_size=min_size,
            max_size=max_size,
            unique_by=(lambda c: c.authentication_method) if unique else None,
        )
    )


providers = st.dictionaries(
    st.sampled_from(["sso/saml", "oauth", "password"]),
    st.text(min_size=1, max_size=20),
    max_size=2,
)
"""Provider ids by method, as given to assess / render_amr / token_claims."""

# -- catalogs --------------------------------------------------------------------------

rfc_values = st.sampled_from(sorted(v for v in rfc8176.REGISTRY if v != rfc8176.MFA))


@st.composite
def method_specs(
    draw: st.DrawFn, name: st.SearchStrategy[str] = valid_method_names
) -> MethodSpec:
    """A custom MethodSpec that satisfies the catalog's own rules."""
    factors = draw(st.frozensets(st.sampled_from(list(Factor)), min_size=1))
    counted = factors & {Factor.KNOWLEDGE, Factor.POSSESSION, Factor.INHERENCE}
    values = draw(st.lists(rfc_values, unique=True, max_size=3))
    hardware_bound = Factor.POSSESSION in factors and draw(st.booleans())
    if hardware_bound and not {"hwk", "sc"} & set(values):
        # a hardware-bound method shows it in an RFC-style amr
        values.append(draw(st.sampled_from(["hwk", "sc"])))
    return MethodSpec(
        draw(name),
        factors,
        tuple(values),
        supabase_aal2=draw(st.booleans()),
        multi_factor=len(counted) >= 2 and draw(st.booleans()),
        hardware_bound=hardware_bound,
        phishing_resistant=hardware_bound or draw(st.booleans()),
        recordable=draw(st.booleans()),
    )
