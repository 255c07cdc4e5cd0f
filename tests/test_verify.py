"""Reading tokens on the API side: parse_amr, Policy.evaluate, Policy.require and
RFC 9470 challenges (mfa_amr._verify)."""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, SupportsIndex, overload

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mfa_amr
from mfa_amr import (
    AAL,
    DEFAULT_CATALOG,
    MAX_TIMESTAMP,
    AMRClaim,
    AmrStyle,
    AuthenticationMethod,
    Evaluation,
    Factor,
    MethodSpec,
    ParsedMethod,
    Policy,
    StepUpChallenge,
    StepUpRequired,
    parse_amr,
    rfc8176,
)
from mfa_amr._challenge import MAX_ACR_VALUES, MAX_DESCRIPTION, MAX_HEADER_SIZE
from mfa_amr._verify import _careful, _fast, _parse
from mfa_amr.exceptions import (
    AmrParseError,
    ChallengeParseError,
    InvalidAALError,
    InvalidInputError,
    InvalidMethodError,
    MfaAmrError,
)

UTC = UTC
NOW = 1_800_000_000
SID = uuid.UUID("3b0c5c1e-3f6d-4a43-9a55-6f8d2f1c7a10")
SUPABASE = Policy.supabase()
NIST = Policy.nist()


def token(
    *entries: tuple[str, int], aal: str | None = "aal2", **extra: object
) -> dict[str, object]:
    """A decoded Supabase-shape payload: ``(method, seconds before NOW)`` pairs."""
    payload: dict[str, object] = {
        "amr": [{"method": m, "timestamp": NOW - ago} for m, ago in entries],
        **extra,
    }
    if aal is not None:
        payload["aal"] = aal
    return payload


def step_up(policy: Policy, payload: Mapping[str, object], **needs: Any) -> str:
    """The description of the StepUpRequired that ``require`` must raise."""
    with pytest.raises(StepUpRequired) as info:
        policy.require(payload, now=NOW, **needs)
    return info.value.description


# -- strategies -----------------------------------------------------------------------

CATALOG_NAMES = [spec.name for spec in DEFAULT_CATALOG]
REGISTERED = sorted(rfc8176.REGISTRY)
METHOD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789/_-."

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(CATALOG_NAMES + REGISTERED)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=6) | st.dictionaries(st.text(), kids, max_size=6)
    ),
    max_leaves=40,
)
"""Any JSON value: nested, unicode, of every type."""

names = (
    st.sampled_from(CATALOG_NAMES + REGISTERED)
    | st.text(METHOD_ALPHABET, min_size=1, max_size=64)
    | st.text(min_size=0, max_size=80)
)
stamps = st.integers(-5, NOW + 10**6) | st.integers() | json_scalars
entry_objects = st.fixed_dictionaries(
    {"method": names | json_values, "timestamp": stamps},
    optional={"provider": st.text() | json_scalars, "extra": json_values},
)
amr_values = (
    st.lists(entry_objects, max_size=8)
    | st.lists(names, max_size=8)
    | st.lists(entry_objects | names | json_values, max_size=8)
    | names
    | json_values
    | st.integers(65, 10**5).map(lambda n: ["otp"] * n)
)
"""Likely and unlikely `amr` values, some huge."""

payloads = (
    st.fixed_dictionaries(
        {},
        optional={
            "amr": amr_values,
            "aal": st.sampled_from(["aal1", "aal2", "aal3"]) | json_scalars,
            "auth_time": st.integers(NOW - 10**5, NOW + 10**3) | json_scalars,
            "acr": st.sampled_from(["aal1", "aal2", "aal3", "phr", "phrh"])
            | json_scalars,
            "sub": st.text(),
        },
    )
    | json_values
)
"""Decoded token payloads, well-formed or not."""

requirements = st.fixed_dictionaries(
    {},
    optional={
        "aal": st.sampled_from([*AAL, "aal1", "aal2", "aal3"]),
        "methods": st.sets(st.sampled_from(CATALOG_NAMES + REGISTERED), min_size=1),
        "max_age": st.integers(0, 10**6),
        "skew": st.integers(0, 600),
    },
)
policies = st.sampled_from(
    [SUPABASE, NIST, Policy.supabase(strict=True), Policy.nist(strict=True)]
)


class CountingList(list[object]):
    """A list that counts the items read from it, however they are read."""

    touched = 0

    def __iter__(self) -> Iterator[object]:
        for item in super().__iter__():
            self.touched += 1
            yield item

    @overload
    def __getitem__(self, index: SupportsIndex) -> object: ...
    @overload
    def __getitem__(self, index: slice) -> list[object]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> object:
        self.touched += 1
        return super().__getitem__(index)


class UntouchableDict(dict[str, object]):
    """An object whose keys must not be listed: only the three known keys are
    looked up."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("an amr entry's keys were iterated")

    def keys(self) -> Any:
        raise AssertionError("an amr entry's keys were listed")

    def items(self) -> Any:
        raise AssertionError("an amr entry's items were listed")

    def values(self) -> Any:
        raise AssertionError("an amr entry's values were listed")


@st.composite
def session_claims(draw: st.DrawFn) -> list[AMRClaim]:
    """Claims of one session, in whole seconds, methods known and unknown."""
    methods = draw(
        st.lists(
            st.sampled_from(CATALOG_NAMES[:-1])  # token_refresh is never recorded
            | st.text(METHOD_ALPHABET, min_size=1, max_size=64),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    out = []
    for method in methods:
        created = draw(st.integers(NOW - 3 * 86_400, NOW))
        updated = draw(st.integers(created, NOW))
        out.append(
            AMRClaim(
                uuid.uuid4(),
                SID,
                method,
                datetime.fromtimestamp(created, UTC),
                datetime.fromtimestamp(updated, UTC),
            )
        )
    return out


descriptions = (
    st.text()
    | st.text('"\\ \t\nabc\x00\x7fé→😀\u200b\u0301')
    # long enough to be cut: quotes and backslashes double in the header
    | st.text('"\\a', min_size=MAX_DESCRIPTION - 2, max_size=MAX_DESCRIPTION + 50)
)
acr_value = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'),
    min_size=1,
    max_size=20,
)
acr_lists = st.lists(acr_value, max_size=4) | st.lists(
    # as many characters as a challenge carries, or nearly
    st.text(st.sampled_from("a~!"), min_size=1000, max_size=1023),
    min_size=3,
    max_size=4,
).filter(lambda values: len(" ".join(values)) <= MAX_ACR_VALUES)
challenges = st.builds(
    StepUpChallenge,
    description=descriptions,
    acr_values=acr_lists.map(tuple),
    max_age=st.none() | st.integers(0, MAX_TIMESTAMP),
)


# -- tests ----------------------------------------------------------------------------


class TestExports:
    def test_importable_from_the_package(self) -> None:
        """The issue's names are public and listed in __all__."""
        for name in (
            "parse_amr",
            "ParsedMethod",
            "StepUpRequired",
            "StepUpChallenge",
            "Evaluation",
        ):
            assert name in mfa_amr.__all__
            assert getattr(mfa_amr, name) is not None

    def test_step_up_required_is_a_library_and_permission_error(self) -> None:
        """StepUpRequired is caught as MfaAmrError or PermissionError."""
        exc = StepUpRequired("more needed")
        assert isinstance(exc, MfaAmrError)
        assert isinstance(exc, PermissionError)
        assert "insufficient_user_authentication" == exc.error
        assert "more needed" == str(exc)

    def test_challenge_parse_error_is_a_value_error(self) -> None:
        """ChallengeParseError is caught as MfaAmrError or ValueError."""
        assert issubclass(ChallengeParseError, MfaAmrError)
        assert issubclass(ChallengeParseError, ValueError)


