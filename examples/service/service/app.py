"""The service's settings, routes and ``create_app`` (what uvicorn runs). Tokens are
HS256 JWTs carrying mfa-amr's claims in Supabase's shape; the service checks
passwords and TOTP codes, mfa-amr records what each session proved and judges the
tokens."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import jwt  # PyJWT
import pyotp
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pyotp.totp import TOTP

from mfa_amr import Evaluation, Policy
from mfa_amr.fastapi import (
    InvalidToken,
    add_exception_handlers,
    claim_store,
    postgres_lifespan,
    requires,
)
from mfa_amr.stores import AsyncClaimStore
from service.accounts import Accounts, Factor, User

POLICY = Policy.supabase()  # tokens as Supabase Auth writes them
AUDIENCE = "authenticated"


@dataclass(frozen=True)
class Settings:
    """What the service is configured with; ``from_env`` reads the environment."""

    jwt_secret: str
    database_url: str = ""  # libpq's defaults when empty (PGHOST, PGDATABASE, ...)
    claims_schema: str = "auth"
    create_schema: bool = False  # a new database: create the claims table at startup
    token_lifetime: int = 3600
    scrypt_n: int = 2**17

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 bytes for HS256")

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            jwt_secret=os.environ["JWT_SECRET"],
            database_url=os.environ.get("DATABASE_URL", ""),
            claims_schema=os.environ.get("CLAIMS_SCHEMA", "auth"),
            create_schema=os.environ.get("CREATE_SCHEMA") == "1",
        )


def settings(request: Request) -> Settings:
    config: Settings = request.app.state.settings
    return config


def accounts(request: Request) -> Accounts:
    users: Accounts = request.app.state.accounts
    return users


Config = Annotated[Settings, Depends(settings)]
Users = Annotated[Accounts, Depends(accounts)]
Store = Annotated[AsyncClaimStore, Depends(claim_store)]
Credentials = Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]


async def verified_payload(config: Config, credentials: Credentials) -> dict[str, Any]:
    """The token's payload, once its signature, expiry and audience check out."""
    try:
        return jwt.decode(
            credentials.credentials,
            config.jwt_secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "session_id"]},
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"The access token is invalid: {exc}") from exc


Payload = Annotated[dict[str, Any], Depends(verified_payload)]


ALIVE = POLICY.requirement()  # any level: met while the session exists (online)
AAL2 = POLICY.requirement(aal="aal2")
RECENT = POLICY.requirement(max_age=300)
# Online, judged on the session's current claims too (one `claims` round trip): a
# signed-out session or a removed factor stops its tokens at once.
SignedIn = Annotated[
    Evaluation, Depends(requires(ALIVE, payload=verified_payload, store=claim_store))
]
SecondFactor = Annotated[
    Evaluation, Depends(requires(AAL2, payload=verified_payload, store=claim_store))
]
# Judged on the token alone: a sign-in or step-up in the last five minutes.
Recent = Annotated[Evaluation, Depends(requires(RECENT, payload=verified_payload))]


async def current_user(payload: Payload, users: Users) -> User:
    user = users.by_id(uuid.UUID(payload["sub"]))
    if user is None:
        raise InvalidToken("The access token's user does not exist")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


class Login(BaseModel):
    email: str
    password: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    aal: str


async def issue(
    store: AsyncClaimStore, config: Settings, user: User, session: uuid.UUID
) -> Token:
    """A token for the session, carrying what it has proved so far."""
    claims = POLICY.token_claims(session, await store.claims(session))
    now = int(time.time())
    payload = {
        "sub": str(user.id),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + config.token_lifetime,
        **claims,
    }
    return Token(
        access_token=jwt.encode(payload, config.jwt_secret, algorithm="HS256"),
        expires_in=config.token_lifetime,
        aal=str(claims["aal"]),
    )


router = APIRouter()


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def sign_up(form: Login, users: Users) -> dict[str, uuid.UUID]:
    password_hash = await asyncio.to_thread(users.hash_password, form.password)
    user = users.add(form.email, password_hash)
    if user is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this email is taken")
    return {"id": user.id}


@router.post("/token")
async def sign_in(form: Login, users: Users, store: Store, config: Config) -> Token:
    """Password sign-in: a new session, aal1, that has proved ``password``."""
    user = users.by_email(form.email)
    known = await asyncio.to_thread(users.check_password, user, form.password)
    if user is None or not known:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "wrong email or password")
    session = uuid.uuid4()
    user.sessions.add(session)
    await store.record(session, "password")
    return await issue(store, config, user, session)


