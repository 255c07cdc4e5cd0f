"""mfa_amr.fastapi: the requirement as a dependency, the 401 answers, the online
check against a store, the store dependency, and the module without its extra."""

# No `from __future__ import annotations` here: FastAPI reads the annotations of the
# routes these tests define inside functions, and those name local dependencies.

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import attrs
import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mfa_amr import (
    AAL,
    AMRClaim,
    AsyncInMemoryClaimStore,
    Evaluation,
    LevelRule,
    MethodSpec,
    Policy,
    Requirement,
    StepUpChallenge,
)
from mfa_amr.exceptions import InvalidInputError
from mfa_amr.fastapi import (
    STORE_STATE_KEY,
    InvalidToken,
    add_exception_handlers,
    claim_store,
    requires,
)
from mfa_amr.stores import AsyncClaimStore, SessionIdLike

POLICY = Policy.supabase()
AAL2 = POLICY.requirement(aal="aal2")
STEP_UP_TO_AAL2 = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="This request needs aal2 but the token is aal1", '
    'acr_values="aal2 aal3"'
)
INVALID = 'Bearer error="invalid_token"'
UNREADABLE = "The access token's authentication claims cannot be read"
Credentials = Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]


class Tokens:
    """Stands in for a JWT library: a bearer token is a key into the payloads it
    issued, and the dependency counts its calls."""

    def __init__(self) -> None:
        self.payloads: dict[str, Mapping[str, object]] = {}
        self.calls = 0

    def bearer(self, payload: Mapping[str, object]) -> dict[str, str]:
        token = uuid.uuid4().hex
        self.payloads[token] = payload
        return {"Authorization": f"Bearer {token}"}

    async def verified(
        self, authorization: Annotated[str, Header()] = ""
    ) -> Mapping[str, object]:
        self.calls += 1
        payload = self.payloads.get(authorization.removeprefix("Bearer "))
        if payload is None:
            raise InvalidToken("The access token is not one we issued")
        return payload