class TestParseAmrShapes:
    def test_supabase_objects(self) -> None:
        """Objects give method, timestamp and provider; other keys are ignored."""
        parsed = parse_amr(
            [
                {"method": "totp", "timestamp": 1700000100},
                {
                    "method": "sso/saml",
                    "timestamp": 1700000000,
                    "provider": "p-1",
                    "extra": {"nested": [1, 2]},
                },
            ]
        )
        assert (
            ParsedMethod("totp", 1700000100),
            ParsedMethod("sso/saml", 1700000000, "p-1"),
        ) == parsed

    def test_rfc_strings_have_no_timestamp(self) -> None:
        """A string entry's timestamp is None: none is invented."""
        assert (ParsedMethod("pwd"), ParsedMethod("otp"), ParsedMethod("mfa")) == (
            parse_amr(["pwd", "otp", "mfa"])
        )

    def test_single_string_when_lenient(self) -> None:
        """A bare string is a one-element list unless strict."""
        assert (ParsedMethod("pwd"),) == parse_amr("pwd")
        with pytest.raises(AmrParseError, match="single string"):
            parse_amr("pwd", strict=True)

    def test_empty(self) -> None:
        """An empty list is no entries."""
        assert () == parse_amr([])

    def test_provider_null_is_absent(self) -> None:
        """A JSON null provider reads as no provider."""
        assert (ParsedMethod("oauth", 5),) == parse_amr(
            [{"method": "oauth", "timestamp": 5, "provider": None}]
        )

    def test_strict_takes_registered_and_catalog_names(self) -> None:
        """strict accepts registered RFC 8176 values and catalog methods only."""
        assert 3 == len(parse_amr(["pwd", "hwk", "passkey"], strict=True))
        with pytest.raises(AmrParseError, match=r"amr\[1\]: 'fed' is neither"):
            parse_amr(["pwd", "fed"], strict=True)
        with pytest.raises(AmrParseError, match=r"amr\[0\]: 'custom' is neither"):
            parse_amr([{"method": "custom", "timestamp": 1}], strict=True)

    def test_strict_uses_the_given_policys_catalog(self) -> None:
        """policy= gives strict the catalog to check against."""
        policy = SUPABASE.with_method(MethodSpec("custom", "possession"))
        value = [{"method": "custom", "timestamp": 1}]
        assert (ParsedMethod("custom", 1),) == parse_amr(
            value, strict=True, policy=policy
        )

    def test_lenient_keeps_unknown_names(self) -> None:
        """Without strict, any name of the method syntax is read."""
        assert (ParsedMethod("fed"), ParsedMethod("ngcmfa")) == parse_amr(
            ["fed", "ngcmfa"]
        )

    def test_tuple_accepted(self) -> None:
        """A tuple reads as a list does."""
        assert (ParsedMethod("pwd"),) == parse_amr(("pwd",))


class TestParseAmrRefusals:
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({"method": "totp"}, r"^amr: expected a list .* got an object"),
            (5, r"^amr: expected a list .* got a number"),
            (None, r"^amr: expected a list .* got null"),
            ([["pwd"]], r"^amr\[0\]: expected an object or a string, got a list"),
            ([True], r"^amr\[0\]: expected an object or a string, got a boolean"),
            (["pwd", {"method": "otp", "timestamp": 1}], r"^amr\[1\]: an object among strings"),
            ([{"method": "otp", "timestamp": 1}, "pwd"], r"^amr\[1\]: a string among objects"),
            ([{"timestamp": 1}], r"^amr\[0\]\.method: missing"),
            ([{"method": ["totp"], "timestamp": 1}], r"^amr\[0\]\.method: expected a method name \(a string\), got a list"),
            ([{"method": {"a": 1}, "timestamp": 1}], r"^amr\[0\]\.method: .* got an object"),
            ([{"method": "totp"}], r"^amr\[0\]\.timestamp: missing"),
            ([{"method": "totp", "timestamp": None}], r"^amr\[0\]\.timestamp: missing"),
            ([{"method": "totp", "timestamp": True}], r"^amr\[0\]\.timestamp: .* got a boolean"),
            ([{"method": "totp", "timestamp": 1.5}], r"^amr\[0\]\.timestamp: expected whole Unix seconds \(an integer\), got 1\.5"),
            ([{"method": "totp", "timestamp": 1.0}], r"^amr\[0\]\.timestamp: expected whole"),
            ([{"method": "totp", "timestamp": "1700000000"}], r"^amr\[0\]\.timestamp: .* got a string"),
            ([{"method": "totp", "timestamp": -1}], r"^amr\[0\]\.timestamp: .* must not be negative"),
            ([{"method": "totp", "timestamp": MAX_TIMESTAMP + 1}], r"^amr\[0\]\.timestamp: .* after the year 9999"),
            ([{"method": "totp", "timestamp": 1, "provider": 7}], r"^amr\[0\]\.provider: expected a string, got a number"),
            ([{"method": "totp", "timestamp": 1, "provider": ["x"]}], r"^amr\[0\]\.provider: expected a string, got a list"),
        ],
    )  # fmt: skip
    def test_says_what_and_where(self, value: object, message: str) -> None:
        """Each malformed amr is refused with the place and the fault."""
        with pytest.raises(AmrParseError, match=message):
            parse_amr(value)

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ([{"method": "TOTP", "timestamp": 1}], r"^amr\[0\]\.method: 'TOTP' is not a canonical method name.*'totp'"),
            ([{"method": "x" * 65, "timestamp": 1}], r"^amr\[0\]\.method: a method name of 65 characters"),
            (["pwd", "", "otp"], r"^amr\[1\]: '' is not"),
            (["pwd", "otp", "o tp"], r"^amr\[2\]: 'o tp' is not"),
            (["x" * 100], r"^amr\[0\]: a method name of 100 characters"),
            ([{"method": "sso:okta", "timestamp": 1}], r"^amr\[0\]\.method: 'sso:okta' is not"),
        ],
    )  # fmt: skip
    def test_strict_refuses_names_outside_the_syntax(
        self, value: object, message: str
    ) -> None:
        """Strictly read, a name outside the method syntax is refused, saying where."""
        with pytest.raises(AmrParseError, match=message):
            parse_amr(value, strict=True)

    @pytest.mark.parametrize(
        "name", ["TOTP", "sso:okta", "x" * 65, "", "o tp", "mfa\\phone", "t\u00f6tp"]
    )
    def test_names_another_writer_stored_are_read_as_they_are(self, name: str) -> None:
        """Not strictly read, a name outside our syntax is kept, as an unknown method
        (Supabase's own tokens can carry another writer's names)."""
        (entry,) = parse_amr([{"method": name, "timestamp": 7}])
        assert (name, 7, None) == (entry.method, entry.timestamp, entry.provider)
        (value,) = parse_amr([name])
        assert (name, None) == (value.method, value.timestamp)

    def test_empty_provider_is_none(self) -> None:
        """A provider of "" is no provider, as Supabase writes it."""
        (entry,) = parse_amr([{"method": "sso/saml", "timestamp": 1, "provider": ""}])
        assert entry.provider is None

    def test_more_than_max_entries(self) -> None:
        """More entries than max_entries are refused; exactly that many are read."""
        assert 3 == len(parse_amr(["pwd"] * 3, max_entries=3))
        with pytest.raises(AmrParseError, match=r"^amr: 4 entries; at most 3"):
            parse_amr(["pwd"] * 4, max_entries=3)
        with pytest.raises(AmrParseError, match=r"^amr: 65 entries; at most 64"):
            parse_amr(["pwd"] * 65)

    @pytest.mark.parametrize("bad", [-1, 1.5, True, "64", None])
    def test_max_entries_argument_checked(self, bad: Any) -> None:
        """max_entries must be a non-negative int: a programming error otherwise."""
        with pytest.raises(InvalidInputError, match="max_entries"):
            parse_amr([], max_entries=bad)

    def test_a_million_entries_refused_untouched(self) -> None:
        """The length is checked before any item is read."""
        huge = CountingList(["otp"] * 1_000_000)
        with pytest.raises(AmrParseError, match="1000000 entries"):
            parse_amr(huge)
        assert 0 == huge.touched

    def test_entries_read_at_most_once_each(self) -> None:
        """A list of max_entries items is read once, item by item."""
        items = CountingList(["otp"] * 10)
        parse_amr(items, max_entries=10)
        assert 10 == items.touched

    def test_entry_keys_never_listed(self) -> None:
        """Only method, timestamp and provider are looked up: an object with many
        keys costs no more than one with three."""
        entry = UntouchableDict(
            {"method": "totp", "timestamp": 5, **{f"k{i}": i for i in range(10_000)}}
        )
        assert (ParsedMethod("totp", 5),) == parse_amr([entry])

    def test_error_messages_are_short_for_huge_values(self) -> None:
        """A message never prints a huge value it refuses."""
        for value in (
            [{"method": "totp", "timestamp": "9" * 100_000}],
            [{"method": ["x"] * 100_000, "timestamp": 1}],
            {"k" * 100_000: 1},
        ):
            with pytest.raises(AmrParseError) as info:
                parse_amr(value)
            assert len(str(info.value)) < 200
        with pytest.raises(AmrParseError) as info:
            parse_amr([{"method": "x" * 100_000, "timestamp": 1}], strict=True)
        assert len(str(info.value)) < 200


