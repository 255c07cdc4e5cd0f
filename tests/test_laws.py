"""What the library issues, the library accepts: the values it builds read back
through the other side unchanged, and both sides draw the same line."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa_amr import (
    AAL,
    DEFAULT_CATALOG,
    MAX_TIMESTAMP,
    AMRClaim,
    AMREntry,
    AmrStyle,
    Factor,
    LevelRule,
    MethodSpec,
    Policy,
    StepUpRequired,
    parse_amr,
    rfc8176,
)
from mfa_amr._claims import claim_from_row
from mfa_amr._grammar import is_valid_method, unix_seconds
from mfa_amr.exceptions import AmrParseError, InvalidInputError
from strategies import (
    BASE,
    KNOWN_METHODS,
    method_specs,
    rfc_values,
    unknown_methods,
    valid_method_names,
)

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
        """An object parse_amr refuses is one AMREntry refuses; one both accept
        reads as it builds. (parse_amr also reads, as unknown methods, names
        another writer stored outside the syntax, which AMREntry refuses.)"""
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
        elif built is None:
            assert not is_valid_method(method), (
                f"parse_amr read {item!r}, AMREntry refused it"
            )
            with pytest.raises(AmrParseError):
                parse_amr([item], strict=True)
        else:
            assert (built.method, built.timestamp, built.provider) == (
                parsed.method,
                parsed.timestamp,
                parsed.provider,
            )


# -- the round trip: a token the policy issues passes the policy's own checks ---------

HARDWARE_KEY = MethodSpec(
    "fido2/hardware",
    (Factor.POSSESSION,),
    ("hwk", "pop"),
    hardware_bound=True,
    description="an attested FIDO2 key",
)


@st.composite
def custom_policies(draw: st.DrawFn) -> Policy:
    """A policy of either rule over the default catalog, a hardware-bound key (so
    that aal3 is reachable) and random specs, with random windows and skew, strict
    or not, naming its levels by default or by its own acr values (aal3 by an EAP
    value, which it may be)."""
    specs = draw(st.lists(method_specs(name=unknown_methods), max_size=3))
    window = st.none() | st.integers(1, 2 * 86_400).map(lambda s: timedelta(seconds=s))
    acr = st.sampled_from(
        [
            {"aal1": "aal1", "aal2": "aal2", "aal3": "aal3"},
            {"aal1": "urn:l1", "aal2": "urn:l2", "aal3": "phrh"},
            {"aal1": "urn:l1", "aal2": "urn:l2", "aal3": "phr"},
        ]
    )
    return Policy(
        draw(st.sampled_from(list(LevelRule))),
        [*DEFAULT_CATALOG, HARDWARE_KEY, *specs],
        strict=draw(st.booleans()),
        aal2_max_age=draw(window),
        aal3_max_age=draw(window),
        acr_values=draw(acr),
        skew=draw(st.integers(0, 600)),
    )


POLICY_CASES = {
    "supabase": st.just(Policy.supabase()),
    "nist": st.just(Policy.nist()),
    "nist+hardware": st.just(Policy.nist().with_method(HARDWARE_KEY)),
    "custom": custom_policies(),
}

# Around BASE, within seconds of the windows' and the skew's edges, and far off.
_offsets = st.one_of(
    st.integers(-3 * 86_400, 3_600),
    st.sampled_from([0, 1, 59, 60, 61, 600, 601, -43_199, -43_200, -43_201]),
)
_instants = st.builds(
    lambda s, us: BASE + timedelta(seconds=s, microseconds=us),
    _offsets,
    st.sampled_from([0, 1, 500_000, 999_999]),
)
_names = st.one_of(
    st.sampled_from([*KNOWN_METHODS, HARDWARE_KEY.name]), unknown_methods
)


@st.composite
def _session(draw: st.DrawFn, policy: Policy) -> list[AMRClaim]:
    """The claims of one session, one per method as the table keeps them, some of
    the policy's own custom methods among them, and now and then a row another
    writer stored under a name outside the syntax (read back unchecked)."""
    names = st.one_of(
        _names, st.sampled_from(sorted(policy.methods)), st.sampled_from(_FOREIGN)
    )
    sid = uuid.UUID(int=1)
    out = []
    for name in draw(st.lists(names, unique=True, max_size=6)):
        a, b = draw(_instants), draw(_instants)
        out.append(claim_from_row(uuid.uuid4(), sid, name, min(a, b), max(a, b)))
    return out


_FOREIGN = ["TOTP", "sso:okta"]


def _wanted_sets() -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(
        st.one_of(_names, rfc_values, st.just("mfa")), min_size=1, max_size=3
    )


def _methods_met(
    policy: Policy,
    claims: list[AMRClaim],
    style: AmrStyle,
    level: AAL,
    wanted: frozenset[str],
) -> bool:
    """The law's side of ``methods``: a claim's method is among the names wanted, or
    a value the catalog maps it to is. The RFC 8176 shape carries values only (and
    the derived mfa beside aal2), so there only a value can meet a name."""
    values = {v for c in claims if (s := policy.spec(c.method)) for v in s.rfc8176}
    if style is AmrStyle.RFC8176:
        return bool(wanted & (values | ({"mfa"} if level >= AAL.AAL2 else set())))
    return any(
        c.method in wanted
        or ((s := policy.spec(c.method)) is not None and wanted & set(s.rfc8176))
        for c in claims
    )


@pytest.mark.parametrize("style", list(AmrStyle))
@pytest.mark.parametrize("case", list(POLICY_CASES))
def test_what_the_policy_issues_it_accepts(case: str, style: AmrStyle) -> None:
    """The token token_claims issues reads back at the level assess computed;
    require passes at that level and refuses above it; max_age passes exactly when
    the newest counted authentication is that recent (skew included); methods
    passes exactly when a claim's method the token lists, or a value the catalog
    maps it to, is wanted; phishing_resistant passes exactly when the token shows
    it. In both shapes, for every policy (strict ones too), session and instant."""

    @settings(max_examples=500, deadline=None)
    @given(
        data=st.data(),
        policy=POLICY_CASES[case],
        now=_instants,
        max_age=st.integers(0, 2 * 86_400),
        wanted=_wanted_sets(),
    )
    def law(
        data: st.DataObject,
        policy: Policy,
        now: datetime,
        max_age: int,
        wanted: frozenset[str],
    ) -> None:
        claims = data.draw(_session(policy))
        sid = uuid.UUID(int=1)
        assessed = policy.assess(claims, now=now)
        token = policy.token_claims(sid, claims, style=style, now=now)
        assert assessed.aal == token["aal"]

        evaluation = policy.evaluate(token, now=now)
        assert assessed.aal == evaluation.effective_aal
        assert evaluation == policy.require(token, aal=assessed.aal, now=now)
        for higher in (level for level in AAL if level > assessed.aal):
            with pytest.raises(StepUpRequired):
                policy.require(token, aal=higher, now=now)

        newest = assessed.auth_time
        fresh = newest is not None and unix_seconds(now) - newest <= max_age
        assert fresh == _passes(policy, token, now, max_age=max_age)

        # a strict policy lists only the names it reads: registered values, its
        # catalog's methods
        listed = [
            c
            for c in claims
            if not policy.strict
            or rfc8176.is_registered(c.method)
            or (is_valid_method(c.method) and c.method in policy.methods)
        ]
        met = _methods_met(policy, listed, style, assessed.aal, wanted)
        assert met == _passes(policy, token, now, methods=wanted)

        for need in (True, "hardware"):
            shows = _phishing_resistance_shown(policy, claims, token, need)
            assert shows == _passes(policy, token, now, phishing_resistant=need)

    law()


def _phishing_resistance_shown(
    policy: Policy, claims: list[AMRClaim], token: dict[str, object], need: object
) -> bool:
    """The law's side of ``phishing_resistant``: the token's acr is an EAP value
    (``phrh`` for hardware), or (Supabase shape) a claim's method is
    phishing-resistant (hardware-bound) by the catalog; an RFC 8176 string says
    neither."""
    acr = token.get("acr")
    if acr == "phrh" or (acr == "phr" and need is True):
        return True
    if not token.get("amr") or isinstance(token["amr"][0], str):  # type: ignore[index]
        return False
    specs = [s for c in claims if (s := policy.spec(c.method)) is not None]
    if need == "hardware":
        return any(s.hardware_bound for s in specs)
    return any(s.phishing_resistant for s in specs)


def _passes(
    policy: Policy, token: dict[str, object], now: datetime, **needs: Any
) -> bool:
    try:
        policy.require(token, now=now, **needs)
    except StepUpRequired:
        return False
    return True
