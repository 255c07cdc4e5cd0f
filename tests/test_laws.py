"""What the library issues, the library accepts: the values it builds read back
through the other side unchanged, and both sides draw the same line."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mfa_amr import MAX_TIMESTAMP, AMREntry, parse_amr
from mfa_amr.exceptions import AmrParseError, InvalidInputError
from strategies import valid_method_names

_MISSING = object()

entries = st.builds(
    AMREntry,
    valid_method_names,
    st.integers(0, MAX_TIMESTAMP),
    st.none() | st.text(min_size=1),
)

# JSON values on both sides of every line the rules draw: the method syntax and its
# length, 0 and MAX_TIMESTAMP, integers against floats and booleans, empty strings.
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.integers(MAX_TIMESTAMP - 2, MAX_TIMESTAMP + 2),
    st.integers(),
    st.floats(allow_nan=True),
    st.sampled_from([0.0, 1.0, 1.5, float(MAX_TIMESTAMP)]),
    st.text(max_size=3),
    st.sampled_from(["", "totp", "TOTP", " totp", "x" * 64, "x" * 65, "sso:okta"]),
    valid_method_names,
)
_json_values = st.one_of(
    _json_scalars,
    st.lists(_json_scalars, max_size=2),
    st.dictionaries(st.text(max_size=2), _json_scalars, max_size=2),
)


def _either(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """A value that obeys the rule half the time, so that both sides of the line
    are drawn often, alone and together."""
    return st.booleans().flatmap(lambda ok: good if ok else bad)


def _built(method: Any, timestamp: Any, provider: Any) -> AMREntry | None:
    try:
        return AMREntry(method, timestamp, provider)
    except InvalidInputError:
        return None


class TestEntries:
    @given(entries)
    def test_parse_amr_gives_back_every_entry_that_can_be_built(
        self, entry: AMREntry
    ) -> None:
        """For every AMREntry, parse_amr([entry.to_dict()]) reads the same method,
        timestamp and provider."""
        (parsed,) = parse_amr([entry.to_dict()])
        assert (entry.method, entry.timestamp, entry.provider) == (
            parsed.method,
            parsed.timestamp,
            parsed.provider,
        )

    @given(
        method=_either(valid_method_names, _json_values),
        timestamp=_either(st.integers(0, MAX_TIMESTAMP), _json_values),
        provider=_either(
            st.sampled_from([_MISSING, None]) | st.text(min_size=1), _json_values
        ),
    )
    def test_parse_amr_and_amr_entry_draw_the_same_line(
        self, method: Any, timestamp: Any, provider: Any
    ) -> None:
        """An object parse_amr refuses is one AMREntry refuses, and one it reads is
        one AMREntry builds, equal to what was read."""
        item: dict[str, Any] = {"method": method, "timestamp": timestamp}
        if provider is not _MISSING:
            item["provider"] = provider
        try:
            (parsed,) = parse_amr([item])
        except AmrParseError:
            parsed = None
        built = _built(method, timestamp, None if provider is _MISSING else provider)
        if parsed is None:
            assert built is None, f"parse_amr refused {item!r}, AMREntry built it"
        else:
            assert built is not None, f"parse_amr read {item!r}, AMREntry refused it"
            assert (built.method, built.timestamp, built.provider) == (
                parsed.method,
                parsed.timestamp,
                parsed.provider,
            )