class TestParsedMethod:
    def test_frozen(self) -> None:
        """A ParsedMethod cannot change."""
        parsed = ParsedMethod("totp", 1)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            parsed.method = "pwd"  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"method": "TOTP"}, InvalidMethodError),
            ({"method": "totp", "timestamp": -1}, InvalidInputError),
            ({"method": "totp", "timestamp": True}, InvalidInputError),
            ({"method": "totp", "timestamp": 1.0}, InvalidInputError),
            ({"method": "totp", "timestamp": 10**20}, InvalidInputError),
            ({"method": "totp", "provider": 7}, InvalidInputError),
        ],
    )
    def test_invalid_cannot_exist(
        self, kwargs: dict[str, Any], error: type[Exception]
    ) -> None:
        """The validators refuse what parse_amr refuses."""
        with pytest.raises(error):
            ParsedMethod(**kwargs)

    def test_enum_method_is_a_plain_string(self) -> None:
        """An AuthenticationMethod is stored as its string."""
        parsed = ParsedMethod(AuthenticationMethod.TOTP)
        assert "totp" == parsed.method
        assert type(parsed.method) is str


class TestFuzz:
    @given(
        value=amr_values,
        strict=st.booleans(),
        max_entries=st.integers(0, 70),
    )
    def test_parse_amr_raises_only_amr_parse_error(
        self, value: Any, strict: bool, max_entries: int
    ) -> None:
        """Whatever the value, parse_amr returns entries or raises AmrParseError,
        and reads at most max_entries items."""
        if isinstance(value, list):
            value = CountingList(value)
        parsed: tuple[ParsedMethod, ...] | str
        try:
            parsed = parse_amr(value, strict=strict, max_entries=max_entries)
        except AmrParseError as exc:
            parsed = str(exc)
        if isinstance(parsed, str):
            assert parsed.startswith("amr")
        else:
            assert len(parsed) <= max_entries
            assert all(isinstance(p, ParsedMethod) for p in parsed)
        if isinstance(value, CountingList):
            assert value.touched <= max_entries

    @given(payload=payloads, policy=policies, needs=requirements)
    def test_only_parse_errors_and_step_ups_escape(
        self, payload: Any, policy: Policy, needs: dict[str, Any]
    ) -> None:
        """evaluate and require on any payload: a result, AmrParseError or
        StepUpRequired naming what was missing, never anything else."""
        try:
            evaluation = policy.evaluate(payload, now=NOW)
        except AmrParseError:
            with pytest.raises(AmrParseError):
                policy.require(payload, now=NOW, **needs)
            return
        assert isinstance(evaluation, Evaluation)
        raised: StepUpRequired | None = None
        try:
            policy.require(payload, now=NOW, **needs)
        except StepUpRequired as exc:
            raised = exc
        if raised is not None:
            assert raised.description
            header = raised.www_authenticate()
            assert header.isascii()
            assert raised.challenge() == StepUpChallenge.parse(header)

    @given(payload=payloads, policy=policies)
    def test_evaluation_is_consistent(self, payload: Any, policy: Policy) -> None:
        """The effective level is the lower of the claimed and the computed one."""
        try:
            ev = policy.evaluate(payload, now=NOW)
        except AmrParseError:
            return
        if ev.aal is None:
            assert ev.effective_aal is None
        else:
            assert min(ev.aal, ev.amr_aal) == ev.effective_aal
        assert (ev.style is None) == (not ev.methods)


class _Str(str):
    """A str subclass whose str() spells it otherwise: the careful path's case."""

    def __str__(self) -> str:
        return "changed"


class _Dict(dict[str, object]):
    """A dict subclass: a Mapping, not a plain JSON object."""


