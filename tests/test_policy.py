"""Policy, Assessment, AAL and AmrStyle: levels and `amr` rendering (mfa_amr._policy)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mfa_amr import (
    AAL,
    DEFAULT_CATALOG,
    DEFAULT_MAX_ENTRIES,
    AMRClaim,
    AMREntry,
    AmrStyle,
    Assessment,
    AuthenticationMethod,
    Factor,
    LevelRule,
    MethodSpec,
    Policy,
    rfc8176,
)
from mfa_amr._claims import claim_from_row
from mfa_amr._grammar import unix_seconds
from mfa_amr.exceptions import (
    InvalidAALError,
    InvalidClaimError,
    InvalidInputError,
    InvalidMethodError,
    UnrecordableMethodError,
)
from strategies import (
    KNOWN_METHODS,
    SUPABASE_AAL2_METHODS,
    claims,
    method_specs,
    noncanonical_spellings,
    nows,
    providers,
    sessions,
    unknown_methods,
    valid_method_names,
)

UTC = UTC
SID = uuid.UUID("5f0f1d2e-8b6a-4c3e-9d1f-2a7b8c9d0e1f")
OTHER_SID = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
SAML_PROVIDER = "d8f1e0c2-6a4b-4c9e-8f7a-3b2c1d0e9f8a"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T0_UNIX = 1767268800
NOW = T0 + timedelta(minutes=5)
SUPABASE = Policy.supabase()
NIST = Policy.nist()
HOURS_12 = timedelta(hours=12)


def claim(
    method: str | AuthenticationMethod,
    updated_at: datetime = T0,
    created_at: datetime | None = None,
    session_id: uuid.UUID = SID,
) -> AMRClaim:
    """A claim of SID, first proved at ``created_at`` (default: ``updated_at``)."""
    return AMRClaim(
        id=uuid.uuid4(),
        session_id=session_id,
        authentication_method=method,
        created_at=created_at or updated_at,
        updated_at=updated_at,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- a reference model of the default catalog's behaviour, written independently ----

COUNTED = {
    "password": {"k"},
    "totp": {"p"},
    "mfa/phone": {"p"},
    "mfa/webauthn": {"p"},
    "passkey": {"p", "i"},
    "web3": {"p"},
}
RFC = {
    "password": ["pwd"],
    "otp": ["otp"],
    "totp": ["otp"],
    "mfa/phone": ["sms"],
    "mfa/webauthn": ["pop"],
    "passkey": ["pop", "user"],
    "web3": ["swk"],
}


def model(
    claims: Sequence[AMRClaim], rule: str, now: datetime
) -> tuple[str, list[tuple[str, int]], list[str]]:
    """(aal, [(method, timestamp)], rfc values) as the docs describe them."""
    latest: dict[str, datetime] = {}
    for c in claims:
        latest[c.method] = max(latest.get(c.method, c.updated_at), c.updated_at)
    entries = sorted(
        (
            (m, int((u - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1))
            for m, u in latest.items()
        ),
        key=lambda e: (-e[1], e[0]),
    )
    seconds = dict(entries)
    now_s = int((now - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1)
    if rule == "supabase":
        counted = [m for m in latest if m in KNOWN_METHODS]
        aal = "aal2" if any(m in SUPABASE_AAL2_METHODS for m in counted) else "aal1"
    else:
        # whole seconds: at most 12 hours old, at most 60 s (the skew) ahead
        counted = [
            m
            for m in latest
            if m in KNOWN_METHODS and -60 <= now_s - seconds[m] <= 43_200
        ]
        kinds = set().union(*(COUNTED.get(m, set()) for m in counted))
        aal = "aal2" if "passkey" in counted or len(kinds) >= 2 else "aal1"
    values: list[str] = []
    for m, _ in entries:
        values += [v for v in RFC.get(m, []) if v not in values]
    if aal != "aal1":
        values.append("mfa")
    return aal, entries, values


class TestAAL:
    def test_ordered(self) -> None:
        """aal1 < aal2 < aal3, and sorting and max follow."""
        assert AAL.AAL1 < AAL.AAL2 < AAL.AAL3
        assert AAL.AAL3 > AAL.AAL1
        assert AAL.AAL2 <= AAL.AAL2
        assert [AAL.AAL1, AAL.AAL2, AAL.AAL3] == sorted([AAL.AAL3, AAL.AAL1, AAL.AAL2])
        assert AAL.AAL3 == max(AAL)

    def test_values_are_claim_strings(self) -> None:
        """`.value` and str() give the token's `aal` claim."""
        assert ["aal1", "aal2", "aal3"] == [level.value for level in AAL]
        assert "aal2" == str(AAL.AAL2)

    def test_a_level_is_its_claim_string(self) -> None:
        """A level is a str: equal to its claim string, ordered as the strings are,
        and JSON-ready as it is."""
        claimed: str = "aal2"  # what a decoded token holds
        assert AAL.AAL2 == claimed
        assert AAL.AAL1 < claimed < AAL.AAL3
        assert '["aal1", "aal3"]' == json.dumps([AAL.AAL1, AAL.AAL3])
        assert {"aal": "aal2"} == json.loads(json.dumps({"aal": AAL.AAL2}))

    @pytest.mark.parametrize("level", list(AAL))
    def test_of(self, level: AAL) -> None:
        """AAL.of takes a level or its claim string."""
        assert level is AAL.of(level)
        assert level is AAL.of(level.value)

    @pytest.mark.parametrize("value", ["AAL2", "aal4", "2", "", " aal1", 2, None])
    def test_of_refuses(self, value: object) -> None:
        """Anything else raises InvalidAALError, a ValueError."""
        with pytest.raises(InvalidAALError, match="'aal1', 'aal2' or 'aal3'"):
            AAL.of(value)  # type: ignore[arg-type]
        assert issubclass(InvalidAALError, ValueError)


class TestAmrStyle:
    def test_values(self) -> None:
        """The two styles, named by strings."""
        assert {"supabase", "rfc8176"} == {s.value for s in AmrStyle}
        assert AmrStyle.RFC8176 is AmrStyle("rfc8176")
        assert "supabase" == str(AmrStyle.SUPABASE)

    def test_style_as_its_string(self) -> None:
        """A style is taken as its string too, wherever a style is taken."""
        session = [claim("password"), claim("totp", T0 + timedelta(seconds=1))]
        assert SUPABASE.render_amr(session, style=AmrStyle.RFC8176) == (
            SUPABASE.render_amr(session, style="rfc8176")
        )
        assert SUPABASE.render_amr(session) == SUPABASE.render_amr(
            session, style="supabase"
        )
        assert SUPABASE.token_claims(SID, session, style="rfc8176") == (
            SUPABASE.token_claims(SID, session, style=AmrStyle.RFC8176)
        )

    def test_bad_style_refused(self) -> None:
        """A style that is not an AmrStyle is refused."""
        with pytest.raises(InvalidInputError, match="style must be"):
            SUPABASE.render_amr([claim("password")], style="oidc")


