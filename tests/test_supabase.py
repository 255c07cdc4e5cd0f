"""mfa_amr.supabase: the Custom Access Token hook as a function, its signature check,
and the hook served as an ASGI application."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from mfa_amr import AMRClaim, Factor, MethodSpec, Policy
from mfa_amr.exceptions import (
    AmrParseError,
    HookRequestError,
    InvalidInputError,
    WebhookSignatureError,
)
from mfa_amr.fastapi import access_token_hook_router
from mfa_amr.stores.memory import AsyncInMemoryClaimStore
from mfa_amr.supabase import (
    REQUIRED_CLAIMS,
    AccessTokenHook,
    WebhookVerifier,
    customize_access_token,
    hook_error,
)
from strategies import known_methods

NOW = 1_800_000_000
USER = "8a6e0804-2bd0-4672-b79d-d97027f9071a"
SESSION = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
SSO_PROVIDER = "0c8a2d0e-5b7f-4e61-9a3c-2f1d4b6e8a90"
SECRET = "v1,whsec_" + base64.b64encode(b"a secret of the hook, 32 bytes..").decode()
ROTATED = "v1,whsec_" + base64.b64encode(b"the next secret, also 32 bytes..").decode()


def hook_input(
    amr: list[dict[str, Any]] | None,
    *,
    aal: str = "aal1",
    method: str = "password",
    email: str = "user@example.com",
    is_anonymous: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A hook request as Supabase sends it (supabase/auth's v0hooks), for SESSION:
    its claims in Supabase's order, amr left out when empty."""
    token: dict[str, Any] = {
        "aud": "authenticated",
        "exp": NOW + 3600,
        "iat": NOW,
        "iss": "https://project.supabase.co/auth/v1",
        "sub": USER,
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"name": "A User"},
        "role": "authenticated",
        "aal": aal,
    }
    if amr is not None:
        token["amr"] = amr
    token |= {"session_id": SESSION, "is_anonymous": is_anonymous, **extra}
    return {
        "metadata": {
            "uuid": "4d5e6f70-1a2b-4c3d-9e0f-a1b2c3d4e5f6",
            "time": "2027-01-15T08:00:00Z",
            "name": "customize-access-token",
            "ip_address": "203.0.113.7",
        },
        "user_id": USER,
        "claims": token,
        "authentication_method": method,
    }


def entry(method: str, ago: int, provider: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "timestamp": NOW - ago}
    if provider is not None:
        out["provider"] = provider
    return out


# The inputs the reference describes, as Supabase sends them.
INPUTS: dict[str, dict[str, Any]] = {
    "password sign-in": hook_input([entry("password", 0)]),
    "refresh": hook_input(
        [entry("totp", 100), entry("password", 200)],
        aal="aal2",
        method="token_refresh",
    ),
    "mfa verification": hook_input(
        [entry("totp", 0), entry("password", 60)], aal="aal2", method="totp"
    ),
    "sso with provider": hook_input(
        [entry("sso/saml", 0, SSO_PROVIDER)], method="sso/saml"
    ),
    "anonymous": hook_input(
        [entry("anonymous", 0)], method="anonymous", email="", is_anonymous=True
    ),
    "a name outside the syntax": hook_input(
        [entry("TOTP", 0), entry("password", 30)], method="password"
    ),
    "no amr": hook_input(None),
}


def answer(name: str, **options: Any) -> dict[str, Any]:
    out = customize_access_token(copy.deepcopy(INPUTS[name]), now=NOW, **options)[
        "claims"
    ]
    assert isinstance(out, dict)
    return out