def _disguised(value: object) -> object:
    """The same JSON value, with some strs, dicts and lists swapped for subclasses
    and tuples, which only the careful path reads."""
    if isinstance(value, str):
        return _Str(str.__str__(value))  # not _Str(value): that calls its __str__
    if isinstance(value, dict):
        return _Dict({k: _disguised(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_disguised(v) for v in value)
    return value


def _outcome(read: Any, value: object, **options: Any) -> object:
    try:
        return read(value, **options)
    except AmrParseError as exc:
        return ("AmrParseError", str(exc))


# Plain lists near every line the fast path draws: the timestamp's bounds, empty and
# odd providers, names in and out of the syntax.
_near_the_lines = st.lists(
    st.fixed_dictionaries(
        {
            "method": names,
            "timestamp": st.integers(-2, 2)
            | st.integers(MAX_TIMESTAMP - 2, MAX_TIMESTAMP + 2)
            | st.integers(0, NOW),
        },
        optional={"provider": st.sampled_from(["", "idp", None, 1, []])},
    ),
    max_size=4,
) | st.lists(names, max_size=4)


class TestFastPath:
    @given(
        value=_near_the_lines | amr_values | amr_values.map(_disguised),
        strict=st.booleans(),
        max_entries=st.integers(0, 70),
        policy=policies,
    )
    def test_both_paths_read_every_amr_alike(
        self, value: Any, strict: bool, max_entries: int, policy: Policy
    ) -> None:
        """Where the fast path answers, it gives the careful path's answer; and
        parse_amr always gives the careful path's answer or its error."""
        options = {
            "strict": strict,
            "max_entries": max_entries,
            "known": policy.methods,
        }
        careful = _outcome(_careful, value, **options)
        fast = _fast(value, strict, max_entries, policy.methods)
        if fast is not None:
            assert careful == fast
        assert careful == _outcome(_parse, value, **options)

    @given(payload=payloads | payloads.map(_disguised), policy=policies)
    def test_the_careful_path_decides_what_the_fast_one_refuses(
        self, payload: Any, policy: Policy
    ) -> None:
        """Disguising a plain payload (subclasses, tuples) never changes what it
        proves, only which path reads it."""
        try:
            plain = policy.evaluate(payload, now=NOW)
        except AmrParseError as exc:
            with pytest.raises(AmrParseError, match=re.escape(str(exc)[:40])):
                policy.evaluate(_disguised(payload), now=NOW)  # type: ignore[arg-type]
            return
        if isinstance(payload, dict):
            disguised = policy.evaluate(_disguised(payload), now=NOW)  # type: ignore[arg-type]
            assert (plain.style, plain.aal, plain.amr_aal, plain.auth_time) == (
                disguised.style,
                disguised.aal,
                disguised.amr_aal,
                disguised.auth_time,
            )
            assert [(m.method, m.timestamp, m.provider) for m in plain.methods] == [
                (str.__str__(m.method), m.timestamp, m.provider)
                for m in disguised.methods
            ]


def _claim(method: str, ago: int) -> AMRClaim:
    when = datetime.fromtimestamp(NOW - ago, UTC)
    return AMRClaim(uuid.uuid4(), SID, method, when, when)


SID = uuid.UUID("7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f")


class TestOidcShape:
    """The tries that opened issue 10, answered: the RFC 8176 shape issues and
    verifies end to end, and reads tokens other OIDC servers issue."""

    def test_nist_password_and_totp_token_passes_its_own_aal2(self) -> None:
        """Under nist(), password + TOTP issues an RFC-style aal2 token that the
        same policy's require(aal="aal2") accepts."""
        session = [_claim("password", 600), _claim("totp", 120)]
        token = NIST.token_claims(SID, session, style="rfc8176", now=NOW)
        assert {
            "aal": "aal2",
            "amr": ["otp", "pwd", "mfa"],
            "session_id": str(SID),
            "acr": "aal2",
            "auth_time": NOW - 120,
        } == token
        assert AAL.AAL2 == NIST.require(token, aal="aal2", now=NOW).effective_aal

    def test_rfc_style_token_meets_max_age(self) -> None:
        """The RFC style writes auth_time, so require(max_age=...) can pass."""
        session = [_claim("password", 600), _claim("totp", 120)]
        for policy in (SUPABASE, NIST):
            token = policy.token_claims(SID, session, style="rfc8176", now=NOW)
            policy.require(token, max_age=120, now=NOW)
            assert "the last was 120 s ago" in step_up(policy, token, max_age=119)

    def test_a_standard_oidc_token_is_read_by_its_acr(self) -> None:
        """An RFC 9068 access token (acr, string amr, auth_time, no aal) meets level
        requirements through the policy's acr mapping, under both presets."""
        token = {
            "sub": "user",
            "acr": "aal2",
            "amr": ["pwd", "otp", "mfa"],
            "auth_time": NOW - 60,
        }
        for policy in (SUPABASE, NIST):
            ev = policy.require(token, aal="aal2", max_age=300, now=NOW)
            assert (AAL.AAL2, "aal2") == (ev.aal, ev.acr)
            step_up(policy, token, aal="aal3")

    def test_an_acr_the_mapping_does_not_know_claims_nothing(self) -> None:
        """An unknown acr never names a level, however strong it sounds."""
        token = {"acr": "urn:example:highest", "amr": ["pwd", "otp", "mfa"]}
        assert None is SUPABASE.evaluate(token, now=NOW).aal
        assert "claims no level" in step_up(SUPABASE, token, aal="aal1")

    def test_aal_wins_over_acr(self) -> None:
        """A token with both is read by its aal."""
        token = {"aal": "aal1", "acr": "aal2", "amr": ["pwd", "otp", "mfa"]}
        assert AAL.AAL1 == SUPABASE.evaluate(token, now=NOW).aal
        assert "the token is aal1" in step_up(SUPABASE, token, aal="aal2")

    def test_custom_acr_names_are_read_back(self) -> None:
        """A policy's own acr names are what its RFC-style tokens say and what it
        reads back."""
        policy = attrs.evolve(
            NIST,
            acr_values={"aal1": "urn:loa:1", "aal2": "urn:loa:2", "aal3": "urn:loa:3"},
        )
        session = [_claim("password", 60), _claim("totp", 30)]
        token = policy.token_claims(SID, session, style="rfc8176", now=NOW)
        assert "urn:loa:2" == token["acr"]
        del token["aal"]
        assert AAL.AAL2 == policy.require(token, aal="aal2", now=NOW).aal

    def test_names_another_writer_stored_do_not_break_a_token(self) -> None:
        """Supabase's own token with another writer's TOTP and sso:okta is read;
        those entries count for nothing and raise no level."""
        token = {
            "aal": "aal2",
            "amr": [
                {"method": "TOTP", "timestamp": NOW - 10},
                {"method": "sso:okta", "timestamp": NOW - 20, "provider": ""},
                {"method": "password", "timestamp": NOW - 30},
            ],
        }
        ev = SUPABASE.evaluate(token, now=NOW)
        assert ["TOTP", "sso:okta", "password"] == [m.method for m in ev.methods]
        assert AAL.AAL1 == ev.amr_aal
        assert "amr supports only aal1" in step_up(SUPABASE, token, aal="aal2")
        SUPABASE.require(token, methods={"password"}, max_age=30, now=NOW)
        assert "the last was 30 s ago" in step_up(SUPABASE, token, max_age=29)
        with pytest.raises(AmrParseError, match="'TOTP' is not"):
            Policy.supabase(strict=True).evaluate(token, now=NOW)

    def test_empty_provider_is_left_out(self) -> None:
        """A provider of "" (Supabase's identity sso:) is no provider: token_claims
        leaves the key out rather than raising."""
        session = [_claim("sso/saml", 10)]
        token = SUPABASE.token_claims(SID, session, providers={"sso/saml": ""})
        assert [{"method": "sso/saml", "timestamp": NOW - 10}] == token["amr"]

    def test_one_token_one_verdict(self) -> None:
        """A passkey alone under supabase() is aal1 and its RFC amr has no mfa;
        password + sign-in otp under nist() is aal1 with no mfa, as password +
        magic link is."""
        passkey = SUPABASE.token_claims(
            SID, [_claim("passkey", 5)], style="rfc8176", now=NOW
        )
        assert ("aal1", ["pop", "user"]) == (passkey["aal"], passkey["amr"])
        for second, values in (("otp", ["otp", "pwd"]), ("magiclink", ["pwd"])):
            session = [_claim("password", 10), _claim(second, 5)]
            token = NIST.token_claims(SID, session, style="rfc8176", now=NOW)
            assert ("aal1", values) == (token["aal"], token["amr"])


class TestRequirement:
    def test_a_requirement_is_an_immutable_value(self) -> None:
        """policy.requirement gives a frozen, comparable, hashable value."""
        need = NIST.requirement(aal="aal2", methods=["otp", "pop"], max_age=600)
        assert need == NIST.requirement(
            aal=AAL.AAL2, methods={"pop", "otp"}, max_age=600
        )
        assert frozenset({"otp", "pop"}) == need.methods
        assert AAL.AAL2 is need.aal
        assert 60.0 == need.skew
        assert hash(need) == hash(
            NIST.requirement(aal="aal2", methods=("otp", "pop"), max_age=600)
        )
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            need.aal = AAL.AAL1  # type: ignore[misc]

    @pytest.mark.parametrize(
        "bad",
        [
            {"aal": "AAL2"},
            {"methods": "otp"},
            {"methods": []},
            {"methods": ["TOTP"]},
            {"methods": 5},
            {"max_age": -1},
            {"max_age": 1.5},
            {"skew": -1},
            {"skew": float("nan")},
            {"phishing_resistant": "yes"},
        ],
    )
    def test_a_bad_argument_fails_where_the_requirement_is_built(
        self, bad: dict[str, Any]
    ) -> None:
        """A wrong argument fails at policy.requirement(...), not at a request."""
        with pytest.raises(InvalidInputError):
            SUPABASE.requirement(**bad)

    @pytest.mark.parametrize(
        ("good", "bad"),
        [
            ({"max_age": 1}, {"max_age": 1.0}),
            ({"max_age": 1}, {"max_age": True}),
            ({"phishing_resistant": True}, {"phishing_resistant": 1}),
            ({"skew": 1}, {"skew": True}),
        ],
    )
    def test_require_refuses_a_bad_argument_equal_to_a_cached_one(
        self, good: dict[str, Any], bad: dict[str, Any]
    ) -> None:
        """require() refuses a bad argument even after an equal valid one (1.0 and
        True equal 1) was checked and its requirement cached."""
        payload = token(("password", 30), ("totp", 20))
        with contextlib.suppress(StepUpRequired):
            SUPABASE.require(payload, now=NOW, **good)
        with pytest.raises(InvalidInputError):
            SUPABASE.require(payload, now=NOW, **bad)

    def test_check_returns_the_evaluation(self) -> None:
        """check returns the token's Evaluation when every requirement holds."""
        need = SUPABASE.requirement(aal="aal2", max_age=600)
        payload = token(("password", 900), ("totp", 300))
        ev = need.check(payload, now=NOW)
        assert SUPABASE.evaluate(payload, now=NOW) == ev
        assert ev == SUPABASE.require(payload, aal="aal2", max_age=600, now=NOW)

    def test_check_raises_the_challenge_it_describes(self) -> None:
        """A refusal carries the requirement's acr_values and max_age; its
        challenge says what the requirement needs."""
        need = SUPABASE.requirement(aal="aal2", max_age=600)
        with pytest.raises(StepUpRequired) as info:
            need.check(token(("password", 900)), now=NOW)
        assert ("aal2", "aal3") == info.value.acr_values == need.challenge.acr_values
        assert 600 == info.value.max_age == need.challenge.max_age
        assert need.challenge.description == (
            "This request needs aal2; this request needs an authentication in the "
            "last 600 s"
        )
        assert need.challenge == StepUpChallenge.parse(
            need.challenge.www_authenticate()
        )

    def test_the_requirement_skew_defaults_to_the_policy(self) -> None:
        """Without skew, a requirement takes its policy's."""
        assert 5.0 == attrs.evolve(NIST, skew=5).requirement(max_age=1).skew


class TestPhishingResistance:
    HARDWARE_KEY = MethodSpec(
        "fido2/hardware", Factor.POSSESSION, ("hwk",), hardware_bound=True
    )

    def test_webauthn_and_passkeys_are_phishing_resistant(self) -> None:
        """A WebAuthn or passkey entry meets phishing_resistant=True; TOTP does not,
        and the challenge asks for phr or phrh."""
        need = SUPABASE.requirement(phishing_resistant=True)
        for method in ("mfa/webauthn", "passkey"):
            need.check(token(("password", 60), (method, 30)), now=NOW)
        with pytest.raises(StepUpRequired) as info:
            need.check(token(("password", 60), ("totp", 30)), now=NOW)
        assert ("phr", "phrh") == info.value.acr_values
        assert "needs a phishing-resistant sign-in" in info.value.description

    def test_hardware_needs_a_hardware_bound_key(self) -> None:
        """phishing_resistant="hardware" needs a hardware-bound method: WebAuthn of
        unknown hardware does not do, an attested key does; it asks for phrh."""
        policy = SUPABASE.with_method(self.HARDWARE_KEY)
        need = policy.requirement(phishing_resistant="hardware")
        with pytest.raises(StepUpRequired) as info:
            need.check(token(("mfa/webauthn", 30)), now=NOW)
        assert ("phrh",) == info.value.acr_values
        need.check(token(("fido2/hardware", 30)), now=NOW)

    def test_the_eap_acr_values_say_it(self) -> None:
        """A token whose acr is phr (or phrh) meets the requirement in any shape;
        RFC 8176 strings alone cannot say it."""
        need = SUPABASE.requirement(phishing_resistant=True)
        need.check({"acr": "phr", "amr": ["pwd"]}, now=NOW)
        need.check({"acr": "phrh"}, now=NOW)
        with pytest.raises(StepUpRequired):
            need.check({"aal": "aal2", "amr": ["pop", "hwk", "mfa"]}, now=NOW)
        hardware = SUPABASE.requirement(phishing_resistant="hardware")
        hardware.check({"acr": "phrh"}, now=NOW)
        with pytest.raises(StepUpRequired):
            hardware.check({"acr": "phr"}, now=NOW)


class TestRoundTrips:
    @given(claims=session_claims(), policy=st.sampled_from([SUPABASE, NIST]))
    def test_supabase_style(self, claims: list[AMRClaim], policy: Policy) -> None:
        """render_amr then parse_amr gives back the entries: methods, timestamps,
        providers."""
        providers = {"sso/saml": "provider-1"}
        rendered = policy.render_amr(
            claims, style=AmrStyle.SUPABASE, now=NOW, providers=providers
        )
        parsed = parse_amr(json.loads(json.dumps(rendered)))
        entries = policy.assess(claims, now=NOW, providers=providers).entries
        assert [(e.method, e.timestamp, e.provider) for e in entries] == [
            (p.method, p.timestamp, p.provider) for p in parsed
        ]

    @given(claims=session_claims(), policy=st.sampled_from([SUPABASE, NIST]))
    def test_rfc_style(self, claims: list[AMRClaim], policy: Policy) -> None:
        """render_amr then parse_amr gives back the values, without timestamps."""
        rendered = policy.render_amr(claims, style=AmrStyle.RFC8176, now=NOW)
        parsed = parse_amr(json.loads(json.dumps(rendered)), strict=True)
        assert rendered == [p.method for p in parsed]
        assert all(p.timestamp is None for p in parsed)

    @given(claims=session_claims(), policy=st.sampled_from([SUPABASE, NIST]))
    def test_reader_agrees_with_writer(
        self, claims: list[AMRClaim], policy: Policy
    ) -> None:
        """The level evaluate computes from a Supabase-shape token is the aal the
        same policy wrote into it."""
        payload = policy.token_claims(SID, claims, now=NOW)
        ev = policy.evaluate(payload, now=NOW)
        assert payload["aal"] == ev.amr_aal.value
        assert ev.aal == ev.amr_aal == ev.effective_aal

    @given(challenge=challenges)
    def test_challenge(self, challenge: StepUpChallenge) -> None:
        """www_authenticate then parse, with its default size bound, gives back the
        same challenge."""
        header = challenge.www_authenticate()
        assert header.isascii()
        assert len(header) <= MAX_HEADER_SIZE
        assert challenge == StepUpChallenge.parse(header)

    @given(text=st.text(min_size=MAX_DESCRIPTION + 1, max_size=3 * MAX_DESCRIPTION))
    def test_a_long_description_is_cut(self, text: str) -> None:
        """A description beyond MAX_DESCRIPTION characters is cut, ending in '...';
        StepUpRequired keeps the whole text for the logs."""
        exc = StepUpRequired(text)
        carried = exc.challenge().description
        assert MAX_DESCRIPTION == len(carried)
        assert carried.endswith("...")
        assert text == exc.description

    def test_acr_values_beyond_the_bound_are_refused(self) -> None:
        """acr_values longer than MAX_ACR_VALUES together cannot be sent."""
        StepUpChallenge(acr_values=("a" * 2048, "b" * 2047))
        with pytest.raises(InvalidInputError, match="acr_values of 4097 characters"):
            StepUpChallenge(acr_values=("a" * 2048, "b" * 2048))

    def test_a_requirement_of_many_long_names_gives_a_readable_challenge(
        self,
    ) -> None:
        """A requirement naming 130 methods of 64 characters refuses with a header
        that parse reads back with its defaults."""
        names = {f"{i:03d}" + "m" * 61 for i in range(130)}
        need = SUPABASE.requirement(methods=names)
        with pytest.raises(StepUpRequired) as info:
            need.check(token(("password", 30)), now=NOW)
        for challenge in (info.value.challenge(), need.challenge):
            assert challenge == StepUpChallenge.parse(challenge.www_authenticate())

    @given(
        description=descriptions,
        acr_values=acr_lists,
        max_age=st.none() | st.integers(0, 10**9),
    )
    def test_step_up_required(
        self, description: str, acr_values: list[str], max_age: int | None
    ) -> None:
        """StepUpRequired renders the challenge it carries, whatever the text."""
        exc = StepUpRequired(description, acr_values=acr_values, max_age=max_age)
        assert description == exc.description
        parsed = StepUpChallenge.parse(exc.www_authenticate())
        assert exc.challenge() == parsed
        assert tuple(acr_values) == parsed.acr_values
        assert max_age == parsed.max_age


class TestEvaluate:
    def test_supabase_token(self) -> None:
        """Methods with timestamps, the claimed aal, the computed level."""
        ev = SUPABASE.evaluate(token(("totp", 60), ("password", 120)), now=NOW)
        assert (
            ParsedMethod("totp", NOW - 60),
            ParsedMethod("password", NOW - 120),
        ) == ev.methods
        assert AmrStyle.SUPABASE == ev.style
        assert AAL.AAL2 == ev.aal == ev.amr_aal == ev.effective_aal
        assert ev.auth_time is None

    def test_no_amr(self) -> None:
        """A token without amr proves aal1 and lists nothing."""
        ev = SUPABASE.evaluate({"aal": "aal1"}, now=NOW)
        assert Evaluation((), None, AAL.AAL1, AAL.AAL1, None) == ev

    @pytest.mark.parametrize("aal", ["AAL2", "aal4", 2, True, None, ["aal2"]])
    def test_unreadable_aal_is_none(self, aal: object) -> None:
        """An aal that is not aal1..aal3 reads as no claim."""
        ev = SUPABASE.evaluate({"aal": aal}, now=NOW)
        assert ev.aal is None
        assert ev.effective_aal is None

    def test_auth_time(self) -> None:
        """auth_time reads as whole seconds; a fraction is floored."""
        assert 1700000000 == SUPABASE.evaluate({"auth_time": 1700000000}).auth_time
        assert 1700000000 == SUPABASE.evaluate({"auth_time": 1700000000.9}).auth_time

    @pytest.mark.parametrize(
        ("auth_time", "message"),
        [
            ("1700000000", "got a string"),
            (True, "got a boolean"),
            (-1, "must not be negative"),
            (float("nan"), "finite"),
            (float("inf"), "finite"),
            (MAX_TIMESTAMP + 1, "9999"),
        ],
    )
    def test_bad_auth_time(self, auth_time: object, message: str) -> None:
        """A malformed auth_time is a parse error naming auth_time."""
        with pytest.raises(AmrParseError, match=f"^auth_time: .*{message}"):
            SUPABASE.evaluate({"auth_time": auth_time})

    @pytest.mark.parametrize("payload", [[], "token", 5, None])
    def test_payload_must_be_an_object(self, payload: Any) -> None:
        """A payload that is not a JSON object is a parse error."""
        with pytest.raises(AmrParseError, match=r"^payload: expected a decoded token"):
            SUPABASE.evaluate(payload)

    def test_strict_policy_parses_strictly(self) -> None:
        """A strict policy refuses unknown methods in the token."""
        payload = token(("custom", 1))
        assert AAL.AAL1 == SUPABASE.evaluate(payload, now=NOW).amr_aal
        with pytest.raises(AmrParseError, match="neither"):
            Policy.supabase(strict=True).evaluate(payload, now=NOW)

    def test_evaluation_is_frozen(self) -> None:
        """An Evaluation cannot change."""
        ev = SUPABASE.evaluate({}, now=NOW)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            ev.aal = AAL.AAL3  # type: ignore[misc]


class TestComputedLevel:
    """The level a policy computes from a token's amr."""

    @pytest.mark.parametrize(
        ("entries", "supabase", "nist"),
        [
            ([("password", 60)], AAL.AAL1, AAL.AAL1),
            ([("password", 60), ("totp", 30)], AAL.AAL2, AAL.AAL2),
            ([("oauth", 60), ("totp", 30)], AAL.AAL2, AAL.AAL1),
            ([("passkey", 30)], AAL.AAL1, AAL.AAL2),
            ([("password", 60), ("magiclink", 30)], AAL.AAL1, AAL.AAL1),
            ([("custom", 60), ("password", 30)], AAL.AAL1, AAL.AAL1),
            # 13 hours: fresh for Supabase (no window), stale under NIST's 12 h.
            ([("password", 13 * 3600), ("totp", 13 * 3600)], AAL.AAL2, AAL.AAL1),
        ],
    )
    def test_supabase_shape_follows_the_rule(
        self, entries: list[tuple[str, int]], supabase: AAL, nist: AAL
    ) -> None:
        """Supabase-shape entries are judged by the policy's own rule and windows."""
        payload = token(*entries)
        assert supabase == SUPABASE.evaluate(payload, now=NOW).amr_aal
        assert nist == NIST.evaluate(payload, now=NOW).amr_aal

    def test_hardware_key_reaches_aal3_under_nist(self) -> None:
        """A hardware-bound custom method plus a password is aal3 under NIST."""
        policy = NIST.with_method(
            MethodSpec("yubikey", "possession", ("hwk",), hardware_bound=True)
        )
        payload = token(("yubikey", 10), ("password", 20))
        assert AAL.AAL3 == policy.evaluate(payload, now=NOW).amr_aal

    @pytest.mark.parametrize(
        ("amr", "supabase", "nist"),
        [
            (["pwd"], AAL.AAL1, AAL.AAL1),
            (["otp"], AAL.AAL1, AAL.AAL1),
            (["pwd", "otp"], AAL.AAL2, AAL.AAL2),
            (["pwd", "otp", "mfa"], AAL.AAL2, AAL.AAL2),
            (["mfa"], AAL.AAL2, AAL.AAL2),
            (["pop", "user", "mfa"], AAL.AAL2, AAL.AAL2),
            (["pop", "user"], AAL.AAL1, AAL.AAL1),  # presence is not a factor
            (["kba", "otp"], AAL.AAL1, AAL.AAL1),  # NIST: kba never raises
            (["otp", "sms"], AAL.AAL1, AAL.AAL1),  # one kind twice
            (["fpt", "swk"], AAL.AAL2, AAL.AAL2),
            (["pin", "hwk"], AAL.AAL2, AAL.AAL3),
            (["sc", "pin"], AAL.AAL2, AAL.AAL3),
            (["hwk", "mfa"], AAL.AAL2, AAL.AAL3),
            (["geo", "rba", "wia", "mca"], AAL.AAL1, AAL.AAL1),
            (["password", "totp"], AAL.AAL1, AAL.AAL1),  # not registered values
        ],
    )
    def test_string_shape_counts_registered_values(
        self, amr: list[str], supabase: AAL, nist: AAL
    ) -> None:
        """Strings: aal2 with mfa or two factor kinds; aal3 (NIST only) with hwk or
        sc among two kinds."""
        payload = {"aal": "aal3", "amr": amr, "auth_time": NOW - 60}
        assert supabase == SUPABASE.evaluate(payload, now=NOW).amr_aal
        assert nist == NIST.evaluate(payload, now=NOW).amr_aal

    def test_string_shape_windows_use_auth_time(self) -> None:
        """Under windows, string entries are as old as auth_time; without it they
        do not count."""
        amr = ["pwd", "otp", "mfa"]
        fresh = {"amr": amr, "auth_time": NOW - 3600}
        stale = {"amr": amr, "auth_time": NOW - 13 * 3600}
        assert AAL.AAL2 == NIST.evaluate(fresh, now=NOW).amr_aal
        assert AAL.AAL1 == NIST.evaluate(stale, now=NOW).amr_aal
        assert AAL.AAL1 == NIST.evaluate({"amr": amr}, now=NOW).amr_aal
        assert AAL.AAL2 == SUPABASE.evaluate({"amr": amr}, now=NOW).amr_aal


class TestRequireLevel:
    def test_met(self) -> None:
        """A token at the demanded level passes; an AAL or its string both work."""
        payload = token(("password", 60), ("totp", 30))
        SUPABASE.require(payload, aal="aal2", now=NOW)
        SUPABASE.require(payload, aal=AAL.AAL1, now=NOW)

    def test_aal_missing_fails_closed(self) -> None:
        """A token with neither aal nor an acr the policy maps fails any level
        requirement, even aal1, naming both claims."""
        payload = token(("password", 60), ("totp", 30), aal=None)
        assert "claims no level (no aal, and no acr" in step_up(
            SUPABASE, payload, aal="aal1"
        )
        unknown_acr = {**payload, "acr": "urn:example:gold"}
        assert "claims no level" in step_up(SUPABASE, unknown_acr, aal="aal1")

    def test_lower_aal(self) -> None:
        """A token claiming a lower level fails."""
        payload = token(("password", 60), aal="aal1")
        assert "needs aal2 but the token is aal1" in step_up(
            SUPABASE, payload, aal="aal2"
        )

    def test_aal_higher_than_the_amr_supports(self) -> None:
        """A claimed aal2 with a password-only amr fails: the lower level counts."""
        payload = token(("password", 60), aal="aal2")
        description = step_up(SUPABASE, payload, aal="aal2")
        assert "amr supports only aal1 (it claims aal2)" in description

    def test_aal3_claim_not_supported_by_supabase_rule(self) -> None:
        """The Supabase rule never computes aal3, whatever the token claims."""
        payload = token(("password", 60), ("totp", 30), aal="aal3")
        assert "supports only aal2" in step_up(SUPABASE, payload, aal="aal3")

    def test_stale_factor_under_nist(self) -> None:
        """Under NIST windows, a 13-hour-old second factor no longer makes aal2."""
        payload = token(("password", 13 * 3600), ("totp", 13 * 3600))
        SUPABASE.require(payload, aal="aal2", now=NOW)
        assert "supports only aal1" in step_up(NIST, payload, aal="aal2")

    def test_bad_aal_argument(self) -> None:
        """An aal argument that is not a level is a programming error."""
        with pytest.raises(InvalidAALError):
            SUPABASE.require(token(("password", 1)), aal="AAL2", now=NOW)

    def test_acr_values_name_the_level_and_above(self) -> None:
        """The challenge's acr_values: the demanded level first, then higher ones,
        in the policy's acr names."""
        payload = token(("password", 60), aal="aal1")
        with pytest.raises(StepUpRequired) as info:
            SUPABASE.require(payload, aal="aal2", now=NOW)
        assert ("aal2", "aal3") == info.value.acr_values
        policy = attrs.evolve(
            SUPABASE,
            acr_values={"aal1": "urn:x:1", "aal2": "urn:x:2", "aal3": "urn:x:3"},
        )
        with pytest.raises(StepUpRequired) as info:
            policy.require(payload, aal="aal3", now=NOW)
        assert ("urn:x:3",) == info.value.acr_values
        assert AAL.AAL3 == policy.aal_for_acr(info.value.acr_values[0])


class TestRequireMethods:
    @pytest.mark.parametrize(
        ("method", "wanted", "met"),
        [
            ("totp", {"otp"}, True),
            ("otp", {"otp"}, True),
            ("totp", {"totp"}, True),
            ("otp", {"totp"}, False),
            ("password", {"otp", "hwk"}, False),
            ("mfa/webauthn", {"otp", "pop"}, True),
            ("passkey", {"user"}, True),
            ("mfa/phone", {"sms"}, True),
            ("mfa/phone", {"mfa/phone"}, True),
            ("custom", {"custom"}, True),
            ("custom", {"otp"}, False),
        ],
    )
    def test_supabase_shape(self, method: str, wanted: set[str], met: bool) -> None:
        """A method meets a set by its own name or by an RFC 8176 value the
        catalog maps it to: {"otp"} takes totp and sign-in otp, {"totp"} only
        totp."""
        payload = token((method, 60))
        if met:
            SUPABASE.require(payload, methods=wanted, now=NOW)
        else:
            assert "the token's amr has none of that" in step_up(
                SUPABASE, payload, methods=wanted
            )

    @pytest.mark.parametrize(
        ("amr", "wanted", "met"),
        [
            (["pwd", "otp"], {"otp"}, True),
            (["pwd", "otp"], {"totp"}, False),
            (["pwd", "hwk"], {"otp", "hwk"}, True),
            (["fed"], {"fed"}, True),
            (["pwd", "otp", "mfa"], {"mfa"}, True),
        ],
    )
    def test_string_shape(self, amr: list[str], wanted: set[str], met: bool) -> None:
        """String entries meet a set by their own value."""
        payload = {"aal": "aal2", "amr": amr}
        if met:
            SUPABASE.require(payload, methods=wanted, now=NOW)
        else:
            step_up(SUPABASE, payload, methods=wanted)

    def test_mfa_is_not_derived_for_objects(self) -> None:
        """{"mfa"} matches only a token listing mfa; a level asks for MFA."""
        payload = token(("password", 60), ("totp", 30))
        step_up(SUPABASE, payload, methods={"mfa"})
        SUPABASE.require(payload, aal="aal2", now=NOW)

    def test_no_amr(self) -> None:
        """A token without amr meets no method requirement."""
        step_up(SUPABASE, {"aal": "aal2"}, methods={"otp"})

    @pytest.mark.parametrize(
        ("methods", "error"),
        [
            ("otp", InvalidInputError),
            (AuthenticationMethod.TOTP, InvalidInputError),
            (set(), InvalidInputError),
            ({"OTP"}, InvalidMethodError),
        ],
    )
    def test_bad_methods_argument(self, methods: Any, error: type[Exception]) -> None:
        """A bare string, an empty set or a malformed name is refused."""
        with pytest.raises(error):
            SUPABASE.require(token(("totp", 1)), methods=methods, now=NOW)

    def test_enum_members_in_a_set(self) -> None:
        """A set of AuthenticationMethod members works as their strings."""
        SUPABASE.require(
            token(("totp", 1)), methods={AuthenticationMethod.TOTP}, now=NOW
        )


class TestRequireMaxAge:
    def test_uses_the_newest_satisfying_method(self) -> None:
        """max_age is measured from the newest method that meets the set."""
        payload = token(("password", 30), ("totp", 600))
        SUPABASE.require(payload, max_age=60, now=NOW)  # password counts
        description = step_up(SUPABASE, payload, methods={"otp"}, max_age=60)
        assert "the last was 600 s ago" in description
        SUPABASE.require(payload, methods={"otp"}, max_age=600, now=NOW)

    def test_newest_of_several(self) -> None:
        """Of several satisfying methods, the newest decides."""
        payload = token(("totp", 900), ("mfa/webauthn", 100))
        SUPABASE.require(payload, methods={"otp", "pop"}, max_age=120, now=NOW)

    def test_string_entries_fall_back_to_auth_time(self) -> None:
        """RFC-style entries are as old as auth_time."""
        payload = {"aal": "aal2", "amr": ["pwd", "otp"], "auth_time": NOW - 100}
        SUPABASE.require(payload, methods={"otp"}, max_age=100, now=NOW)
        assert "the last was 100 s ago" in step_up(
            SUPABASE, payload, methods={"otp"}, max_age=99
        )

    def test_no_time_at_all_fails_closed(self) -> None:
        """String entries without auth_time: max_age is never met."""
        payload = {"aal": "aal2", "amr": ["pwd", "otp"]}
        description = step_up(SUPABASE, payload, max_age=10**9)
        assert "gives no time for it" in description

    def test_auth_time_alone(self) -> None:
        """Without amr, auth_time is the time of authentication."""
        SUPABASE.require({"auth_time": NOW - 5}, max_age=5, now=NOW)
        step_up(SUPABASE, {}, max_age=5)

    def test_zero(self) -> None:
        """max_age=0 asks for an authentication in this very second."""
        SUPABASE.require(token(("password", 0)), max_age=0, now=NOW)
        step_up(SUPABASE, token(("password", 1)), max_age=0)

    @pytest.mark.parametrize("bad", [-1, 1.5, True, "60", MAX_TIMESTAMP + 1])
    def test_bad_max_age_argument(self, bad: Any) -> None:
        """max_age must be whole non-negative seconds."""
        with pytest.raises(InvalidInputError, match="max_age"):
            SUPABASE.require(token(("password", 1)), max_age=bad, now=NOW)

    def test_challenge_carries_max_age(self) -> None:
        """The challenge repeats max_age so the client can ask for it."""
        with pytest.raises(StepUpRequired) as info:
            SUPABASE.require(token(("password", 600)), max_age=300, now=NOW)
        assert 300 == info.value.max_age
        assert info.value.www_authenticate().endswith(", max_age=300")


class TestRequireClock:
    def test_future_timestamp_proves_no_freshness(self) -> None:
        """A timestamp more than skew seconds ahead proves nothing about time: it
        meets no max_age and counts toward no windowed level."""
        payload = token(("password", 10), ("totp", -61))
        description = step_up(SUPABASE, payload, max_age=300, methods={"totp"})
        assert "61 s in the future, beyond the 60 s of clock skew" in description
        assert "needs aal2" in step_up(NIST, payload, aal="aal2")
        NIST.require(payload, aal="aal1", max_age=300, now=NOW)  # the password

    def test_future_timestamp_counts_without_windows(self) -> None:
        """Under the Supabase rule, which has no windows, the method of a future
        entry still counts, as the issuing side counts it."""
        payload = token(("password", 10), ("totp", -61))
        SUPABASE.require(payload, aal="aal2", methods={"otp"}, now=NOW)

    def test_within_skew(self) -> None:
        """A timestamp up to skew seconds ahead is clock drift, not a failure."""
        payload = token(("password", -60), ("totp", -60))
        NIST.require(payload, aal="aal2", max_age=0, now=NOW)
        step_up(NIST, payload, aal="aal2", skew=59)
        step_up(NIST, payload, max_age=0, skew=59)

    def test_future_auth_time(self) -> None:
        """An auth_time beyond skew proves no freshness either."""
        payload = {"aal": "aal2", "amr": ["pwd", "otp"], "auth_time": NOW + 3600}
        assert "3600 s in the future" in step_up(SUPABASE, payload, max_age=60)
        assert "needs aal2" in step_up(NIST, payload, aal="aal2")

    def test_no_requirement_no_check(self) -> None:
        """With nothing required, require only checks the token reads."""
        SUPABASE.require(token(("password", -(10**6))), now=NOW)
        with pytest.raises(AmrParseError):
            SUPABASE.require({"amr": 5}, now=NOW)

    @pytest.mark.parametrize(
        "bad",
        [-1, True, "60", float("inf"), float("nan"), 1e300, timedelta(seconds=-1)],
    )
    def test_bad_skew(self, bad: Any) -> None:
        """skew must be non-negative seconds (at most a century) or a timedelta,
        as a policy's and a store's."""
        with pytest.raises(InvalidInputError, match="skew"):
            SUPABASE.require({}, aal="aal1", skew=bad, now=NOW)
        with pytest.raises(InvalidInputError, match="skew"):
            attrs.evolve(SUPABASE, skew=bad)

    def test_skew_as_a_timedelta(self) -> None:
        """A requirement's skew may be a timedelta; it keeps seconds."""
        assert 90.0 == SUPABASE.requirement(skew=timedelta(seconds=90)).skew

    def test_now_as_datetime(self) -> None:
        """now may be an aware datetime."""
        at = datetime.fromtimestamp(NOW, UTC)
        SUPABASE.require(token(("password", 10)), max_age=10, now=at)
        step_up(SUPABASE, token(("password", 10)), max_age=9)
        SUPABASE.require(
            token(("password", 10)), max_age=10, now=at + timedelta(microseconds=999)
        )


class TestRequireDescription:
    def test_names_every_shortfall(self) -> None:
        """One challenge lists every requirement not met, for people."""
        payload = token(("password", 3600), aal="aal1")
        description = step_up(
            SUPABASE, payload, aal="aal2", methods={"hwk", "otp"}, max_age=300
        )
        assert description.startswith("This request needs aal2 but the token is aal1")
        assert "needs hwk or otp" in description
        # max_age is not judged over methods that are not there.
        assert "300 s" not in description

    def test_header_is_ascii(self) -> None:
        """The rendered challenge is plain ASCII, sendable by any HTTP stack."""
        with pytest.raises(StepUpRequired) as info:
            SUPABASE.require(token(("password", 1), aal="aal1"), aal="aal2", now=NOW)
        assert info.value.www_authenticate().isascii()


class TestStepUpChallengeRendering:
    def test_full(self) -> None:
        """Every parameter, in RFC 9470's order."""
        challenge = StepUpChallenge("Need MFA", ("aal2", "aal3"), 300)
        assert (
            'Bearer error="insufficient_user_authentication", '
            'error_description="Need MFA", acr_values="aal2 aal3", max_age=300'
        ) == challenge.www_authenticate()

    def test_empty_parts_left_out(self) -> None:
        """No description, acr_values or max_age: only the error."""
        assert (
            'Bearer error="insufficient_user_authentication"'
            == StepUpChallenge().www_authenticate()
        )

    def test_quotes_and_backslashes_escaped(self) -> None:
        """RFC 9110 quoted-string: a quote and a backslash get a backslash."""
        header = StepUpChallenge('say "hi" \\o/').www_authenticate()
        assert 'error_description="say \\"hi\\" \\\\o/"' in header

    @pytest.mark.parametrize(
        ("text", "sent"),
        [
            ("line\r\nbreak\ttab\x00nul\x7f", "line  break tab nul "),
            ("Vérifiez l'identité", "Verifiez l'identite"),
            ("→ 😀", "? ?"),
            ("zero\u200bwidth", "zerowidth"),
            ("ﬁne", "fine"),
        ],
    )
    def test_header_safe_description(self, text: str, sent: str) -> None:
        """Control characters become spaces; other text is kept to ASCII."""
        assert sent == StepUpChallenge(text).description
        assert StepUpRequired(text).www_authenticate().isascii()
        assert text == StepUpRequired(text).description

    @pytest.mark.parametrize("acr", ["", "a b", 'a"b', "a\\b", "é", "a\tb", 5])
    def test_bad_acr_values(self, acr: Any) -> None:
        """An acr value that the header cannot carry is refused."""
        with pytest.raises(InvalidInputError, match="acr value"):
            StepUpChallenge(acr_values=(acr,))

    def test_acr_values_not_a_bare_string(self) -> None:
        """A bare string is not a sequence of values."""
        with pytest.raises(InvalidInputError, match="not the string"):
            StepUpChallenge(acr_values="aal2")

    @pytest.mark.parametrize("bad", [-1, 1.5, True, "5", MAX_TIMESTAMP + 1])
    def test_bad_max_age(self, bad: Any) -> None:
        """max_age must be whole non-negative seconds."""
        with pytest.raises(InvalidInputError, match="max_age"):
            StepUpChallenge(max_age=bad)

    def test_step_up_required_checks_on_construction(self) -> None:
        """An exception that could not be rendered is never raised."""
        with pytest.raises(InvalidInputError):
            StepUpRequired("x", acr_values=("a b",))

    def test_authorization_params(self) -> None:
        """What the client adds to its next authorization request."""
        assert {"acr_values": "aal2 aal3", "max_age": "0"} == StepUpChallenge(
            "x", ("aal2", "aal3"), 0
        ).authorization_params()
        assert {} == StepUpChallenge("x").authorization_params()

    def test_step_up_required_pickles(self) -> None:
        """The exception survives pickling (process pools, task queues)."""
        exc = StepUpRequired("x", acr_values=("aal2",), max_age=5)
        copy = pickle.loads(pickle.dumps(exc))
        assert exc.challenge() == copy.challenge()
        assert ("x", ("aal2",), 5) == (copy.description, copy.acr_values, copy.max_age)


class TestStepUpChallengeParse:
    @pytest.mark.parametrize(
        "header",
        [
            'Bearer error="insufficient_user_authentication", error_description="A \\"b\\"", acr_values="aal2 aal3", max_age=300',
            'Bearer max_age=300, acr_values="aal2 aal3", error_description="A \\"b\\"", error="insufficient_user_authentication"',
            'bearer   ERROR = insufficient_user_authentication ,max_age="300",acr_values = "aal2  aal3",Error_Description="A \\"b\\""',
            'BEARER error=insufficient_user_authentication, error_description="A \\"\\b\\"", acr_values="aal2\taal3", max_age=300, realm="api", scope="x y"',
            'Basic realm="x", Bearer error="insufficient_user_authentication", error_description="A \\"b\\"", acr_values="aal2 aal3", max_age=300, DPoP algs="ES256"',
            'Negotiate abc+/==, Bearer realm="r", error="insufficient_user_authentication", error_description="A \\"b\\"", acr_values="aal2 aal3", max_age=300',
            ', Bearer error="invalid_token", , Bearer error="insufficient_user_authentication", error_description="A \\"b\\"", acr_values="aal2 aal3", max_age=00300 ,',
        ],
    )  # fmt: skip
    def test_tolerates_what_rfc_9110_allows(self, header: str) -> None:
        """Order, spacing, case, token or quoted-string, other challenges and
        parameters: all read the same challenge."""
        assert StepUpChallenge('A "b"', ("aal2", "aal3"), 300) == (
            StepUpChallenge.parse(header)
        )

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ('Bearer error="insufficient_user_authentication', "not closed"),
            ('Bearer error="insufficient_user_authentication", error_description="a\\', "not closed"),
            ('Bearer error="insufficient_user_authentication", error_description="a\nb"', "control character"),
            ('Bearer error="insufficient_user_authentication", error_description="a\\\x00"', "control character"),
            ('Bearer error="insufficient_user_authentication", error_description=a"b"', "expected ','"),
            ('Bearer error=insufficient_user_authentication max_age=3', "expected ','"),
            ('Bearer error="insufficient_user_authentication" "x"', "expected ','"),
            ('Bearer error=insufficient_user_authentication, error=insufficient_user_authentication', "appears twice"),
            ('Bearer error=insufficient_user_authentication, max_age=-1', "max_age must be whole seconds"),
            ('Bearer error=insufficient_user_authentication, max_age="1.5"', "max_age must be whole seconds"),
            ('Bearer error=insufficient_user_authentication, max_age="9999999999999999999999"', "max_age must be whole seconds"),
            ('Bearer error=insufficient_user_authentication, max_age="99999999999999"', "max_age"),
            ('Bearer error=insufficient_user_authentication, acr_values="a\\"b"', "acr value"),
            ('Bearer error="invalid_token"', "error is 'invalid_token'"),
            ('Bearer realm="api"', "error is missing"),
            ('Basic realm="x"', "no Bearer challenge"),
            ("", "no Bearer challenge"),
            ("=x", "auth-scheme"),
            ('Bearer="x"', "space after the auth-scheme"),
            ("Bearer a b", "expected name=value"),
        ],
    )  # fmt: skip
    def test_refuses_malformed(self, header: str, message: str) -> None:
        """A malformed value is refused with a clear ChallengeParseError."""
        with pytest.raises(ChallengeParseError, match=re.escape(message)):
            StepUpChallenge.parse(header)

    def test_not_a_string(self) -> None:
        """Bytes are not a header value: decode them first."""
        with pytest.raises(ChallengeParseError, match="must be a str"):
            StepUpChallenge.parse(b"Bearer")  # type: ignore[arg-type]

    @given(st.text())
    def test_any_text_parses_or_is_refused(self, header: str) -> None:
        """parse never fails with anything but ChallengeParseError."""
        with contextlib.suppress(ChallengeParseError):
            StepUpChallenge.parse(header)