class TestPresets:
    def test_supabase_is_the_default_catalog_without_windows(self) -> None:
        """supabase(): the Supabase rule, all 17 methods, no freshness windows."""
        assert LevelRule.SUPABASE is SUPABASE.rule
        assert {s.name for s in DEFAULT_CATALOG} == set(SUPABASE.methods)
        assert SUPABASE.aal2_max_age is None
        assert SUPABASE.aal3_max_age is None
        assert not SUPABASE.strict

    def test_nist_has_12_hour_windows(self) -> None:
        """nist(): the factor rule with 12-hour windows for aal2 and aal3."""
        assert LevelRule.NIST is NIST.rule
        assert HOURS_12 == NIST.aal2_max_age
        assert HOURS_12 == NIST.aal3_max_age

    def test_strict_flag(self) -> None:
        """Both presets take strict=True."""
        assert Policy.supabase(strict=True).strict
        assert Policy.nist(strict=True).strict

    def test_presets_equal_themselves(self) -> None:
        """A preset built twice is the same value."""
        assert Policy.supabase() == SUPABASE
        assert Policy.nist() == NIST
        assert SUPABASE != NIST

    def test_policy_is_frozen(self) -> None:
        """A policy cannot be changed in place, nor can its catalog."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            SUPABASE.strict = True  # type: ignore[misc]
        with pytest.raises(TypeError):
            SUPABASE.methods["x"] = MethodSpec("x", Factor.POSSESSION)  # type: ignore[index]

    @pytest.mark.parametrize("window", [0, -1, timedelta(0), "12h", True])
    def test_bad_window_refused(self, window: object) -> None:
        """A freshness window is a positive timedelta or seconds."""
        with pytest.raises(InvalidInputError, match="freshness window"):
            attrs.evolve(NIST, aal2_max_age=window)  # type: ignore[arg-type]

    def test_window_in_seconds(self) -> None:
        """A window may be given in seconds."""
        assert (
            timedelta(minutes=15) == attrs.evolve(NIST, aal3_max_age=900).aal3_max_age
        )

    def test_catalog_must_hold_specs(self) -> None:
        """A policy's methods are MethodSpec values."""
        with pytest.raises(InvalidInputError, match="MethodSpec"):
            Policy(LevelRule.NIST, ["password"])  # type: ignore[list-item]


class TestSupabaseExamples:
    """Supabase Auth's exact output, pinned."""

    def test_password_only(self) -> None:
        """Password sign-in: aal1, one entry."""
        assert {
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": T0_UNIX}],
            "session_id": str(SID),
        } == SUPABASE.token_claims(SID, [claim("password")])

    def test_password_then_totp(self) -> None:
        """Password then TOTP: aal2, totp first."""
        session = [claim("password", at(0)), claim("totp", at(42))]
        assert {
            "aal": "aal2",
            "amr": [
                {"method": "totp", "timestamp": T0_UNIX + 42},
                {"method": "password", "timestamp": T0_UNIX},
            ],
            "session_id": str(SID),
        } == SUPABASE.token_claims(SID, session)

    def test_otp_then_mfa_phone(self) -> None:
        """OTP sign-in then a phone factor: aal2 under Supabase."""
        session = [claim("otp", at(0)), claim("mfa/phone", at(60))]
        assert {
            "aal": "aal2",
            "amr": [
                {"method": "mfa/phone", "timestamp": T0_UNIX + 60},
                {"method": "otp", "timestamp": T0_UNIX},
            ],
            "session_id": str(SID),
        } == SUPABASE.token_claims(SID, session)

    def test_sso_saml_with_provider(self) -> None:
        """A SAML entry carries its provider id; other entries do not."""
        session = [claim("sso/saml", at(0)), claim("totp", at(10))]
        assert {
            "aal": "aal2",
            "amr": [
                {"method": "totp", "timestamp": T0_UNIX + 10},
                {
                    "method": "sso/saml",
                    "timestamp": T0_UNIX,
                    "provider": SAML_PROVIDER,
                },
            ],
            "session_id": str(SID),
        } == SUPABASE.token_claims(SID, session, providers={"sso/saml": SAML_PROVIDER})

    def test_passkey_alone(self) -> None:
        """A passkey alone is aal1 under supabase() and aal2 under nist()."""
        session = [claim("passkey", at(0))]
        assert "aal1" == SUPABASE.token_claims(SID, session)["aal"]
        assert "aal2" == NIST.token_claims(SID, session, now=NOW)["aal"]

    def test_totp_13_hours_ago(self) -> None:
        """A TOTP verified 13 hours ago: still aal2 under supabase(), not under nist()."""
        session = [claim("password", at(0)), claim("totp", at(60))]
        later = at(60) + timedelta(hours=13)
        assert AAL.AAL2 is SUPABASE.assess(session, now=later).aal
        assert "aal2" == SUPABASE.token_claims(SID, session, now=later)["aal"]
        assert AAL.AAL1 is NIST.assess(session, now=later).aal
        assert "aal1" == NIST.token_claims(SID, session, now=later)["aal"]

    def test_same_second_ties_by_name(self) -> None:
        """Entries within the same whole second sort by method name."""
        session = [claim("totp", at(0.9)), claim("password", at(0.1))]
        assert [
            {"method": "password", "timestamp": T0_UNIX},
            {"method": "totp", "timestamp": T0_UNIX},
        ] == SUPABASE.render_amr(session)

    def test_reverified_method_shows_its_last_time(self) -> None:
        """A method proved again shows its updated_at, not its created_at."""
        session = [claim("totp", at(3600), created_at=at(0)), claim("password", at(60))]
        assert [
            {"method": "totp", "timestamp": T0_UNIX + 3600},
            {"method": "password", "timestamp": T0_UNIX + 60},
        ] == SUPABASE.render_amr(session)

    def test_recovery_never_raises(self) -> None:
        """Email-link methods never raise a level, under either preset."""
        session = [claim(m) for m in ("recovery", "magiclink", "invite", "password")]
        assert AAL.AAL1 is SUPABASE.assess(session, now=NOW).aal
        assert AAL.AAL1 is NIST.assess(session, now=NOW).aal
        assert ("pwd",) == NIST.assess(session, now=NOW).amr_values


