"""A sample application on mfa_amr.fastapi, for the typing test
(tests/test_fastapi_typing.py): it must pass mypy --strict and pyright's strict mode
with no ignores, as an application using every public name of the module would."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient

from mfa_amr import AAL, AsyncInMemoryClaimStore, Evaluation, Policy
from mfa_amr.fastapi import (
    STORE_STATE_KEY,
    InvalidToken,
    Lifespan,
    add_exception_handlers,
    claim_store,
    postgres_lifespan,
    requires,
)
from mfa_amr.stores import AsyncClaimStore

POLICY = Policy.nist()
SECRET = os.environ.get("JWT_SECRET", "a secret of at least thirty-two bytes")

Credentials = Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]


async def verified_payload(credentials: Credentials) -> dict[str, Any]:
    try:
        return jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(str(exc)) from exc


def sync_payload(credentials: Credentials) -> dict[str, object]:
    return {"sub": credentials.credentials}


SecondFactor = Annotated[
    Evaluation,
    Depends(requires(POLICY.requirement(aal=AAL.AAL2), payload=verified_payload)),
]
Recent = Annotated[
    Evaluation,
    Depends(
        requires(
            POLICY.requirement(max_age=300, methods={"otp"}),
            payload=sync_payload,
            store=claim_store,
        )
    ),
]
Store = Annotated[AsyncClaimStore, Depends(claim_store)]

lifespan: Lifespan = postgres_lifespan(
    os.environ.get("DATABASE_URL", ""), create_schema=True, max_size=4
)


@asynccontextmanager
async def composed(app: FastAPI) -> AsyncGenerator[dict[str, object], None]:
    async with lifespan(app) as state:
        store: AsyncClaimStore = state[STORE_STATE_KEY]
        yield {**state, "store_repr": repr(store)}


app = FastAPI(lifespan=composed)
add_exception_handlers(app)


@app.post("/transfers")
async def transfer(evaluation: SecondFactor) -> dict[str, str | None]:
    level = evaluation.effective_aal
    return {"aal": None if level is None else level.value}


@app.put("/email")
async def change_email(evaluation: Recent, store: Store) -> dict[str, int]:
    session = uuid.uuid4()
    await store.record(session, "password")
    return {
        "methods": len(evaluation.methods),
        "claims": len(await store.claims(session)),
    }


def client_on_memory() -> TestClient:
    memory = AsyncInMemoryClaimStore()
    app.dependency_overrides[claim_store] = lambda: memory
    return TestClient(app)