class TestStepUpChallengeHeaderSize:
    """parse refuses a value longer than its max_size before reading it, so a hostile
    WWW-Authenticate costs microseconds, not seconds."""

    VALID = 'Bearer error="insufficient_user_authentication", acr_values="aal2"'

    def test_the_default_bound_is_8_kib(self) -> None:
        """A valid challenge padded to 8,192 characters parses; one more is refused
        naming the size and the bound."""
        fits = self.VALID + " " * (8192 - len(self.VALID))
        assert ("aal2",) == StepUpChallenge.parse(fits).acr_values
        with pytest.raises(
            ChallengeParseError, match=r"8193 characters.*max_size=8192"
        ):
            StepUpChallenge.parse(fits + " ")

    def test_max_size_is_an_argument(self) -> None:
        """max_size= raises or lowers the bound."""
        long = self.VALID + ", " + ", ".join(f"p{n}=v" for n in range(2000))
        assert ("aal2",) == StepUpChallenge.parse(long, max_size=len(long)).acr_values
        with pytest.raises(ChallengeParseError, match="max_size=20"):
            StepUpChallenge.parse(self.VALID, max_size=20)

    @pytest.mark.parametrize("max_size", [0, -1, 1.5, True, "8192", None])
    def test_a_bad_bound_is_refused(self, max_size: object) -> None:
        """max_size must be a positive int."""
        with pytest.raises(InvalidInputError, match="max_size"):
            StepUpChallenge.parse(self.VALID, max_size=max_size)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "hostile",
        [
            "Bearer " + ", ".join(f"p{n}=v" for n in range(400_000)),
            'Bearer error="' + "x" * 4_000_000 + '"',
            "Bearer " + "," * 4_000_000,
        ],
        ids=["parameters", "quoted", "commas"],
    )
    def test_a_hostile_megabyte_is_refused_at_once(self, hostile: str) -> None:
        """Megabytes of parameters, of a quoted-string or of commas (0.3-0.6 s of
        reading per 2 MB, measured) are refused in microseconds (5 ms allowed for a
        loaded machine)."""
        started = time.perf_counter()
        with pytest.raises(ChallengeParseError, match="max_size"):
            StepUpChallenge.parse(hostile)
        assert time.perf_counter() - started < 0.005