class TestRfcStyle:
    def test_password_then_totp(self) -> None:
        """Password then TOTP: otp, pwd, then the derived mfa."""
        session = [claim("password", at(0)), claim("totp", at(42))]
        assert ["otp", "pwd", "mfa"] == SUPABASE.render_amr(
            session, style=AmrStyle.RFC8176
        )
        assert {
            "aal": "aal2",
            "amr": ["otp", "pwd", "mfa"],
            "session_id": str(SID),
            "acr": "aal2",
            "auth_time": T0_UNIX + 42,
        } == NIST.token_claims(SID, session, style=AmrStyle.RFC8176, now=NOW)

    def test_otp_then_phone_follows_the_level(self) -> None:
        """otp + mfa/phone is aal2 for Supabase, so `mfa` is written; aal1 under
        NIST (a sign-in code is no factor), so it is not."""
        session = [claim("otp", at(0)), claim("mfa/phone", at(60))]
        assert ["sms", "otp", "mfa"] == SUPABASE.render_amr(
            session, style=AmrStyle.RFC8176
        )
        assert AAL.AAL2 is SUPABASE.assess(session, now=NOW).aal
        assert AAL.AAL1 is NIST.assess(session, now=NOW).aal
        assert ["sms", "otp"] == NIST.render_amr(
            session, style=AmrStyle.RFC8176, now=NOW
        )

    def test_passkey_alone_follows_each_level(self) -> None:
        """A passkey alone is aal2 under NIST (one multi-factor authenticator) and
        says mfa; aal1 under Supabase, whose token then does not say mfa."""
        session = [claim("passkey")]
        assert ("pop", "user", "mfa") == NIST.assess(session, now=NOW).amr_values
        assert ("pop", "user") == SUPABASE.assess(session, now=NOW).amr_values

    def test_mfa_exactly_when_the_level_says_so(self) -> None:
        """In every token, `mfa` is in the RFC-style amr exactly when aal is aal2
        or higher: one token, one verdict."""
        sessions = [
            [claim("passkey")],
            [claim("password"), claim("otp")],
            [claim("password"), claim("magiclink")],
            [claim("oauth"), claim("totp")],
            [claim("otp"), claim("mfa/phone")],
            [claim("password"), claim("totp")],
        ]
        for policy in (SUPABASE, NIST):
            for session in sessions:
                token = policy.token_claims(
                    SID, session, style=AmrStyle.RFC8176, now=NOW
                )
                assert ("mfa" in token["amr"]) == (token["aal"] != "aal1")  # type: ignore[operator]

    def test_sign_in_otp_is_like_a_magic_link_under_nist(self) -> None:
        """password + otp is aal1 under NIST, as password + magiclink is: both prove
        only a mailbox or a number the account has."""
        for second in ("otp", "magiclink"):
            session = [claim("password"), claim(second)]
            assert AAL.AAL1 is NIST.assess(session, now=NOW).aal
        assert ["otp", "pwd"] == NIST.render_amr(
            [claim("otp", at(1)), claim("password")], style="rfc8176", now=NOW
        )

    def test_webauthn_is_pop(self) -> None:
        """WebAuthn maps to pop (not hwk): its hardware is unknown."""
        assert ["pop", "mfa"] == SUPABASE.render_amr(
            [claim("mfa/webauthn")], style=AmrStyle.RFC8176
        )
        assert ["pop"] == NIST.render_amr(
            [claim("mfa/webauthn")], style=AmrStyle.RFC8176, now=NOW
        )

    def test_values_are_unique(self) -> None:
        """Two methods of one value render it once, at its most recent use."""
        session = [
            claim("otp", at(0)),
            claim("password", at(10)),
            claim("totp", at(20)),
        ]
        assert ["otp", "pwd", "mfa"] == SUPABASE.render_amr(
            session, style=AmrStyle.RFC8176
        )

    def test_stale_factor_listed_but_no_mfa(self) -> None:
        """Under nist(), a stale TOTP is still listed but no longer makes `mfa`."""
        session = [claim("totp", at(0)), claim("password", at(0) + timedelta(hours=13))]
        now = at(0) + timedelta(hours=13, minutes=1)
        assert ["pwd", "otp"] == NIST.render_amr(
            session, style=AmrStyle.RFC8176, now=now
        )
        assert ["pwd", "otp", "mfa"] == SUPABASE.render_amr(
            session, style=AmrStyle.RFC8176, now=now
        )

    def test_federated_and_email_render_nothing(self) -> None:
        """Methods with no faithful registered value are left out."""
        session = [claim(m) for m in ("oauth", "sso/saml", "magiclink", "anonymous")]
        assert [] == SUPABASE.render_amr(session, style=AmrStyle.RFC8176)
        assert {
            "aal": "aal1",
            "amr": [],
            "session_id": str(SID),
            "acr": "aal1",
            "auth_time": T0_UNIX,
        } == SUPABASE.token_claims(SID, session, style=AmrStyle.RFC8176, now=NOW)


class TestAssess:
    def test_full_assessment(self) -> None:
        """assess gives level, next level, entries, RFC values and auth_time."""
        session = [
            claim("password", at(0)),
            claim("totp", at(42)),
            claim("sso/saml", at(7)),
        ]
        assert Assessment(
            aal=AAL.AAL2,
            next_aal=AAL.AAL2,
            entries=(
                AMREntry("totp", T0_UNIX + 42),
                AMREntry("sso/saml", T0_UNIX + 7, SAML_PROVIDER),
                AMREntry("password", T0_UNIX),
            ),
            amr_values=("otp", "pwd", "mfa"),
            auth_time=T0_UNIX + 42,
            started_at=T0_UNIX,
        ) == SUPABASE.assess(session, now=NOW, providers={"sso/saml": SAML_PROVIDER})

    def test_no_claims(self) -> None:
        """No claims: aal1, nothing listed, no auth_time."""
        assert Assessment(AAL.AAL1, AAL.AAL1, (), (), None) == SUPABASE.assess([])

    def test_started_at_is_earliest_created_at(self) -> None:
        """started_at is the earliest created_at of any claim, floored to seconds."""
        session = [
            claim("totp", at(500), created_at=at(100.7)),
            claim("password", at(900), created_at=at(30.9)),
            claim("not-in-catalog", at(900), created_at=at(31)),
        ]
        assert T0_UNIX + 30 == SUPABASE.assess(session).started_at

    def test_auth_time_is_the_newest_counted_claim(self) -> None:
        """auth_time is when the user last authenticated: the newest updated_at of
        a catalog method, floored; unknown names and claims dated beyond the skew
        do not count."""
        session = [
            claim("totp", at(200.9)),
            claim("password", at(100)),
            claim("not-in-catalog", at(250)),
            claim("mfa/phone", NOW + timedelta(seconds=61)),
        ]
        assert T0_UNIX + 200 == SUPABASE.assess(session, now=NOW).auth_time
        within_skew = [*session, claim("otp", NOW + timedelta(seconds=60))]
        assert unix_seconds(NOW) + 60 == SUPABASE.assess(within_skew, now=NOW).auth_time
        assert None is SUPABASE.assess([claim("not-in-catalog")], now=NOW).auth_time

    def test_accepts_any_iterable(self) -> None:
        """Claims may come from a generator."""
        assert AAL.AAL2 is SUPABASE.assess(c for c in [claim("totp")]).aal

    def test_refuses_non_claims(self) -> None:
        """Only AMRClaim values are assessed."""
        with pytest.raises(InvalidClaimError, match="expected AMRClaim"):
            SUPABASE.assess([{"authentication_method": "totp"}])  # type: ignore[list-item]


