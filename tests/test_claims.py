"""AMRClaim and AMREntry, the frozen value objects (mfa_amr._claims)."""

from __future__ import annotations

import calendar
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_amr import MAX_TIMESTAMP, AMRClaim, AMREntry, AuthenticationMethod
from mfa_amr._grammar import unix_seconds
from mfa_amr.exceptions import InvalidClaimError, InvalidInputError, InvalidMethodError
from strategies import (
    SUPABASE_AAL2_METHODS,
    aware_datetimes,
    noncanonical_spellings,
    valid_method_names,
)

UTC = UTC
SID = uuid.UUID("5f0f1d2e-8b6a-4c3e-9d1f-2a7b8c9d0e1f")
CID = uuid.UUID("0b6c1f7e-3d2a-4e5f-8a9b-0c1d2e3f4a5b")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def claim(**changes: object) -> AMRClaim:
    fields: dict[str, object] = {
        "id": CID,
        "session_id": SID,
        "authentication_method": "password",
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return AMRClaim(**fields)


class TestAMRClaim:
    def test_fields(self) -> None:
        """A claim keeps its five columns; `method` is short for the method column."""
        c = claim(authentication_method="totp", updated_at=T0 + timedelta(minutes=1))
        assert CID == c.id
        assert SID == c.session_id
        assert "totp" == c.authentication_method
        assert "totp" == c.method
        assert T0 == c.created_at
        assert T0 + timedelta(minutes=1) == c.updated_at

    def test_uuid_strings_accepted(self) -> None:
        """UUIDs may be given in their string forms and are stored as UUIDs."""
        c = claim(id=str(CID), session_id=str(SID).upper())
        assert CID == c.id
        assert SID == c.session_id
        assert isinstance(c.id, uuid.UUID)
        assert SID == claim(session_id=SID.hex).session_id

    @pytest.mark.parametrize(
        "value", ["not-a-uuid", "", 123, None, SID.bytes, "5f0f1d2e-8b6a-4c3e-9d1f"]
    )
    @pytest.mark.parametrize("field", ["id", "session_id"])
    def test_non_uuid_refused(self, field: str, value: object) -> None:
        """Anything but a UUID or its string form is refused, naming the field."""
        with pytest.raises(InvalidClaimError, match=f"^{field} must be a UUID"):
            claim(**{field: value})

    @pytest.mark.parametrize("field", ["created_at", "updated_at"])
    def test_naive_datetime_refused(self, field: str) -> None:
        """A naive datetime is refused: its zone would be a guess."""
        with pytest.raises(InvalidClaimError, match="timezone-aware"):
            claim(**{field: datetime(2026, 1, 1, 12, 0)})

    @pytest.mark.parametrize("value", ["2026-01-01T12:00:00Z", 1767268800, None])
    def test_non_datetime_refused(self, value: object) -> None:
        """Strings and numbers are not datetimes."""
        with pytest.raises(InvalidClaimError):
            claim(created_at=value)

    def test_aware_datetime_normalised_to_utc(self) -> None:
        """A datetime in another zone is stored as the same instant in UTC."""
        paris = timezone(timedelta(hours=1))
        c = claim(
            created_at=datetime(2026, 1, 1, 13, 0, tzinfo=paris),
            updated_at=datetime(2026, 1, 1, 13, 30, tzinfo=paris),
        )
        assert datetime(2026, 1, 1, 12, 0, tzinfo=UTC) == c.created_at
        assert UTC is c.created_at.tzinfo
        assert UTC is c.updated_at.tzinfo

    @given(aware_datetimes, aware_datetimes)
    def test_any_zone_normalised(self, a: datetime, b: datetime) -> None:
        """Whatever the zones, both times are UTC and keep their instants."""
        lo, hi = sorted([a, b])
        c = claim(created_at=lo, updated_at=hi)
        assert lo == c.created_at
        assert hi == c.updated_at
        assert UTC is c.created_at.tzinfo
        assert UTC is c.updated_at.tzinfo

    @pytest.mark.parametrize("field", ["created_at", "updated_at"])
    def test_before_the_epoch_refused(self, field: str) -> None:
        """A datetime before 1970 is refused: a token's timestamp cannot say it."""
        early = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
        with pytest.raises(InvalidClaimError, match="1970-01-01"):
            # created_at <= updated_at must not be what refuses it
            claim(**{"created_at": early, field: early})

    def test_out_of_range_once_in_utc_refused(self) -> None:
        """An aware datetime that overflows when converted to UTC is an
        InvalidClaimError, not a bare OverflowError."""
        late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
        with pytest.raises(InvalidClaimError, match="out of range"):
            claim(created_at=late, updated_at=late)

    def test_the_epoch_itself_accepted(self) -> None:
        """Unix time 0 is the earliest instant a claim can carry."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert 0 == unix_seconds(claim(created_at=epoch, updated_at=epoch).updated_at)

    def test_created_after_updated_refused(self) -> None:
        """created_at after updated_at is refused."""
        with pytest.raises(InvalidClaimError, match="is after"):
            claim(created_at=T0 + timedelta(microseconds=1), updated_at=T0)

    def test_created_after_updated_across_zones_refused(self) -> None:
        """The order is judged on instants, not on the wall-clock digits."""
        east = timezone(timedelta(hours=5))
        with pytest.raises(InvalidClaimError):
            # 12:30 at +05:00 is 07:30 UTC, before 12:00 UTC
            claim(created_at=T0, updated_at=datetime(2026, 1, 1, 12, 30, tzinfo=east))

    def test_created_equal_updated_accepted(self) -> None:
        """A fresh row has created_at == updated_at."""
        assert claim().created_at == claim().updated_at

    def test_enum_method_stored_as_str(self) -> None:
        """An AuthenticationMethod member is stored as its plain string."""
        c = claim(authentication_method=AuthenticationMethod.MFA_PHONE)
        assert "mfa/phone" == c.authentication_method
        assert type(c.authentication_method) is str

    @given(valid_method_names)
    def test_unknown_but_valid_names_accepted(self, name: str) -> None:
        """Any well-formed name is a claim's method, known or not."""
        assert name == claim(authentication_method=name).method

    @given(noncanonical_spellings(st.sampled_from(SUPABASE_AAL2_METHODS)))
    def test_noncanonical_aal2_spelling_refused(self, value: str) -> None:
        """No non-canonical spelling of an aal2 method makes a claim."""
        with pytest.raises(InvalidMethodError):
            claim(authentication_method=value)

    def test_errors_are_value_errors(self) -> None:
        """Claim errors are InvalidInputError, hence ValueError."""
        assert issubclass(InvalidClaimError, InvalidInputError)
        assert issubclass(InvalidClaimError, ValueError)

    def test_frozen_and_comparable(self) -> None:
        """Claims are immutable values, equal by their fields."""
        c = claim()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            c.authentication_method = "totp"  # type: ignore[misc]
        assert claim() == c
        assert hash(claim()) == hash(c)
        assert claim(authentication_method="otp") != c

    def test_evolve_revalidates(self) -> None:
        """attrs.evolve goes through the same validation."""
        with pytest.raises(InvalidClaimError):
            attrs.evolve(claim(), updated_at=T0 - timedelta(seconds=1))
        with pytest.raises(InvalidMethodError):
            attrs.evolve(claim(), authentication_method="TOTP")


class TestUnixSeconds:
    @pytest.mark.parametrize(
        ("expected", "value"),
        [
            (0, datetime(1970, 1, 1, tzinfo=UTC)),
            (1767268800, T0),
            (1767268800, T0 + timedelta(microseconds=999_999)),
            (-1, datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)),
        ],
    )
    def test_floors(self, expected: int, value: datetime) -> None:
        """Whole seconds, floored like Go's Time.Unix."""
        assert expected == unix_seconds(value)

    @given(aware_datetimes)
    def test_matches_timestamp(self, value: datetime) -> None:
        """Agrees with calendar.timegm of the UTC time, which drops the fraction."""
        assert calendar.timegm(value.astimezone(UTC).timetuple()) == unix_seconds(value)