class CountingStore:
    """An AsyncInMemoryClaimStore that counts its ``claims`` calls."""

    def __init__(self) -> None:
        self.inner = AsyncInMemoryClaimStore()
        self.reads = 0

    async def claims(self, session_id: SessionIdLike) -> list[AMRClaim]:
        self.reads += 1
        return await self.inner.claims(session_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


def token_for(
    store: CountingStore, session_id: uuid.UUID, **changes: object
) -> dict[str, object]:
    """The payload the issuer writes for the session's stored claims."""
    claims = asyncio.run(store.inner.claims(session_id))
    return {"sub": "user-1", **POLICY.token_claims(session_id, claims), **changes}


def signed_in(
    store: CountingStore, *methods: str, at: datetime | None = None
) -> uuid.UUID:
    """A new session that proved ``methods`` one second apart, the last at ``at``
    (default: now)."""
    session = uuid.uuid4()
    last = datetime.now(UTC) if at is None else at
    for index, method in enumerate(methods, start=1 - len(methods)):
        asyncio.run(
            store.inner.record(session, method, at=last + timedelta(seconds=index))
        )
    return session


def app_with(*routes: tuple[str, Callable[..., Any]]) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    for path, endpoint in routes:
        app.get(path)(endpoint)
    return app


def guarded(
    tokens: Tokens,
    requirement: Any = AAL2,
    store: CountingStore | None = None,
) -> TestClient:
    """A client of an app whose /guarded route returns what the dependency gave."""
    dependency = requires(
        requirement,
        payload=tokens.verified,
        store=None if store is None else claim_store,
    )

    async def route(
        evaluation: Annotated[Evaluation, Depends(dependency)],
    ) -> dict[str, object]:
        return {
            "aal": evaluation.effective_aal,
            "methods": [m.method for m in evaluation.methods],
        }

    app = app_with(("/guarded", route))
    if store is not None:
        app.dependency_overrides[claim_store] = lambda: store
    return TestClient(app)


class TestRequires:
    def test_a_token_that_meets_the_requirement_passes_with_its_evaluation(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """An aal2 token reaches the route, which gets the token's Evaluation."""
        session = signed_in(store, "password", "totp")
        response = guarded(tokens).get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert 200 == response.status_code
        assert {"aal": "aal2", "methods": ["totp", "password"]} == response.json()

    def test_a_token_that_falls_short_gets_the_step_up_challenge(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """An aal1 token on an aal2 route: 401, the exact RFC 9470 header, and the
        JSON body of the error and its description."""
        session = signed_in(store, "password")
        response = guarded(tokens).get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert 401 == response.status_code
        assert STEP_UP_TO_AAL2 == response.headers["WWW-Authenticate"]
        assert {
            "error": "insufficient_user_authentication",
            "error_description": "This request needs aal2 but the token is aal1",
        } == response.json()

    def test_a_max_age_challenge_carries_max_age(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """A sign-in older than max_age: the challenge asks for max_age."""
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        session = signed_in(store, "password", at=an_hour_ago)
        client = guarded(tokens, POLICY.requirement(max_age=300))
        response = client.get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert 401 == response.status_code
        assert response.headers["WWW-Authenticate"].endswith(", max_age=300")

    def test_a_malformed_amr_is_an_invalid_token_and_its_details_are_logged(
        self, tokens: Tokens, store: CountingStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An amr that cannot be read: 401 invalid_token with a fixed description;
        what was wrong goes to the mfa_amr.fastapi logger as a warning."""
        session = signed_in(store, "password", "totp")
        bad = token_for(store, session, amr=[{"method": "totp", "timestamp": 1.5}])
        with caplog.at_level(logging.WARNING, logger="mfa_amr.fastapi"):
            response = guarded(tokens).get("/guarded", headers=tokens.bearer(bad))
        assert 401 == response.status_code
        assert INVALID == response.headers["WWW-Authenticate"]
        assert {"error": "invalid_token", "error_description": UNREADABLE} == (
            response.json()
        )
        assert [
            f"GET /guarded: {UNREADABLE}: amr[0].timestamp: expected whole Unix "
            "seconds (an integer), got 1.5"
        ] == [r.getMessage() for r in caplog.records if r.name == "mfa_amr.fastapi"]

    def test_a_payload_that_is_no_object_is_an_invalid_token(
        self, store: CountingStore
    ) -> None:
        """A payload dependency that returns no mapping: 401 invalid_token."""

        async def not_a_mapping() -> Any:
            return ["aal2"]

        dependency = requires(AAL2, payload=not_a_mapping)

        async def route(evaluation: Annotated[Evaluation, Depends(dependency)]) -> None:
            raise AssertionError("not reached")

        response = TestClient(app_with(("/guarded", route))).get("/guarded")
        assert (401, INVALID) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )

    def test_the_payload_dependency_refusing_is_answered_with_its_description(
        self, tokens: Tokens
    ) -> None:
        """InvalidToken raised by the application's dependency: 401 invalid_token,
        its description in the body."""
        response = guarded(tokens).get(
            "/guarded", headers={"Authorization": "Bearer forged"}
        )
        assert 401 == response.status_code
        assert INVALID == response.headers["WWW-Authenticate"]
        assert {
            "error": "invalid_token",
            "error_description": "The access token is not one we issued",
        } == response.json()

    def test_the_payload_is_verified_once_per_request(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """A route that depends on the payload and on the requirement calls the
        application's dependency once."""
        dependency = requires(AAL2, payload=tokens.verified)

        async def route(
            evaluation: Annotated[Evaluation, Depends(dependency)],
            payload: Annotated[Mapping[str, object], Depends(tokens.verified)],
        ) -> dict[str, object]:
            return {"sub": payload["sub"]}

        client = TestClient(app_with(("/guarded", route)))
        session = signed_in(store, "password", "totp")
        response = client.get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert ({"sub": "user-1"}, 1) == (response.json(), tokens.calls)

    @pytest.mark.parametrize("kind", ["def", "async def"])
    def test_a_plain_or_a_coroutine_payload_dependency(
        self, kind: str, store: CountingStore
    ) -> None:
        """The payload dependency may be a plain function or a coroutine function,
        with parameters of its own (here FastAPI's HTTPBearer)."""
        session = signed_in(store, "password", "totp")
        payload = token_for(store, session)

        def plain(creds: Credentials) -> Mapping[str, object]:
            return payload if creds.credentials == "t" else {}

        async def coroutine(creds: Credentials) -> Mapping[str, object]:
            return plain(creds)

        dependency = requires(AAL2, payload=plain if kind == "def" else coroutine)

        async def route(evaluation: Annotated[Evaluation, Depends(dependency)]) -> str:
            return str(evaluation.effective_aal)

        client = TestClient(app_with(("/guarded", route)))
        response = client.get("/guarded", headers={"Authorization": "Bearer t"})
        assert (200, "aal2") == (response.status_code, response.json())

    def test_the_payload_dependencys_parameters_are_in_the_openapi_schema(
        self,
    ) -> None:
        """The guarded route documents its bearer scheme, through the application's
        dependency."""

        async def payload(creds: Credentials) -> Mapping[str, object]:
            return {}

        dependency = requires(AAL2, payload=payload)

        async def route(evaluation: Annotated[Evaluation, Depends(dependency)]) -> None:
            return None

        schema = app_with(("/guarded", route)).openapi()
        assert [{"HTTPBearer": []}] == schema["paths"]["/guarded"]["get"]["security"]

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (
                lambda: requires(POLICY, payload=Tokens().verified),  # type: ignore[arg-type]
                "requires() takes a Requirement, such as "
                "policy.requirement(aal='aal2'); got Policy",
            ),
            (
                lambda: requires(AAL2, payload={"aal": "aal2"}),  # type: ignore[arg-type]
                "payload must be a callable (a dependency), got dict",
            ),
            (
                lambda: requires(AAL2, payload=None),  # type: ignore[arg-type]
                "payload must be a callable (a dependency), got NoneType",
            ),
            (
                lambda: requires(AAL2, payload=Tokens().verified, store=object()),  # type: ignore[arg-type]
                "store must be a callable (a dependency), got object",
            ),
        ],
    )
    def test_wrong_arguments_fail_where_the_route_is_defined(
        self, call: Callable[[], object], message: str
    ) -> None:
        """requires() checks its arguments when it is called, not at the first
        request."""
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert message == str(caught.value)

    def test_the_online_check_needs_a_policy_that_renders_claims(self) -> None:
        """A requirement over bare policy terms (no Policy) cannot judge stored
        claims: the online check refuses it where the route is defined."""
        terms = _Terms(POLICY)
        from_terms = attrs.evolve(AAL2, policy=terms)
        with pytest.raises(InvalidInputError, match="must be a Policy"):
            requires(from_terms, payload=Tokens().verified, store=claim_store)
        assert requires(from_terms, payload=Tokens().verified) is not None


class _Terms:
    """A Policy's terms without its issuing methods: a PolicyTerms, not a Policy."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @property
    def rule(self) -> LevelRule:
        return self._policy.rule

    @property
    def methods(self) -> Mapping[str, MethodSpec]:
        return self._policy.methods

    @property
    def strict(self) -> bool:
        return self._policy.strict

    @property
    def aal2_max_age(self) -> timedelta | None:
        return self._policy.aal2_max_age

    @property
    def aal3_max_age(self) -> timedelta | None:
        return self._policy.aal3_max_age

    @property
    def acr_values(self) -> Mapping[AAL, str]:
        return self._policy.acr_values

    @property
    def skew(self) -> timedelta:
        return self._policy.skew

    def aal_for_acr(self, acr: str) -> AAL | None:
        return self._policy.aal_for_acr(acr)


class TestOnlineCheck:
    def test_the_current_claims_are_judged_and_returned(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """With a store, the route gets the Evaluation of the session's current
        claims, read once per request."""
        session = signed_in(store, "password", "totp")
        client = guarded(tokens, store=store)
        response = client.get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert 200 == response.status_code
        assert {"aal": "aal2", "methods": ["totp", "password"]} == response.json()
        assert 1 == store.reads

    def test_a_removed_factor_stops_the_token_at_once(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """Revoking the session's totp: its aal2 token is refused with a step-up
        that says the session changed, while a route without the check still
        takes it."""
        session = signed_in(store, "password", "totp")
        header = tokens.bearer(token_for(store, session))
        asyncio.run(store.inner.revoke_everywhere([session], "totp"))

        response = guarded(tokens, store=store).get("/guarded", headers=header)
        assert 401 == response.status_code
        description = (
            "This request needs aal2 but the token is aal1 (for a token issued now: "
            "the session changed after this token was issued)"
        )
        assert {
            "error": "insufficient_user_authentication",
            "error_description": description,
        } == response.json()
        assert (
            'Bearer error="insufficient_user_authentication", '
            f'error_description="{description}", acr_values="aal2 aal3"'
        ) == response.headers["WWW-Authenticate"]
        assert 200 == guarded(tokens).get("/guarded", headers=header).status_code

    def test_a_signed_out_session_is_an_invalid_token(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """After delete_sessions, every token of the session: 401 invalid_token."""
        session = signed_in(store, "password", "totp")
        header = tokens.bearer(token_for(store, session))
        asyncio.run(store.inner.delete_sessions([session]))
        response = guarded(tokens, store=store).get("/guarded", headers=header)
        assert (401, INVALID) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )
        assert {
            "error": "invalid_token",
            "error_description": "The session has ended: sign in again",
        } == response.json()

    @pytest.mark.parametrize("session_id", [None, "not a uuid", 42])
    def test_a_token_without_a_session_is_an_invalid_token(
        self, tokens: Tokens, store: CountingStore, session_id: object
    ) -> None:
        """No session_id, or one that is not a UUID string: 401 invalid_token,
        and the store is not read."""
        payload = token_for(store, signed_in(store, "password", "totp"))
        if session_id is None:
            del payload["session_id"]
        else:
            payload["session_id"] = session_id
        response = guarded(tokens, store=store).get(
            "/guarded", headers=tokens.bearer(payload)
        )
        assert (401, INVALID, 0) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
            store.reads,
        )
        assert response.json()["error_description"].startswith(
            "The access token names no session (session_id)"
        )

    def test_a_token_that_fails_on_its_own_costs_no_round_trip(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """The token is judged first: an aal1 token is refused without reading the
        store."""
        session = signed_in(store, "password")
        response = guarded(tokens, store=store).get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert (401, STEP_UP_TO_AAL2, 0) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
            store.reads,
        )

    def test_the_check_never_grants_more_than_the_token(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """An aal1 token of a session that has since stepped up is still refused:
        the store can only take away."""
        session = signed_in(store, "password")
        header = tokens.bearer(token_for(store, session))
        asyncio.run(store.inner.record(session, "totp"))
        response = guarded(tokens, store=store).get("/guarded", headers=header)
        assert (401, STEP_UP_TO_AAL2) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )

    def test_max_age_is_judged_on_the_stored_times_too(
        self, tokens: Tokens, store: CountingStore
    ) -> None:
        """max_age is judged on the stored times as well: a session whose stored
        sign-in is older than the token says is refused."""
        session = signed_in(store, "password")
        header = tokens.bearer(token_for(store, session))
        asyncio.run(store.inner.delete_sessions([session]))
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        asyncio.run(store.inner.record(session, "password", at=an_hour_ago))
        client = guarded(tokens, POLICY.requirement(max_age=300), store=store)
        response = client.get("/guarded", headers=header)
        assert 401 == response.status_code
        assert response.headers["WWW-Authenticate"].endswith(", max_age=300")


# Requirements a password sign-in of an hour ago falls short of, each its own way.
CHALLENGED = {
    "aal2": AAL2,
    "max_age": POLICY.requirement(max_age=300),
    "aal2 and max_age": POLICY.requirement(aal="aal2", max_age=300),
    "phishing resistant": POLICY.requirement(phishing_resistant=True),
}


def parsed_challenge(response: Any) -> StepUpChallenge:
    """The step-up challenge of a 401, read back from its WWW-Authenticate."""
    assert 401 == response.status_code
    return StepUpChallenge.parse(response.headers["WWW-Authenticate"])


def assert_asks_for(requirement: Requirement, response: Any) -> None:
    """The 401 asks for what the requirement's challenge asks, with the body's
    error and description."""
    challenge = parsed_challenge(response)
    expected = requirement.challenge
    assert (expected.acr_values, expected.max_age) == (
        challenge.acr_values,
        challenge.max_age,
    )
    assert {
        "error": challenge.error,
        "error_description": challenge.description,
    } == response.json()


class TestChallengeRoundTrip:
    @pytest.mark.parametrize("name", list(CHALLENGED))
    def test_the_token_s_challenge_parses_back_to_the_requirement_s(
        self, name: str, tokens: Tokens, store: CountingStore
    ) -> None:
        """A token that falls short gets a WWW-Authenticate that StepUpChallenge.parse
        reads back to the requirement's acr_values and max_age, and to the body's
        error and description."""
        requirement = CHALLENGED[name]
        session = signed_in(
            store, "password", at=datetime.now(UTC) - timedelta(hours=1)
        )
        response = guarded(tokens, requirement).get(
            "/guarded", headers=tokens.bearer(token_for(store, session))
        )
        assert_asks_for(requirement, response)

    @pytest.mark.parametrize("name", list(CHALLENGED))
    def test_the_online_check_s_challenge_parses_back_to_the_requirement_s(
        self, name: str, tokens: Tokens, store: CountingStore
    ) -> None:
        """A token that passes but whose session has since fallen short gets the
        re-raised challenge, which parses back to the requirement's acr_values and
        max_age, its description saying the session changed."""
        requirement = CHALLENGED[name]
        session = signed_in(store, "passkey", "totp")
        header = tokens.bearer(token_for(store, session))
        assert (
            200
            == guarded(tokens, requirement).get("/guarded", headers=header).status_code
        )
        asyncio.run(store.inner.delete_sessions([session]))
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        asyncio.run(store.inner.record(session, "password", at=an_hour_ago))
        response = guarded(tokens, requirement, store=store).get(
            "/guarded", headers=header
        )
        assert_asks_for(requirement, response)
        assert parsed_challenge(response).description.endswith(
            "(for a token issued now: the session changed after this token was issued)"
        )


class TestHandlers:
    def test_a_starlette_application_gets_the_same_answers(
        self, store: CountingStore
    ) -> None:
        """add_exception_handlers takes a plain Starlette application too."""
        payload = token_for(store, signed_in(store, "password"))

        async def transfer(request: Request) -> JSONResponse:
            AAL2.check(payload)
            return JSONResponse({})

        app = Starlette(routes=[Route("/transfer", transfer)])
        add_exception_handlers(app)
        response = TestClient(app).get("/transfer")
        assert (401, STEP_UP_TO_AAL2) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )

    def test_invalid_token_answers_401_even_without_the_handlers(self) -> None:
        """InvalidToken is an HTTPException: an application that never called
        add_exception_handlers still answers 401 with the header."""

        async def route() -> None:
            raise InvalidToken("expired")

        app = FastAPI()
        app.get("/x")(route)
        response = TestClient(app).get("/x")
        assert (401, INVALID, {"detail": "expired"}) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
            response.json(),
        )

    def test_invalid_token_has_a_default_description(self) -> None:
        """InvalidToken() says the token is invalid, with RFC 6750's error."""
        exc = InvalidToken()
        assert ("invalid_token", "The access token is invalid", 401) == (
            exc.error,
            exc.description,
            exc.status_code,
        )


class TestClaimStoreDependency:
    def test_it_reads_the_store_from_the_lifespan_state(self) -> None:
        """claim_store returns the store a lifespan put in its state under
        STORE_STATE_KEY."""
        memory = AsyncInMemoryClaimStore()

        @asynccontextmanager
        async def lifespan(
            app: FastAPI,
        ) -> AsyncGenerator[dict[str, AsyncClaimStore], None]:
            yield {STORE_STATE_KEY: memory}

        app = FastAPI(lifespan=lifespan)

        @app.get("/store")
        async def route(
            store: Annotated[AsyncClaimStore, Depends(claim_store)],
        ) -> bool:
            return store is memory

        with TestClient(app) as client:
            assert client.get("/store").json() is True

    def test_without_a_store_it_says_how_to_give_one(self) -> None:
        """No store in the lifespan state and no override: a RuntimeError that
        names both ways of giving one."""
        app = FastAPI()

        @app.get("/store")
        async def route(
            store: Annotated[AsyncClaimStore, Depends(claim_store)],
        ) -> None:
            return None

        with pytest.raises(RuntimeError) as caught:
            TestClient(app).get("/store")
        assert (
            "no claims store in the lifespan state: create the application with "
            "FastAPI(lifespan=postgres_lifespan(dsn)), or override the dependency "
            "(app.dependency_overrides[claim_store] = lambda: store)"
        ) == str(caught.value)


# Run by `python -c` with BLOCKED defined before it: importing BLOCKED (and its
# submodules) fails as an absent package does; then what importing mfa_amr.fastapi
# raised (or what postgres_lifespan raised, when it imports), as JSON.
PROBE = textwrap.dedent(
    """
    import json
    import sys


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
    import mfa_amr

    def error(exc):
        cause = exc.__cause__
        return {
            "type": type(exc).__name__,
            "message": str(exc),
            "cause": None if cause is None else [type(cause).__name__, cause.name],
        }

    try:
        import mfa_amr.fastapi
    except ImportError as exc:
        print(json.dumps({"import": error(exc)}))
    else:
        try:
            mfa_amr.fastapi.postgres_lifespan("")
        except ImportError as exc:
            print(json.dumps({"postgres_lifespan": error(exc)}))
        else:
            print(json.dumps(None))
    """
)


def probe(*blocked: str) -> object:
    """What importing mfa_amr.fastapi raises with ``blocked`` absent, in a fresh
    interpreter."""
    code = f"BLOCKED = {list(blocked)!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    result: object = json.loads(done.stdout)
    return result


class TestMissingExtra:
    @pytest.mark.parametrize("blocked", ["fastapi", "starlette"])
    def test_the_import_error_names_the_fastapi_extra(self, blocked: str) -> None:
        """Without FastAPI (or Starlette), importing mfa_amr.fastapi raises an
        ImportError naming the package and pip install 'mfa-amr[fastapi]', chaining
        the ModuleNotFoundError; mfa_amr itself imports."""
        assert {
            "import": {
                "type": "ImportError",
                "message": (
                    f"mfa_amr.fastapi needs {blocked}, which is not installed: "
                    "install the fastapi extra with pip install 'mfa-amr[fastapi]'"
                ),
                "cause": ["ModuleNotFoundError", blocked],
            }
        } == probe(blocked)

    def test_without_the_postgres_extra_only_the_lifespan_is_missing(self) -> None:
        """Without psycopg the module imports; postgres_lifespan raises an
        ImportError that passes on what the PostgreSQL stores say is missing and
        how to install it."""
        result = probe("psycopg", "psycopg_pool")
        assert isinstance(result, dict)
        error = result["postgres_lifespan"]
        assert ("ImportError", ["ImportError", "psycopg"]) == (
            error["type"],
            error["cause"],
        )
        assert error["message"].startswith("postgres_lifespan cannot open a store: ")
        assert error["message"].endswith("pip install 'mfa-amr[postgres]'")

    def test_import_mfa_amr_does_not_import_fastapi(self) -> None:
        """`import mfa_amr` loads neither FastAPI nor Starlette."""
        code = (
            "import sys, mfa_amr\n"
            "print(sorted({'fastapi', 'starlette'} & set(sys.modules)))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == out.stdout.strip()