class TestNextAal:
    @pytest.mark.parametrize(
        ("expected", "methods", "factors"),
        [
            (AAL.AAL1, ["password"], ()),
            (AAL.AAL2, ["password"], ("factor-id",)),
            (AAL.AAL2, ["password", "totp"], ("factor-id",)),
            (AAL.AAL2, ["password", "totp"], ()),
            (AAL.AAL1, [], ()),
            (AAL.AAL2, [], ("factor-id",)),
        ],
    )
    def test_as_supabase_clients(
        self, expected: AAL, methods: list[str], factors: tuple[str, ...]
    ) -> None:
        """aal2 when the user has a verified factor and the session is below it."""
        assessed = SUPABASE.assess(
            [claim(m) for m in methods], verified_factors=factors
        )
        assert expected is assessed.next_aal

    def test_never_below_current(self) -> None:
        """A session already at aal3 keeps aal3 as its next level."""
        policy = NIST.with_method(HARDWARE_KEY)
        assessed = policy.assess(
            [claim("password"), claim("yubikey")], now=NOW, verified_factors=[object()]
        )
        assert AAL.AAL3 is assessed.aal
        assert AAL.AAL3 is assessed.next_aal


HARDWARE_KEY = MethodSpec(
    "yubikey",
    Factor.POSSESSION,
    ("hwk",),
    hardware_bound=True,
    description="a FIDO2 key known to be hardware-bound",
)


class TestNistRule:
    def test_single_factor_is_aal1(self) -> None:
        """One factor kind, however many methods prove it, is aal1."""
        assert AAL.AAL1 is NIST.assess([claim("password")], now=NOW).aal
        assert AAL.AAL1 is NIST.assess([claim("otp"), claim("totp")], now=NOW).aal

    def test_two_kinds_is_aal2(self) -> None:
        """Knowledge plus possession is aal2."""
        assert AAL.AAL2 is NIST.assess([claim("password"), claim("web3")], now=NOW).aal

    def test_aal3_with_hardware_key_and_second_factor(self) -> None:
        """A custom hardware-bound key plus a password reaches aal3."""
        policy = NIST.with_method(HARDWARE_KEY)
        session = [claim("password", at(0)), claim("yubikey", at(5))]
        assessed = policy.assess(session, now=NOW)
        assert AAL.AAL3 is assessed.aal
        assert ("hwk", "pwd", "mfa") == assessed.amr_values

    def test_hardware_key_alone_is_aal1(self) -> None:
        """A hardware key alone proves one factor: aal1."""
        policy = NIST.with_method(HARDWARE_KEY)
        assert AAL.AAL1 is policy.assess([claim("yubikey")], now=NOW).aal

    def test_hardware_key_with_same_kind_is_aal1(self) -> None:
        """A hardware key and a TOTP are both possession: still aal1."""
        policy = NIST.with_method(HARDWARE_KEY)
        assert AAL.AAL1 is policy.assess([claim("yubikey"), claim("totp")], now=NOW).aal

    def test_hardware_multi_factor_alone_is_aal3(self) -> None:
        """A hardware-bound multi-factor authenticator alone reaches aal3."""
        spec = MethodSpec(
            "hw-passkey",
            (Factor.POSSESSION, Factor.INHERENCE),
            ("hwk", "user"),
            multi_factor=True,
            hardware_bound=True,
        )
        assert (
            AAL.AAL3
            is NIST.with_method(spec).assess([claim("hw-passkey")], now=NOW).aal
        )

    def test_supabase_rule_never_gives_aal3(self) -> None:
        """The Supabase rule stops at aal2, whatever the catalog."""
        policy = SUPABASE.with_method(attrs.evolve(HARDWARE_KEY, supabase_aal2=True))
        assert AAL.AAL2 is policy.assess([claim("password"), claim("yubikey")]).aal

    def test_shorter_aal3_window(self) -> None:
        """With a 15-minute aal3 window, an hour-old key gives aal2, not aal3."""
        policy = attrs.evolve(
            NIST.with_method(HARDWARE_KEY), aal3_max_age=timedelta(minutes=15)
        )
        session = [claim("password", at(0)), claim("yubikey", at(0))]
        assert AAL.AAL3 is policy.assess(session, now=at(600)).aal
        assert AAL.AAL2 is policy.assess(session, now=at(3600)).aal

    def test_window_edge(self) -> None:
        """Exactly 12 hours old still counts, judged in whole seconds as a token
        carries times; a second more does not."""
        session = [claim("password", at(0)), claim("totp", at(0))]
        assert AAL.AAL2 is NIST.assess(session, now=at(0) + HOURS_12).aal
        within = at(0) + HOURS_12 + timedelta(microseconds=999_999)
        assert AAL.AAL2 is NIST.assess(session, now=within).aal
        edge = at(0) + HOURS_12 + timedelta(seconds=1)
        assert AAL.AAL1 is NIST.assess(session, now=edge).aal

    def test_future_claim_within_skew_is_fresh(self) -> None:
        """A claim dated up to the policy's skew (60 s) after `now` counts as fresh;
        one further ahead proves no freshness."""
        within = [claim("password", at(0)), claim("totp", at(60))]
        assert AAL.AAL2 is NIST.assess(within, now=at(0)).aal
        beyond = [claim("password", at(0)), claim("totp", at(61))]
        assert AAL.AAL1 is NIST.assess(beyond, now=at(0)).aal
        assert AAL.AAL2 is attrs.evolve(NIST, skew=61).assess(beyond, now=at(0)).aal

    def test_future_claim_counts_without_windows(self) -> None:
        """Under a rule without windows (Supabase's) time plays no part: a claim
        from the future counts, as Supabase counts it."""
        session = [claim("password", at(0)), claim("totp", at(3600))]
        assert AAL.AAL2 is SUPABASE.assess(session, now=at(0)).aal

    def test_reverification_refreshes(self) -> None:
        """A method proved again within the window counts again."""
        session = [
            claim("password", at(0) + timedelta(hours=20), created_at=at(0)),
            claim("totp", at(0) + timedelta(hours=20), created_at=at(0)),
        ]
        assert AAL.AAL2 is NIST.assess(session, now=at(0) + timedelta(hours=21)).aal

    def test_default_now_is_the_clock(self) -> None:
        """Without `now`, freshness is judged at the current time."""
        current = datetime.now(UTC)
        fresh = [claim("password", current), claim("totp", current)]
        stale = [claim(c.method, current - timedelta(hours=13)) for c in fresh]
        assert AAL.AAL2 is NIST.assess(fresh).aal
        assert AAL.AAL1 is NIST.assess(stale).aal
        assert "aal1" == NIST.token_claims(SID, stale)["aal"]
        assert ["pwd", "otp"] == NIST.render_amr(stale, style=AmrStyle.RFC8176)