# What each input becomes under each policy, in the RFC 8176 style: (aal, amr).
EXPECTED_RFC = {
    ("password sign-in", "supabase"): ("aal1", ["pwd"]),
    ("password sign-in", "nist"): ("aal1", ["pwd"]),
    ("refresh", "supabase"): ("aal2", ["otp", "pwd", "mfa"]),
    ("refresh", "nist"): ("aal2", ["otp", "pwd", "mfa"]),
    ("mfa verification", "supabase"): ("aal2", ["otp", "pwd", "mfa"]),
    ("mfa verification", "nist"): ("aal2", ["otp", "pwd", "mfa"]),
    ("sso with provider", "supabase"): ("aal1", []),
    ("sso with provider", "nist"): ("aal1", []),
    ("anonymous", "supabase"): ("aal1", []),
    ("anonymous", "nist"): ("aal1", []),
    ("a name outside the syntax", "supabase"): ("aal1", ["pwd"]),
    ("a name outside the syntax", "nist"): ("aal1", ["pwd"]),
    ("no amr", "supabase"): ("aal1", None),
    ("no amr", "nist"): ("aal1", None),
}
PRESETS = {"supabase": Policy.supabase(), "nist": Policy.nist()}


class TestTheHookAsAFunction:
    @pytest.mark.parametrize(("name", "preset"), list(EXPECTED_RFC))
    def test_each_input_under_each_policy(self, name: str, preset: str) -> None:
        """Each request Supabase sends, signed, gets the level its amr proves under
        the policy, in both styles: the Supabase style keeps the objects, the RFC
        8176 style writes the strings, the served app answering as the function."""
        aal, amr = EXPECTED_RFC[name, preset]
        policy = PRESETS[preset]
        body = json.dumps(INPUTS[name]).encode()
        headers = signed(body, SECRET)  # standardwebhooks' own signer
        objects = post(served(policy=policy), body, headers).json()["claims"]
        assert aal == objects["aal"]
        assert INPUTS[name]["claims"].get("amr") == objects.get("amr")
        strings = post(served(policy=policy, style="rfc8176"), body, headers)
        claims = strings.json()["claims"]
        assert (aal, amr) == (claims["aal"], claims.get("amr"))
        assert aal == claims["acr"]
        assert claims == answer(name, policy=policy, style="rfc8176")

    @pytest.mark.parametrize("name", list(INPUTS))
    def test_supabase_policy_and_style_change_nothing(self, name: str) -> None:
        """Under Policy.supabase() in the Supabase style the hook answers Supabase's
        own claims byte for byte: same keys, order, entries and names."""
        given = INPUTS[name]["claims"]
        out = answer(name)
        assert json.dumps(given) == json.dumps(out)

    def test_nist_rfc_style_on_a_refresh(self) -> None:
        """Policy.nist() in the RFC 8176 style writes strings, acr and auth_time;
        every other claim passes through."""
        out = answer("refresh", policy=Policy.nist(), style="rfc8176")
        given = INPUTS["refresh"]["claims"]
        assert ["otp", "pwd", "mfa"] == out["amr"]
        assert ("aal2", "aal2", NOW - 100) == (out["aal"], out["acr"], out["auth_time"])
        owned = {"aal", "amr", "acr", "auth_time"}
        assert {k: v for k, v in given.items() if k not in owned} == {
            k: v for k, v in out.items() if k not in owned
        }

    def test_a_stale_second_factor_no_longer_makes_aal2(self) -> None:
        """supabase/auth#1615: a TOTP verified 20 hours ago keeps a Supabase session
        aal2 forever; under Policy.nist() the hook writes aal1."""
        stale = hook_input(
            [entry("password", 60), entry("totp", 20 * 3600)], aal="aal2"
        )
        assert "aal2" == customize_access_token(stale, now=NOW)["claims"]["aal"]  # type: ignore[index]
        out = customize_access_token(stale, policy=Policy.nist(), now=NOW)["claims"]
        assert "aal1" == out["aal"]  # type: ignore[index]
        assert stale["claims"]["amr"] == out["amr"]  # type: ignore[index]

    def test_a_catalog_where_passkeys_count(self) -> None:
        """With a passkey spec that counts toward aal2, a passkey sign-in's token is
        aal2; Supabase's own rule leaves it aal1."""
        passkey = MethodSpec(
            "passkey",
            (Factor.POSSESSION, Factor.INHERENCE),
            ("pop", "user"),
            supabase_aal2=True,
            multi_factor=True,
            phishing_resistant=True,
        )
        signed_in = hook_input([entry("passkey", 0)], method="passkey")
        assert "aal1" == customize_access_token(signed_in, now=NOW)["claims"]["aal"]  # type: ignore[index]
        counted = customize_access_token(
            signed_in, policy=Policy.supabase().with_method(passkey), now=NOW
        )
        assert "aal2" == counted["claims"]["aal"]  # type: ignore[index]

    def test_the_hook_cannot_be_tricked_into_aal2(self) -> None:
        """An input claiming aal2 whose amr proves aal1 is answered aal1."""
        lying = hook_input([entry("password", 0)], aal="aal2")
        for policy in (Policy.supabase(), Policy.nist()):
            out = customize_access_token(lying, policy=policy, now=NOW)["claims"]
            assert "aal1" == out["aal"]  # type: ignore[index]

    def test_supabase_objects_kept_beside_the_strings(self) -> None:
        """supabase_amr_claim keeps the input's objects under a claim of its own."""
        out = answer("sso with provider", style="rfc8176", supabase_amr_claim="amr_obj")
        assert [] == out["amr"]
        assert INPUTS["sso with provider"]["claims"]["amr"] == out["amr_obj"]

    def test_oidc_claims_in_the_supabase_style(self) -> None:
        """oidc_claims adds acr and auth_time beside Supabase's objects."""
        out = answer("mfa verification", oidc_claims=True)
        assert INPUTS["mfa verification"]["claims"]["amr"] == out["amr"]
        assert ("aal2", NOW) == (out["acr"], out["auth_time"])

    def test_a_name_outside_the_syntax_counts_for_nothing(self) -> None:
        """Another writer's TOTP is kept in a Supabase-style amr and never counts;
        in the RFC style it has no value."""
        out = answer("a name outside the syntax", policy=Policy.nist(), style="rfc8176")
        assert ("aal1", ["pwd"]) == (out["aal"], out["amr"])

    def test_no_amr_stays_without_amr(self) -> None:
        """An input without amr is aal1 and stays without it, in both styles."""
        assert "amr" not in answer("no amr", style="supabase")
        rfc = answer("no amr", style="rfc8176")
        assert ("aal1", "aal1") == (rfc["aal"], rfc["acr"])
        assert "amr" not in rfc
        assert "auth_time" not in rfc

    def test_the_store_s_claims_instead_of_the_input(self) -> None:
        """With claims from the store, a factor removed since is gone at once."""
        password = datetime.fromtimestamp(NOW - 60, UTC)
        stored = [AMRClaim(uuid.uuid4(), SESSION, "password", password, password)]
        out = customize_access_token(
            INPUTS["mfa verification"], claims=stored, now=NOW
        )["claims"]
        assert ("aal1", [{"method": "password", "timestamp": NOW - 60}]) == (
            out["aal"],  # type: ignore[index]
            out["amr"],  # type: ignore[index]
        )

    def test_the_store_path_keeps_the_inputs_providers(self) -> None:
        """With claims from a store, the amr written again gives each method the
        provider of the input's entry of that method: the sso/saml entry keeps its
        SSO provider, a method the input lacks gets none; served with store= the
        same."""
        signed_in = datetime.fromtimestamp(NOW, UTC)
        stored = [
            AMRClaim(uuid.uuid4(), SESSION, "sso/saml", signed_in, signed_in),
            AMRClaim(uuid.uuid4(), SESSION, "totp", signed_in, signed_in),
        ]
        expected = [
            {"method": "sso/saml", "timestamp": NOW, "provider": SSO_PROVIDER},
            {"method": "totp", "timestamp": NOW},
        ]
        out = customize_access_token(
            INPUTS["sso with provider"], claims=stored, now=NOW
        )["claims"]
        assert ("aal2", expected) == (out["aal"], out["amr"])  # type: ignore[index]
        store = AsyncInMemoryClaimStore(clock=lambda: signed_in)
        for claim in stored:
            asyncio.run(store.record(SESSION, claim.authentication_method))
        body = json.dumps(INPUTS["sso with provider"]).encode()
        served_out = post(served(store=store), body, signed(body, SECRET)).json()
        assert out == served_out["claims"]

    @pytest.mark.parametrize(
        ("hook_request", "error"),
        [
            ([], HookRequestError),
            ({"claims": "x"}, HookRequestError),
            ({"claims": {"aal": "aal1"}}, HookRequestError),
            (hook_input([{"method": "totp", "timestamp": "yesterday"}]), AmrParseError),
            (hook_input(["pwd"]), AmrParseError),  # type: ignore[list-item]
        ],
    )
    def test_what_is_not_a_hook_request_is_refused(
        self, hook_request: Any, error: type[Exception]
    ) -> None:
        """A request without claims, without Supabase's required claims, or with a
        malformed amr raises the error that names it."""
        with pytest.raises(error):
            customize_access_token(hook_request, now=NOW)

    def test_the_copy_claim_cannot_overwrite_a_required_one(self) -> None:
        """supabase_amr_claim must name a claim of its own."""
        with pytest.raises(InvalidInputError, match="claim of its own"):
            answer("refresh", style="rfc8176", supabase_amr_claim="sub")