@router.post("/token/refresh")
async def refresh(
    _: SignedIn, payload: Payload, user: CurrentUser, store: Store, config: Config
) -> Token:
    """The session's next token, from its current claims."""
    return await issue(store, config, user, uuid.UUID(payload["session_id"]))


@router.post("/factors/totp")
async def enrol_totp(
    _: SignedIn, payload: Payload, user: CurrentUser
) -> dict[str, str]:
    """A new TOTP factor, unverified until a code from it is entered. A user who
    already has a verified factor adds another only at aal2."""
    if user.verified_factors():
        AAL2.check(payload)
    factor = Factor(pyotp.random_base32())
    user.factors[factor.id] = factor
    uri = TOTP(factor.secret).provisioning_uri(
        name=user.email, issuer_name="mfa-amr example"
    )
    return {"factor_id": str(factor.id), "secret": factor.secret, "uri": uri}


@router.post("/factors/{factor_id}/verify")
async def verify_totp(
    factor_id: uuid.UUID,
    code: Annotated[str, Body(embed=True)],
    _: SignedIn,
    payload: Payload,
    user: CurrentUser,
    store: Store,
    config: Config,
) -> Token:
    """A code from the factor: it is verified (at enrolment) and the session steps
    up to aal2. A code is accepted once."""
    factor = user.factors.get(factor_id)
    if factor is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such factor")
    if not factor.accept(code):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "wrong or used code")
    factor.verified = True
    session = uuid.UUID(payload["session_id"])
    await store.record(session, "totp")
    return await issue(store, config, user, session)


@router.delete("/factors/{factor_id}")
async def remove_factor(
    factor_id: uuid.UUID, _: SecondFactor, user: CurrentUser, store: Store
) -> dict[str, int]:
    """Remove a factor (at aal2). Without a verified TOTP factor left, no session of
    the user keeps the aal2 it gave: their next tokens are aal1."""
    if user.factors.pop(factor_id, None) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such factor")
    revoked = 0
    if not user.verified_factors():
        revoked = await store.revoke_everywhere(user.sessions, "totp")
    return {"revoked_claims": revoked}


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    _: SignedIn, payload: Payload, user: CurrentUser, store: Store
) -> None:
    """End the session: its claims go, and every token it had stops working on the
    routes that check the session."""
    session = uuid.UUID(payload["session_id"])
    await store.delete_sessions([session])
    user.sessions.discard(session)


@router.get("/me/aal")
async def assurance_level(
    payload: Payload, user: CurrentUser, store: Store
) -> dict[str, object]:
    """The session's level now and the level it can reach with the user's factors,
    as Supabase's ``getAuthenticatorAssuranceLevel`` answers."""
    claims = await store.claims(uuid.UUID(payload["session_id"]))
    if not claims:
        raise InvalidToken("The session has ended: sign in again")
    assessment = POLICY.assess(claims, verified_factors=user.verified_factors())
    return {
        "current_level": assessment.aal,
        "next_level": assessment.next_aal,
        "current_authentication_methods": [e.to_dict() for e in assessment.entries],
    }


@router.post("/transfers")
async def transfer(
    amount: Annotated[int, Body(embed=True)], evaluation: SecondFactor
) -> dict[str, object]:
    """Needs aal2: an aal1 token is answered with the step-up challenge."""
    return {"transferred": amount, "aal": evaluation.effective_aal}


@router.put("/me/email")
async def change_email(
    email: Annotated[str, Body(embed=True)], _: Recent, user: CurrentUser, users: Users
) -> dict[str, str]:
    """Needs an authentication in the last five minutes."""
    if not users.change_email(user, email):
        raise HTTPException(status.HTTP_409_CONFLICT, "this email is taken")
    return {"email": user.email}


def create_app(config: Settings | None = None) -> FastAPI:
    """The application; ``config`` defaults to ``Settings.from_env()``."""
    config = Settings.from_env() if config is None else config
    app = FastAPI(
        title="mfa-amr example service",
        lifespan=postgres_lifespan(
            config.database_url,
            schema=config.claims_schema,
            create_schema=config.create_schema,
            max_size=10,
        ),
    )
    app.state.settings = config
    app.state.accounts = Accounts(config.scrypt_n)
    add_exception_handlers(app)
    app.include_router(router)
    return app