class TestNow:
    SESSION = (claim("password", at(0)), claim("totp", at(0)))

    @pytest.mark.parametrize(
        "now",
        [
            at(0) + HOURS_12,
            (at(0) + HOURS_12).astimezone(timezone(timedelta(hours=-7))),
            T0_UNIX + 12 * 3600,
            float(T0_UNIX + 12 * 3600),
        ],
    )
    def test_datetime_or_unix_seconds(self, now: datetime | float) -> None:
        """An aware datetime, int or float seconds give the same result."""
        expected = NIST.assess(self.SESSION, now=at(0) + HOURS_12)
        assert AAL.AAL2 is expected.aal
        assert expected == NIST.assess(self.SESSION, now=now)
        assert NIST.token_claims(
            SID, self.SESSION, style=AmrStyle.RFC8176, now=at(0) + HOURS_12
        ) == NIST.token_claims(SID, self.SESSION, style=AmrStyle.RFC8176, now=now)
        # same second: password before totp by name
        assert ["pwd", "otp", "mfa"] == NIST.render_amr(
            self.SESSION, style=AmrStyle.RFC8176, now=now
        )

    def test_float_seconds_past_the_edge(self) -> None:
        """Fractional seconds are floored, as token times are: half a second past
        the window still counts, a second past does not."""
        assert AAL.AAL2 is NIST.assess(self.SESSION, now=T0_UNIX + 43_200.5).aal
        assert AAL.AAL1 is NIST.assess(self.SESSION, now=T0_UNIX + 43_201.0).aal

    @pytest.mark.parametrize(
        "now",
        [
            "2026-01-01T12:00:00Z",
            datetime(2026, 1, 1, 12, 0),
            True,
            float("nan"),
            float("inf"),
            1e20,
            -1,
            datetime(1969, 12, 31, tzinfo=UTC),
            object(),
        ],
    )
    @pytest.mark.parametrize("policy", [SUPABASE, NIST], ids=["supabase", "nist"])
    def test_bad_now_raises(self, policy: Policy, now: object) -> None:
        """A string, a naive datetime, a bool, a time before 1970 or an unusable
        number is refused, even by a policy that does not need the time."""
        with pytest.raises(InvalidInputError):
            policy.assess(self.SESSION, now=now)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            policy.render_amr(self.SESSION, now=now)  # type: ignore[call-overload]
        with pytest.raises(InvalidInputError):
            policy.token_claims(SID, self.SESSION, now=now)  # type: ignore[arg-type]


class TestSessions:
    def test_mixed_sessions_refused(self) -> None:
        """Claims of two sessions are refused by assess, render_amr, token_claims."""
        mixed = [claim("password"), claim("totp", session_id=OTHER_SID)]
        with pytest.raises(InvalidClaimError, match="more than one session"):
            SUPABASE.assess(mixed)
        for style in AmrStyle:
            with pytest.raises(InvalidClaimError, match="more than one session"):
                SUPABASE.render_amr(mixed, style=style)
        with pytest.raises(InvalidClaimError, match="more than one session"):
            SUPABASE.token_claims(SID, mixed)

    def test_token_claims_checks_its_session(self) -> None:
        """token_claims refuses claims of another session than the one named."""
        with pytest.raises(InvalidClaimError):
            SUPABASE.token_claims(OTHER_SID, [claim("password")])

    def test_session_id_as_string(self) -> None:
        """token_claims takes the session id as a UUID string and writes it back."""
        out = SUPABASE.token_claims(str(SID).upper(), [claim("password")])
        assert str(SID) == out["session_id"]

    @pytest.mark.parametrize("value", ["session-1", 42, None])
    def test_bad_session_id(self, value: object) -> None:
        """A session id that is not a UUID is refused."""
        with pytest.raises(InvalidClaimError, match="session_id"):
            SUPABASE.token_claims(value, [])  # type: ignore[arg-type]

    @pytest.mark.parametrize("style", list(AmrStyle))
    def test_amr_omitted_without_claims(self, style: AmrStyle) -> None:
        """With no claims, `amr` (and the RFC style's `auth_time`) is left out of the
        token claims, in either style."""
        extra = {"acr": "aal1"} if style is AmrStyle.RFC8176 else {}
        for policy in (SUPABASE, NIST):
            assert {"aal": "aal1", "session_id": str(SID), **extra} == (
                policy.token_claims(SID, [], style=style, now=NOW)
            )

    def test_supabase_style_keeps_supabase_keys_unless_asked(self) -> None:
        """The Supabase style writes only Supabase's keys; oidc_claims=True adds acr
        and auth_time, as the RFC style always does."""
        session = [claim("password"), claim("totp", at(5))]
        plain = NIST.token_claims(SID, session, now=NOW)
        assert ["aal", "amr", "session_id"] == list(plain)
        oidc = NIST.token_claims(SID, session, now=NOW, oidc_claims=True)
        assert {**plain, "acr": "aal2", "auth_time": T0_UNIX + 5} == oidc

    def test_token_claims_key_order(self) -> None:
        """The keys come as aal, amr, session_id."""
        assert ["aal", "amr", "session_id"] == list(
            SUPABASE.token_claims(SID, [claim("password")])
        )


class TestProviders:
    def test_empty_provider_means_none(self) -> None:
        """A provider of "" (Supabase's identity `sso:`) leaves the key out, as
        Supabase does, everywhere an entry is written."""
        session = [claim("sso/saml")]
        none = {"sso/saml": ""}
        assert [{"method": "sso/saml", "timestamp": T0_UNIX}] == SUPABASE.render_amr(
            session, providers=none
        )
        assert [{"method": "sso/saml", "timestamp": T0_UNIX}] == (
            SUPABASE.token_claims(SID, session, providers=none)["amr"]
        )
        assert (AMREntry("sso/saml", T0_UNIX),) == SUPABASE.assess(
            session, providers=none
        ).entries

    @pytest.mark.parametrize("value", [7, b"x", ["id"]])
    def test_bad_provider_refused_everywhere(self, value: object) -> None:
        """A non-string provider id is refused by assess, render_amr and
        token_claims alike."""
        session = [claim("sso/saml")]
        bad = {"sso/saml": value}
        with pytest.raises(InvalidClaimError, match="provider"):
            SUPABASE.assess(session, providers=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidClaimError, match="provider"):
            SUPABASE.render_amr(session, providers=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidClaimError, match="provider"):
            SUPABASE.token_claims(SID, session, providers=bad)  # type: ignore[arg-type]

    def test_provider_of_an_absent_method_is_ignored(self) -> None:
        """Providers for methods the session lacks change nothing."""
        session = [claim("password")]
        assert SUPABASE.render_amr(session) == SUPABASE.render_amr(
            session, providers={"sso/saml": SAML_PROVIDER}
        )

    def test_rfc_style_has_no_providers(self) -> None:
        """The RFC style has nowhere to put a provider; it is simply not shown."""
        assert [] == SUPABASE.render_amr(
            [claim("sso/saml")],
            style=AmrStyle.RFC8176,
            providers={"sso/saml": SAML_PROVIDER},
        )


