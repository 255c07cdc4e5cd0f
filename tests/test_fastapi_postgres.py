"""mfa_amr.fastapi's lifespan on a real server: postgres_lifespan opens the store when
the application starts, hands it to the routes, and closes it when it stops."""

# No `from __future__ import annotations` here: FastAPI reads the annotations of the
# routes these tests define inside functions.

import asyncio
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from mfa_amr.exceptions import StoreError
from mfa_amr.fastapi import claim_store, postgres_lifespan
from mfa_amr.stores import AsyncClaimStore

pytestmark = pytest.mark.postgres

Store = Annotated[AsyncClaimStore, Depends(claim_store)]


def app_on(lifespan: Any) -> tuple[FastAPI, list[AsyncClaimStore]]:
    """An application whose routes record and read claims through claim_store, and
    the stores its requests were given."""
    app = FastAPI(lifespan=lifespan)
    seen: list[AsyncClaimStore] = []

    @app.post("/sessions/{session_id}/{method}")
    async def record(session_id: uuid.UUID, method: str, store: Store) -> list[str]:
        seen.append(store)
        await store.record(session_id, method)
        return sorted(claim.method for claim in await store.claims(session_id))

    return app, seen


class TestPostgresLifespan:
    def test_the_store_is_open_while_the_app_runs_and_closed_after(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """Startup opens one store (create_schema makes its table), every request
        gets that store, and shutdown closes its pool."""
        lifespan = postgres_lifespan(
            pg_dsn, create_schema=True, schema=pg_schema, min_size=1, max_size=2
        )
        app, seen = app_on(lifespan)
        session = uuid.uuid4()
        with TestClient(app) as client:
            assert ["password"] == client.post(f"/sessions/{session}/password").json()
            assert ["password", "totp"] == client.post(
                f"/sessions/{session}/totp"
            ).json()
        assert 2 == len(seen)
        assert seen[0] is seen[1]
        with pytest.raises(StoreError):
            asyncio.run(seen[0].claims(session))

    def test_the_claims_outlive_the_application(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """What one run of the application recorded, the next run reads: the store
        is the database's table, opened anew at each startup."""
        lifespan = postgres_lifespan(pg_dsn, create_schema=True, schema=pg_schema)
        session = uuid.uuid4()
        app, _ = app_on(lifespan)
        with TestClient(app) as client:
            client.post(f"/sessions/{session}/password")
        app, _ = app_on(lifespan)
        with TestClient(app) as client:
            assert ["password", "totp"] == client.post(
                f"/sessions/{session}/totp"
            ).json()

    def test_a_lifespan_of_your_own_composes_with_it(
        self, pg_dsn: str, pg_schema: str
    ) -> None:
        """An application lifespan enters postgres_lifespan and yields its state
        beside its own: the routes see both."""
        opened = postgres_lifespan(pg_dsn, create_schema=True, schema=pg_schema)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncGenerator[dict[str, object], None]:
            async with opened(app) as state:
                yield {**state, "greeting": "hello"}

        app, _ = app_on(lifespan)

        @app.get("/greeting")
        async def greeting(request: Request) -> str:
            return str(request.state.greeting)

        with TestClient(app) as client:
            session = uuid.uuid4()
            assert ["password"] == client.post(f"/sessions/{session}/password").json()
            assert "hello" == client.get("/greeting").json()