class TestAMREntry:
    def test_to_dict_without_provider(self) -> None:
        """Without a provider the dict has only method and timestamp."""
        assert {"method": "totp", "timestamp": 1767268800} == AMREntry(
            "totp", 1767268800
        ).to_dict()

    def test_to_dict_with_provider(self) -> None:
        """A provider is included only when set."""
        entry = AMREntry("sso/saml", 1767268800, "b1b2c3d4-0000-4000-8000-000000000001")
        assert {
            "method": "sso/saml",
            "timestamp": 1767268800,
            "provider": "b1b2c3d4-0000-4000-8000-000000000001",
        } == entry.to_dict()

    def test_to_dict_is_a_fresh_plain_dict(self) -> None:
        """to_dict returns a new plain dict each call, safe to change."""
        entry = AMREntry(AuthenticationMethod.TOTP, 1)
        first = entry.to_dict()
        first["method"] = "changed"
        assert {"method": "totp", "timestamp": 1} == entry.to_dict()
        assert type(entry.to_dict()["method"]) is str

    @pytest.mark.parametrize(
        "value", [-1, 1.0, "1", True, None, MAX_TIMESTAMP + 1, 10**20]
    )
    def test_timestamp_must_be_non_negative_int(self, value: object) -> None:
        """The timestamp is whole Unix seconds from 0 to MAX_TIMESTAMP (9999)."""
        with pytest.raises(InvalidClaimError, match="timestamp"):
            AMREntry("totp", value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [1, b"x", ["id"]])
    def test_provider_must_be_a_str(self, value: object) -> None:
        """A provider is a string or None."""
        with pytest.raises(InvalidClaimError, match="provider"):
            AMREntry("sso/saml", 1, value)

    def test_empty_provider_is_none(self) -> None:
        """A provider of "" is none, as Supabase leaves the key out for it."""
        assert AMREntry("sso/saml", 1) == AMREntry("sso/saml", 1, "")
        assert {"method": "sso/saml", "timestamp": 1} == AMREntry(
            "sso/saml", 1, ""
        ).to_dict()

    def test_method_is_validated(self) -> None:
        """An entry's method obeys the method syntax."""
        with pytest.raises(InvalidMethodError):
            AMREntry("TOTP", 1)

    @given(
        valid_method_names,
        st.integers(min_value=0, max_value=MAX_TIMESTAMP),
        st.none() | st.text(min_size=1),
    )
    def test_to_dict_is_json(self, method: str, ts: int, provider: str | None) -> None:
        """to_dict survives a JSON round trip unchanged."""
        out = AMREntry(method, ts, provider).to_dict()
        assert out == json.loads(json.dumps(out))
        assert ("provider" in out) == (provider is not None)