class TestUnknownMethods:
    def test_listed_in_supabase_style_only(self) -> None:
        """An unknown name is listed unchanged in Supabase style, absent in RFC style."""
        session = [claim("password", at(0)), claim("mfa/totp", at(9))]
        assert [
            {"method": "mfa/totp", "timestamp": T0_UNIX + 9},
            {"method": "password", "timestamp": T0_UNIX},
        ] == SUPABASE.render_amr(session)
        assert ["pwd"] == SUPABASE.render_amr(session, style=AmrStyle.RFC8176)

    def test_never_raise_a_level(self) -> None:
        """An unknown name raises no level under either preset."""
        session = [claim("password"), claim("push-approval"), claim("mfa/totp")]
        assert AAL.AAL1 is SUPABASE.assess(session).aal
        assert AAL.AAL1 is NIST.assess(session, now=NOW).aal

    def test_can_take_a_provider(self) -> None:
        """A provider may be shown for any listed method."""
        out = SUPABASE.render_amr(
            [claim("partner-sso")], providers={"partner-sso": "acme"}
        )
        assert [
            {"method": "partner-sso", "timestamp": T0_UNIX, "provider": "acme"}
        ] == out

    @pytest.mark.parametrize("name", ["mfa/TOTP", "Legacy Method", "x" * 100])
    def test_a_stored_row_of_another_syntax_gets_one_verdict(self, name: str) -> None:
        """A name another system wrote, outside our syntax, as a store returns it
        (trusted, unchecked): assess, render_amr and token_claims all list it
        unchanged, and it raises no level."""
        stored = claim_from_row(uuid.uuid4(), SID, name, T0, T0)
        session = [claim("password"), stored]
        for policy in (SUPABASE, NIST):
            assessment = policy.assess(session, now=NOW)
            assert AAL.AAL1 is assessment.aal
            assert {(name, T0_UNIX), ("password", T0_UNIX)} == {
                (e.method, e.timestamp) for e in assessment.entries
            }
            assert [e.to_dict() for e in assessment.entries] == policy.render_amr(
                session, now=NOW
            )
            assert ["pwd"] == policy.render_amr(
                session, style=AmrStyle.RFC8176, now=NOW
            )
            assert "aal1" == policy.token_claims(SID, session, now=NOW)["aal"]

    @given(sessions(unique=True), st.lists(unknown_methods, max_size=3), nows)
    def test_unknown_claims_change_nothing_but_entries(
        self, session: list[AMRClaim], extra: list[str], now: datetime
    ) -> None:
        """Adding unknown-method claims leaves level and RFC values as they were."""
        known = [c for c in session if c.method in KNOWN_METHODS]
        sid = session[0].session_id if session else SID
        more = known + [claim(m, now, session_id=sid) for m in set(extra)]
        for policy in (SUPABASE, NIST):
            before = policy.assess(known, now=now)
            after = policy.assess(more, now=now)
            assert before.aal is after.aal
            assert before.amr_values == after.amr_values
            assert set(extra) <= {e.method for e in after.entries}


class TestWhatNoReaderAccepts:
    @pytest.mark.parametrize("name", ["mfa/totp", "sso:okta", "TOTP"])
    def test_a_strict_policy_lists_only_what_it_reads(self, name: str) -> None:
        """A strict policy leaves a name outside its catalog out of the tokens it
        issues (in assess's entries too), so that it reads them back; the level is
        the same."""
        for preset in (Policy.supabase, Policy.nist):
            policy = preset(strict=True)
            session = [
                claim("password"),
                claim_from_row(uuid.uuid4(), SID, name, T0, T0),
            ]
            token = policy.token_claims(SID, session, now=NOW)
            assert [{"method": "password", "timestamp": T0_UNIX}] == token["amr"]
            assert token["amr"] == policy.render_amr(session, now=NOW)
            assert ("password",) == tuple(
                e.method for e in policy.assess(session, now=NOW).entries
            )
            assert policy.evaluate(token, now=NOW).aal is AAL.AAL1
            lax = preset()
            assert name in {e["method"] for e in lax.render_amr(session, now=NOW)}

    def test_more_methods_than_a_token_is_read_with_are_refused(self) -> None:
        """A session of more methods than parse_amr reads (64) cannot become a
        Supabase-style amr; the RFC 8176 style lists values, and can."""
        session = [claim(f"custom-{i:02d}", at(i)) for i in range(DEFAULT_MAX_ENTRIES)]
        assert DEFAULT_MAX_ENTRIES == len(SUPABASE.render_amr(session))
        session.append(claim("password"))
        with pytest.raises(InvalidClaimError, match="65 methods, more than the 64"):
            SUPABASE.token_claims(SID, session, now=NOW)
        with pytest.raises(InvalidClaimError, match="65 methods"):
            SUPABASE.render_amr(session)
        assert ["pwd"] == SUPABASE.render_amr(session, style=AmrStyle.RFC8176)

    def test_a_claim_dated_before_1970_is_refused(self) -> None:
        """A row another writer dated before 1970 (read back unchecked) makes no
        token: its timestamp would be negative, which no reader accepts."""
        before = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
        session = [
            claim("password"),
            claim_from_row(uuid.uuid4(), SID, "totp", before, before),
        ]
        for call in (
            lambda: SUPABASE.token_claims(SID, session, now=NOW),
            lambda: SUPABASE.render_amr(session),
            lambda: NIST.assess(session, now=NOW),
        ):
            with pytest.raises(InvalidClaimError, match="before 1970"):
                call()
        # a first use before 1970 and a last one after is a claim like any other
        ok = claim_from_row(uuid.uuid4(), SID, "totp", before, T0)
        assert "aal2" == SUPABASE.token_claims(SID, [ok], now=NOW)["aal"]


class TestCustomMethods:
    def test_with_method_adds(self) -> None:
        """with_method adds a method; the original policy is unchanged."""
        spec = MethodSpec("push", Factor.POSSESSION, ("otp",), supabase_aal2=True)
        policy = SUPABASE.with_method(spec)
        assert spec is policy.spec("push")
        assert SUPABASE.spec("push") is None
        session = [claim("password"), claim("push")]
        assert AAL.AAL2 is policy.assess(session).aal
        assert AAL.AAL1 is SUPABASE.assess(session).aal

    def test_with_method_replaces(self) -> None:
        """with_method replaces the spec of the same name."""
        hardware_webauthn = MethodSpec(
            "mfa/webauthn",
            Factor.POSSESSION,
            ("hwk",),
            supabase_aal2=True,
            hardware_bound=True,
        )
        policy = NIST.with_method(hardware_webauthn)
        assert hardware_webauthn is policy.spec("mfa/webauthn")
        assert len(NIST.methods) == len(policy.methods)
        session = [claim("password"), claim("mfa/webauthn")]
        assert AAL.AAL3 is policy.assess(session, now=NOW).aal
        assert ["hwk", "pwd", "mfa"] == policy.render_amr(
            session, style=AmrStyle.RFC8176, now=NOW
        )

    def test_with_method_takes_only_specs(self) -> None:
        """with_method refuses anything but a MethodSpec."""
        with pytest.raises(InvalidInputError, match="MethodSpec"):
            SUPABASE.with_method("push")  # type: ignore[arg-type]

    def test_spec_lookup(self) -> None:
        """spec() returns the catalog's spec, or None."""
        spec = SUPABASE.spec("totp")
        assert spec is not None
        assert spec.supabase_aal2
        assert SUPABASE.spec("mfa/totp") is None