_extra_claims = st.dictionaries(
    st.text(max_size=8).filter(
        lambda k: k not in {*REQUIRED_CLAIMS, "amr", "acr", "auth_time"}
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(st.text(max_size=4), kids, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=4,
)
_amr = st.lists(
    st.builds(
        entry,
        st.sampled_from(
            ["password", "otp", "totp", "mfa/phone", "passkey", "magiclink", "TOTP"]
        ),
        st.integers(-120, 30 * 3600),
    ),
    max_size=5,
    unique_by=lambda e: e["method"],
)


OUTSIDE_THE_SYNTAX = ("TOTP", "sso:okta")
"""Names another writer put in Supabase's table that mfa-amr's syntax refuses."""


@st.composite
def _genuine_amr(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A Supabase-shape amr as Supabase writes it: one entry per method, most
    recent first, none in the future, the sso/saml entry with its provider; mostly
    catalog methods, some foreign names (outside the syntax, or in it and unknown)."""
    names = draw(
        st.lists(
            known_methods | st.sampled_from([*OUTSIDE_THE_SYNTAX, "custom/factor"]),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    ages = draw(st.lists(st.integers(0, 30 * 3600), min_size=len(names), max_size=5))
    entries = [
        entry(name, ago, SSO_PROVIDER if name == "sso/saml" else None)
        for name, ago in zip(names, ages, strict=False)
    ]
    return sorted(entries, key=lambda e: -e["timestamp"])


def as_stored(amr_entry: dict[str, Any]) -> AMRClaim:
    """An amr entry of SESSION as a store holds it."""
    at = datetime.fromtimestamp(amr_entry["timestamp"], UTC)
    return AMRClaim(uuid.uuid4(), SESSION, amr_entry["method"], at, at)


class TestTheHookProperty:
    @given(
        amr=st.none() | _amr,
        aal=st.sampled_from(["aal1", "aal2", "aal3"]),
        extra=_extra_claims,
        policy=st.sampled_from([Policy.supabase(), Policy.nist()]),
        style=st.sampled_from(["supabase", "rfc8176"]),
    )
    def test_required_kept_others_passed_aal_never_raised(
        self,
        amr: list[dict[str, Any]] | None,
        aal: str,
        extra: dict[str, Any],
        policy: Policy,
        style: str,
    ) -> None:
        """For any input, the answer keeps every required claim, passes every claim
        it does not own through unchanged, and its aal is no higher than what the
        input's amr proves under the policy."""
        request = hook_input(amr, aal=aal, **extra)
        given = copy.deepcopy(request["claims"])
        out = customize_access_token(request, policy=policy, style=style, now=NOW)
        claims = out["claims"]
        assert isinstance(claims, dict)
        assert set(REQUIRED_CLAIMS) <= set(claims)
        owned = {"aal", "amr", "acr", "auth_time"}
        assert {k: v for k, v in given.items() if k not in owned} == {
            k: v for k, v in claims.items() if k not in owned
        }
        proven = policy.evaluate(
            {"aal": "aal3", "amr": amr or []}, now=NOW
        ).amr_aal  # what the objects prove, whatever the input claims
        assert claims["aal"] <= proven
        assert given == request["claims"], "the input was changed"

    @given(
        amr=st.none() | _genuine_amr(),
        policy=st.sampled_from(
            [
                Policy.supabase(),
                Policy.nist(),
                Policy.supabase(strict=True),
                Policy.nist(strict=True),
            ]
        ),
        style=st.sampled_from(["supabase", "rfc8176"]),
        oidc_claims=st.booleans(),
        from_store=st.booleans(),
    )
    def test_the_policy_reads_back_the_level_it_wrote(
        self,
        amr: list[dict[str, Any]] | None,
        policy: Policy,
        style: str,
        oidc_claims: bool,
        from_store: bool,
    ) -> None:
        """For a genuine input, from its amr or from a store's claims, the answer's
        claims read back by the same policy (strict ones too) at the same instant
        prove the aal they carry: evaluate reads that aal, its amr proves at least
        as much, and require(aal=...) passes."""
        stored = None
        if from_store:
            stored = [
                as_stored(e) for e in amr or [] if e["method"] not in OUTSIDE_THE_SYNTAX
            ]
        out = customize_access_token(
            hook_input(amr),
            policy=policy,
            style=style,
            oidc_claims=oidc_claims,
            claims=stored,
            now=NOW,
        )["claims"]
        assert isinstance(out, dict)
        read = policy.evaluate(out, now=NOW)
        assert (out["aal"], out["aal"]) == (read.aal, read.effective_aal)
        policy.require(out, aal=out["aal"], now=NOW)


# -- the signature ----------------------------------------------------------------------


def signed(
    body: bytes,
    *secrets: str,
    at: int = NOW,
    message_id: str = "msg_2c0d5e8f",
    joined: str = ", ",
) -> dict[str, str]:
    """The headers Supabase sends: one v1 signature per secret, joined with ", "
    (signed with standardwebhooks' own signer)."""
    when = datetime.fromtimestamp(at, UTC)
    signatures = [
        Webhook(secret.removeprefix("v1,")).sign(message_id, when, body.decode())
        for secret in secrets
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(at),
        "webhook-signature": joined.join(signatures),
    }


BODY = json.dumps(INPUTS["refresh"]).encode()
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
BOGUS_SIGNATURE = "v1," + base64.b64encode(b"not the signature, 32 bytes long").decode()
BOGUS = {
    "webhook-id": "msg_0000",
    "webhook-timestamp": str(NOW - 1),
    "webhook-signature": BOGUS_SIGNATURE,
}


def repeated(name: str, *, genuine_first: bool) -> list[tuple[str, str]]:
    """BODY's signed headers with ``name`` sent twice: the genuine value and a
    bogus one, in the order asked."""
    genuine = signed(BODY, SECRET)
    copies = [(name, genuine[name]), (name, BOGUS[name])]
    rest = [(k, v) for k, v in genuine.items() if k != name]
    return rest + (copies if genuine_first else copies[::-1])


class TestTheSignature:
    verifier = WebhookVerifier(SECRET, clock=lambda: NOW)

    def test_a_signed_request_passes(self) -> None:
        """A request signed with the secret passes."""
        self.verifier.verify(signed(BODY, SECRET), BODY)

    def test_a_rotation_passes_with_either_secret(self) -> None:
        """During a rotation Supabase signs with each secret, joined with ", ",
        which standardwebhooks' own verify cannot read; this verifier can, and
        takes a request signed by either of its secrets."""
        now = int(time.time())
        with pytest.raises(ValueError, match="too many values to unpack"):
            # what the library's own verify does with Supabase's header, measured
            Webhook(SECRET.removeprefix("v1,")).verify(
                BODY, signed(BODY, SECRET, ROTATED, at=now)
            )
        headers = signed(BODY, SECRET, ROTATED)
        WebhookVerifier([ROTATED], clock=lambda: NOW).verify(headers, BODY)
        WebhookVerifier([SECRET, ROTATED], clock=lambda: NOW).verify(
            signed(BODY, ROTATED), BODY
        )
        self.verifier.verify(signed(BODY, SECRET, ROTATED, joined=" "), BODY)

    @pytest.mark.parametrize(
        ("headers", "body"),
        [
            (signed(BODY, ROTATED), BODY),  # the wrong secret
            (signed(BODY, SECRET, at=NOW - 301), BODY),  # stale
            (signed(BODY, SECRET, at=NOW + 301), BODY),  # from the future
            (signed(BODY, SECRET), BODY.replace(b"aal2", b"aal3")),  # body changed
            ({}, BODY),
            ({"webhook-id": "x", "webhook-timestamp": str(NOW)}, BODY),
            ({**signed(BODY, SECRET), "webhook-timestamp": "soon"}, BODY),
            ({**signed(BODY, SECRET), "webhook-timestamp": "1e9"}, BODY),
            ({**signed(BODY, SECRET), "webhook-id": "two words"}, BODY),
            ({**signed(BODY, SECRET), "webhook-signature": "v1,@@@"}, BODY),
            ({**signed(BODY, SECRET), "webhook-signature": "v1,"}, BODY),
            ({**signed(BODY, SECRET), "webhook-signature": "v2,abc="}, BODY),
            ({**signed(BODY, SECRET), "webhook-signature": "v1,abc"}, BODY),
            ({**signed(BODY, SECRET), "webhook-signature": "v1," + "A" * 5000}, BODY),
            (signed(BODY, SECRET), b"\xff" + BODY),
        ],
    )
    def test_a_bad_request_is_refused_as_one_error(
        self, headers: dict[str, str], body: bytes
    ) -> None:
        """A wrong secret, a stale or future timestamp, a changed body, a missing or
        malformed header: each raises WebhookSignatureError, nothing else."""
        with pytest.raises(WebhookSignatureError):
            self.verifier.verify(headers, body)

    @pytest.mark.parametrize("name", WEBHOOK_HEADERS)
    @pytest.mark.parametrize("genuine_first", [True, False])
    def test_a_repeated_webhook_header_is_refused(
        self, name: str, genuine_first: bool
    ) -> None:
        """A request that repeats webhook-id, webhook-timestamp or
        webhook-signature is refused, whichever copy is the genuine one: which were
        signed together is ambiguous."""
        with pytest.raises(WebhookSignatureError, match=f"repeats the {name} header"):
            self.verifier.verify(repeated(name, genuine_first=genuine_first), BODY)

    def test_a_name_repeated_in_another_case_is_refused(self) -> None:
        """A mapping holding Webhook-Signature and webhook-signature repeats the
        header too, and is refused."""
        headers = {**signed(BODY, SECRET), "Webhook-Signature": BOGUS_SIGNATURE}
        with pytest.raises(WebhookSignatureError, match="repeats"):
            self.verifier.verify(headers, BODY)

    def test_headers_as_pairs_pass(self) -> None:
        """The headers may be given as (name, value) pairs, as received, in any
        case."""
        pairs = [(k.title(), v) for k, v in signed(BODY, SECRET).items()]
        self.verifier.verify([("accept", "*/*"), *pairs, ("accept", "*/*")], BODY)

    @pytest.mark.parametrize("secret", ["", "whsec_", "v1,whsec_not base64!", "abc"])
    def test_a_bad_secret_fails_at_startup(self, secret: str) -> None:
        """A secret that is not base64 is refused when the verifier is built."""
        with pytest.raises(InvalidInputError, match="webhook secret"):
            WebhookVerifier(secret)
        with pytest.raises(InvalidInputError):
            WebhookVerifier([])


# -- served -----------------------------------------------------------------------------


Headers = Mapping[str, str] | Sequence[tuple[str, str]]
"""A request's headers: a mapping, or pairs, which may repeat a name."""


def post(
    app: AccessTokenHook, body: bytes, headers: Headers, method: str = "POST"
) -> httpx.Response:
    """One request to the ASGI application, through httpx's ASGI transport."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as c:
            return await c.request(method, "/", content=body, headers=headers)

    return asyncio.run(run())


def served(**options: Any) -> AccessTokenHook:
    return AccessTokenHook(
        WebhookVerifier(SECRET, clock=lambda: NOW), clock=lambda: NOW, **options
    )


class TestServed:
    def test_a_signed_request_is_answered_with_claims(self) -> None:
        """A signed hook request gets 200, JSON, {"claims": ...}."""
        response = post(
            served(policy=Policy.nist(), style="rfc8176"), BODY, signed(BODY, SECRET)
        )
        assert 200 == response.status_code
        assert "application/json" == response.headers["content-type"]
        claims = response.json()["claims"]
        assert ["otp", "pwd", "mfa"] == claims["amr"]

    def test_an_unsigned_request_is_refused_before_the_policy(self) -> None:
        """A request whose signature does not pass gets 401 and never reaches the
        policy or the store."""

        class Untouchable(AsyncInMemoryClaimStore):
            async def claims(self, session_id: object) -> list[AMRClaim]:
                raise AssertionError("the store was read")

        app = served(store=Untouchable())
        response = post(app, BODY, signed(BODY, ROTATED))
        assert 401 == response.status_code
        assert {"error": "invalid webhook signature"} == response.json()

    @pytest.mark.parametrize("name", WEBHOOK_HEADERS)
    @pytest.mark.parametrize("genuine_first", [True, False])
    def test_a_repeated_webhook_header_gets_401(
        self, name: str, genuine_first: bool
    ) -> None:
        """A request repeating a webhook header, the genuine copy first or last,
        gets 401 before the policy; sent once, the genuine headers pass."""
        headers = repeated(name, genuine_first=genuine_first)
        response = post(served(), BODY, headers)
        assert (401, {"error": "invalid webhook signature"}) == (
            response.status_code,
            response.json(),
        )
        assert 200 == post(served(), BODY, signed(BODY, SECRET)).status_code

    def test_too_large_and_malformed_bodies_in_the_hook_error_shape(self) -> None:
        """A body over the bound and malformed JSON are answered with status 200
        in Supabase's hook error shape, which Supabase reads."""
        app = served(body_limit=64)
        response = post(app, BODY, signed(BODY, SECRET))
        assert 200 == response.status_code
        assert 413 == response.json()["error"]["http_code"]
        garbage = b'{"claims": '
        response = post(served(), garbage, signed(garbage, SECRET))
        assert (200, 400) == (
            response.status_code,
            response.json()["error"]["http_code"],
        )
        not_a_hook = json.dumps({"claims": {}}).encode()
        response = post(served(), not_a_hook, signed(not_a_hook, SECRET))
        assert "lack" in response.json()["error"]["message"]

    def test_only_post(self) -> None:
        """Anything but POST gets 405."""
        assert 405 == post(served(), b"", {}, method="GET").status_code

    def test_with_a_store_the_claims_are_the_table_s(self) -> None:
        """With store=, the session's claims come from the store: a factor removed
        since the request's token makes the answer aal1 at once."""
        store = AsyncInMemoryClaimStore(clock=lambda: datetime.fromtimestamp(NOW, UTC))
        password = datetime.fromtimestamp(NOW - 200, UTC)
        asyncio.run(store.record(SESSION, "password", at=password))
        response = post(served(store=store), BODY, signed(BODY, SECRET))
        claims = response.json()["claims"]
        assert ("aal1", [{"method": "password", "timestamp": NOW - 200}]) == (
            claims["aal"],
            claims["amr"],
        )

    def test_hook_error_never_has_an_empty_message(self) -> None:
        """Supabase ignores an error with an empty message: there is always one."""
        assert {"error": {"http_code": 500, "message": "hook error"}} == hook_error("")


class TestImport:
    def test_without_the_extra_the_import_names_it(self) -> None:
        """Importing mfa_amr.supabase without standardwebhooks says which extra to
        install."""
        code = (
            "import sys; sys.modules['standardwebhooks'] = None\n"
            "sys.modules['standardwebhooks.webhooks'] = None\n"
            "try:\n"
            "    import mfa_amr.supabase\n"
            "except ImportError as exc:\n"
            "    print(exc)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "pip install 'mfa-amr[supabase]'" in out.stdout


class Answer(Protocol):
    """A response of httpx's, or of the httpx2 that Starlette's TestClient may use."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


class TestServedByFastAPI:
    def client(self, prefix: str = "", **options: Any) -> TestClient:
        app = FastAPI()
        router = access_token_hook_router(served(**options), path="/hook")
        app.include_router(router, prefix=prefix)
        return TestClient(app)

    @staticmethod
    def seen(response: Answer) -> tuple[int, str | None, bytes]:
        """What a client sees of an answer: status, content type and body."""
        return (
            response.status_code,
            response.headers.get("content-type"),
            response.content,
        )

    @pytest.mark.parametrize("name", WEBHOOK_HEADERS)
    @pytest.mark.parametrize("genuine_first", [True, False])
    def test_the_router_and_the_app_agree_on_repeated_headers(
        self, name: str, genuine_first: bool
    ) -> None:
        """A request repeating a webhook header, the genuine copy first or last,
        gets the same 401 from the router as from the ASGI application."""
        headers = repeated(name, genuine_first=genuine_first)
        from_router = self.client().post("/hook", content=BODY, headers=headers)
        from_app = post(served(), BODY, headers)
        assert self.seen(from_app) == self.seen(from_router)
        assert 401 == from_router.status_code

    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
    def test_other_methods_get_the_apps_405_under_a_prefix_too(
        self, method: str
    ) -> None:
        """Anything but POST gets the ASGI application's own 405, and a router
        included with a prefix serves the hook at prefix + path."""
        client = self.client(prefix="/auth")
        from_router = client.request(method, "/auth/hook")
        assert self.seen(post(served(), b"", {}, method=method)) == self.seen(
            from_router
        )
        assert 405 == from_router.status_code
        signed_ok = client.post(
            "/auth/hook", content=BODY, headers=signed(BODY, SECRET)
        )
        assert self.seen(post(served(), BODY, signed(BODY, SECRET))) == self.seen(
            signed_ok
        )

    def test_the_hook_is_not_in_the_openapi_schema(self) -> None:
        """The hook's route is left out of the application's OpenAPI schema."""
        app = FastAPI()
        app.include_router(access_token_hook_router(served(), path="/hook"))
        assert "/hook" not in app.openapi().get("paths", {})

    def test_the_router_answers_as_the_asgi_app(self) -> None:
        """The FastAPI router gives the ASGI application's answers: claims for a
        signed request, 401 for a bad signature, the hook error shape for a body
        over the bound."""
        client = self.client(policy=Policy.nist(), style="rfc8176")
        signed_ok = client.post("/hook", content=BODY, headers=signed(BODY, SECRET))
        assert 200 == signed_ok.status_code
        assert "application/json" == signed_ok.headers["content-type"]
        expected = post(
            served(policy=Policy.nist(), style="rfc8176"), BODY, signed(BODY, SECRET)
        )
        assert expected.json() == signed_ok.json()
        refused = client.post("/hook", content=BODY, headers=signed(BODY, ROTATED))
        assert 401 == refused.status_code
        small = self.client(body_limit=64)
        too_large = small.post("/hook", content=BODY, headers=signed(BODY, SECRET))
        assert (200, 413) == (
            too_large.status_code,
            too_large.json()["error"]["http_code"],
        )