class TestCheckRecordable:
    @pytest.mark.parametrize(
        "policy",
        [SUPABASE, NIST, Policy.supabase(strict=True), Policy.nist(strict=True)],
    )
    @pytest.mark.parametrize(
        "method", ["token_refresh", AuthenticationMethod.TOKEN_REFRESH]
    )
    def test_token_refresh_always_refused(
        self, policy: Policy, method: str | AuthenticationMethod
    ) -> None:
        """token_refresh is never a login method, under any policy."""
        with pytest.raises(UnrecordableMethodError, match="not a login method"):
            policy.check_recordable(method)

    def test_token_refresh_refused_even_if_respecified(self) -> None:
        """Marking token_refresh recordable in a custom spec does not let it in."""
        policy = SUPABASE.with_method(MethodSpec("token_refresh", Factor.NONE))
        with pytest.raises(UnrecordableMethodError):
            policy.check_recordable("token_refresh")

    def test_unrecordable_custom_spec_refused(self) -> None:
        """A custom spec marked not recordable is refused."""
        policy = SUPABASE.with_method(
            MethodSpec("impersonation", Factor.NONE, recordable=False)
        )
        with pytest.raises(UnrecordableMethodError):
            policy.check_recordable("impersonation")

    @pytest.mark.parametrize("method", sorted(set(KNOWN_METHODS) - {"token_refresh"}))
    def test_known_methods_recordable(self, method: str) -> None:
        """Every other Supabase name is recordable, strict or not, as a plain str."""
        for policy in (SUPABASE, Policy.nist(strict=True)):
            out = policy.check_recordable(AuthenticationMethod(method))
            assert method == out
            assert type(out) is str

    def test_unknown_refused_only_when_strict(self) -> None:
        """An unknown name is recordable by default, refused by a strict policy."""
        assert "mfa/totp" == SUPABASE.check_recordable("mfa/totp")
        with pytest.raises(UnrecordableMethodError) as info:
            Policy.supabase(strict=True).check_recordable("mfa/totp")
        assert "with_method" in str(info.value)
        assert "token_refresh" not in str(info.value)

    def test_strict_accepts_added_method(self) -> None:
        """A strict policy records a method once it is added to the catalog."""
        policy = Policy.supabase(strict=True).with_method(
            MethodSpec("push", Factor.POSSESSION)
        )
        assert "push" == policy.check_recordable("push")

    @given(
        noncanonical_spellings(st.sampled_from(SUPABASE_AAL2_METHODS)),
        st.booleans(),
    )
    def test_noncanonical_aal2_spelling_refused(self, value: str, strict: bool) -> None:
        """No non-canonical spelling of an aal2 method is recordable."""
        for policy in (Policy.supabase(strict=strict), Policy.nist(strict=strict)):
            with pytest.raises(InvalidMethodError):
                policy.check_recordable(value)

    @given(noncanonical_spellings())
    def test_noncanonical_spelling_is_a_syntax_error(self, value: str) -> None:
        """The refusal is the syntax error, not the strictness one."""
        with pytest.raises(InvalidMethodError):
            SUPABASE.check_recordable(value)


class TestAcr:
    def test_default_acr_values(self) -> None:
        """By default each level is named by its own string."""
        assert "aal2" == SUPABASE.acr_for(AAL.AAL2)
        assert AAL.AAL3 is SUPABASE.aal_for_acr("aal3")
        assert SUPABASE.aal_for_acr("phr") is None

    def test_custom_acr_values(self) -> None:
        """A policy may name levels with its own acr values."""
        policy = attrs.evolve(
            NIST, acr_values={"aal1": "urn:low", "aal2": "urn:mid", "aal3": "phrh"}
        )
        assert "phrh" == policy.acr_for("aal3")
        assert AAL.AAL2 is policy.aal_for_acr("urn:mid")

    @pytest.mark.parametrize(
        "values",
        [
            {"aal1": "a", "aal2": "b"},
            {"aal1": "a", "aal2": "a", "aal3": "c"},
            {"aal1": "a b", "aal2": "b", "aal3": "c"},
            {"aal1": "", "aal2": "b", "aal3": "c"},
            {"aal1": 'a"', "aal2": "b", "aal3": "c"},
            {"aal1": "a\\b", "aal2": "b", "aal3": "c"},
            {"aal1": "niveau-élevé", "aal2": "b", "aal3": "c"},
            {"aal1": "a\tb", "aal2": "b", "aal3": "c"},
        ],
    )
    def test_bad_acr_values(self, values: dict[AAL | str, str]) -> None:
        """All three levels, distinct values, printable ASCII without spaces, quotes
        or backslashes: what a step-up challenge can carry."""
        with pytest.raises(InvalidInputError):
            attrs.evolve(NIST, acr_values=values)

    @pytest.mark.parametrize("eap", ["phr", "phrh"])
    def test_the_eap_values_name_aal3_only(self, eap: str) -> None:
        """phr and phrh may name aal3 (a hardware-bound key) but not aal1 or aal2,
        whose tokens would meet the policy's own phishing_resistant=True with a
        password."""
        assert eap == attrs.evolve(
            NIST, acr_values={"aal1": "a", "aal2": "b", "aal3": eap}
        ).acr_for("aal3")
        for level in ("aal1", "aal2"):
            values = {"aal1": "a", "aal2": "b", "aal3": "c", level: eap}
            with pytest.raises(InvalidInputError, match="may name aal3 only"):
                attrs.evolve(NIST, acr_values=values)


# -- properties ----------------------------------------------------------------------

POLICIES = st.sampled_from([SUPABASE, NIST])


def _everything(
    policy: Policy,
    session: Sequence[AMRClaim],
    now: datetime,
    providers: dict[str, str],
) -> tuple[object, ...]:
    sid = session[0].session_id if session else SID
    return (
        policy.assess(session, now=now, providers=providers),
        policy.render_amr(session, now=now, providers=providers),
        policy.render_amr(
            session, style=AmrStyle.RFC8176, now=now, providers=providers
        ),
        policy.token_claims(sid, session, now=now, providers=providers),
        policy.token_claims(
            sid, session, style=AmrStyle.RFC8176, now=now, providers=providers
        ),
    )


class TestProperties:
    @given(POLICIES, sessions(), nows, providers, st.randoms(use_true_random=False))
    def test_independent_of_claim_order(
        self,
        policy: Policy,
        session: list[AMRClaim],
        now: datetime,
        providers: dict[str, str],
        rnd: random.Random,
    ) -> None:
        """Shuffling the claims changes nothing: assess, both renders, token_claims."""
        shuffled = list(session)
        rnd.shuffle(shuffled)
        assert _everything(policy, session, now, providers) == _everything(
            policy, shuffled, now, providers
        )

    @given(POLICIES, sessions(), nows)
    def test_entries_unique_and_sorted(
        self, policy: Policy, session: list[AMRClaim], now: datetime
    ) -> None:
        """One entry per method, most recent first, ties by method name."""
        entries = policy.assess(session, now=now).entries
        methods = [e.method for e in entries]
        assert len(set(methods)) == len(methods)
        assert {c.method for c in session} == set(methods)
        keys = [(-e.timestamp, e.method) for e in entries]
        assert sorted(keys) == keys
        for e in entries:
            newest = max(c.updated_at for c in session if c.method == e.method)
            assert unix_seconds(newest) == e.timestamp

    @given(sessions(), claims(), nows)
    def test_adding_a_claim_never_lowers_supabase_level(
        self, session: list[AMRClaim], extra: AMRClaim, now: datetime
    ) -> None:
        """Under supabase(), one more claim can only keep or raise the level."""
        sid = session[0].session_id if session else extra.session_id
        extra = attrs.evolve(extra, session_id=sid)
        before = SUPABASE.assess(session, now=now).aal
        after = SUPABASE.assess([*session, extra], now=now).aal
        assert before <= after

    @given(sessions(), claims(), nows)
    def test_adding_a_claim_never_lowers_nist_level(
        self, session: list[AMRClaim], extra: AMRClaim, now: datetime
    ) -> None:
        """Under nist() too, at a fixed `now`, one more claim never lowers the level."""
        sid = session[0].session_id if session else extra.session_id
        extra = attrs.evolve(extra, session_id=sid)
        before = NIST.assess(session, now=now).aal
        after = NIST.assess([*session, extra], now=now).aal
        assert before <= after

    @given(POLICIES, sessions(), nows)
    def test_rfc_values_registered_unique_mfa_last(
        self, policy: Policy, session: list[AMRClaim], now: datetime
    ) -> None:
        """Every RFC-style value is registered, unique, and `mfa` comes last."""
        values = policy.render_amr(session, style=AmrStyle.RFC8176, now=now)
        assert all(rfc8176.is_registered(v) for v in values)
        assert len(set(values)) == len(values)
        if "mfa" in values:
            assert "mfa" == values[-1]

    @given(
        st.lists(method_specs(), max_size=4),
        st.sampled_from(list(LevelRule)),
        sessions(method=st.one_of(valid_method_names, st.sampled_from(KNOWN_METHODS))),
        nows,
    )
    def test_rfc_values_registered_with_custom_specs(
        self,
        specs: list[MethodSpec],
        rule: LevelRule,
        session: list[AMRClaim],
        now: datetime,
    ) -> None:
        """Custom catalogs render only registered values too."""
        policy = Policy(rule, [*DEFAULT_CATALOG, *specs], aal2_max_age=HOURS_12)
        for spec in specs:
            session = (
                [*session, claim(spec.name, now, session_id=session[0].session_id)]
                if session
                else [claim(spec.name, now)]
            )
        values = policy.render_amr(session, style=AmrStyle.RFC8176, now=now)
        assert all(rfc8176.is_registered(v) for v in values)

    @given(POLICIES, sessions(), nows, providers)
    def test_json_accepts_every_render(
        self,
        policy: Policy,
        session: list[AMRClaim],
        now: datetime,
        providers: dict[str, str],
    ) -> None:
        """Both styles and token_claims survive a strict JSON round trip unchanged."""
        _, supabase, rfc, token_s, token_r = _everything(
            policy, session, now, providers
        )
        for value in (supabase, rfc, token_s, token_r):
            text = json.dumps(value, allow_nan=False)
            assert value == json.loads(text)
        assert isinstance(supabase, list)
        for entry in supabase:
            assert type(entry["method"]) is str
            assert type(entry["timestamp"]) is int
        assert all(type(v) is str for v in rfc)  # type: ignore[attr-defined]

    @given(POLICIES, sessions(), nows, providers)
    def test_render_agrees_with_assess(
        self,
        policy: Policy,
        session: list[AMRClaim],
        now: datetime,
        providers: dict[str, str],
    ) -> None:
        """render_amr and token_claims say what assess says."""
        assessed, supabase, rfc, token_s, token_r = _everything(
            policy, session, now, providers
        )
        assert isinstance(assessed, Assessment)
        assert [e.to_dict() for e in assessed.entries] == supabase
        assert list(assessed.amr_values) == rfc
        assert isinstance(token_s, dict)
        assert isinstance(token_r, dict)
        assert assessed.aal.value == token_s["aal"] == token_r["aal"]
        if session:
            assert supabase == token_s["amr"]
            assert rfc == token_r["amr"]
        else:
            assert "amr" not in token_s
            assert "amr" not in token_r

    @given(sessions(), nows)
    def test_matches_reference_model(
        self, session: list[AMRClaim], now: datetime
    ) -> None:
        """Both presets agree with an independent model of the documented rules."""
        for rule, policy in (("supabase", SUPABASE), ("nist", NIST)):
            aal, entries, values = model(session, rule, now)
            assessed = policy.assess(session, now=now)
            assert aal == assessed.aal.value
            assert entries == [(e.method, e.timestamp) for e in assessed.entries]
            assert values == list(assessed.amr_values)

    @given(POLICIES, sessions(min_size=1), nows)
    def test_started_at_is_earliest_created_at(
        self, policy: Policy, session: list[AMRClaim], now: datetime
    ) -> None:
        """started_at is the earliest created_at, in Unix seconds."""
        expected = unix_seconds(min(c.created_at for c in session))
        assert expected == policy.assess(session, now=now).started_at

    @given(POLICIES, sessions(), nows)
    def test_auth_time_is_the_newest_counted_claim(
        self, policy: Policy, session: list[AMRClaim], now: datetime
    ) -> None:
        """auth_time is the newest whole second among catalog claims not dated more
        than the policy's skew after now."""
        limit = unix_seconds(now) + policy.skew.total_seconds()
        latest: dict[str, int] = {}  # one claim per method: the newest
        for c in session:
            latest[c.method] = max(latest.get(c.method, 0), unix_seconds(c.updated_at))
        stamps = [
            seconds
            for method, seconds in latest.items()
            if method in policy.methods and seconds <= limit
        ]
        assert max(stamps, default=None) == policy.assess(session, now=now).auth_time

    @given(POLICIES, sessions(), nows)
    def test_now_as_seconds(
        self, policy: Policy, session: list[AMRClaim], now: datetime
    ) -> None:
        """`now` as Unix seconds assesses as the same datetime does."""
        assume(now.microsecond == 0)
        seconds = unix_seconds(now)
        assert policy.assess(session, now=now) == policy.assess(session, now=seconds)
        assert policy.assess(session, now=now) == policy.assess(
            session, now=float(seconds)
        )

    @given(sessions(), nows, st.sets(st.integers(), max_size=2))
    def test_next_aal(
        self, session: list[AMRClaim], now: datetime, factors: set[int]
    ) -> None:
        """next_aal is aal2 with a verified factor below aal2, else the level."""
        for policy in (SUPABASE, NIST):
            assessed = policy.assess(session, now=now, verified_factors=factors)
            if factors and assessed.aal < AAL.AAL2:
                assert AAL.AAL2 is assessed.next_aal
            else:
                assert assessed.aal is assessed.next_aal
