"""The service under test: with the in-memory claims store swapped in (``client``),
or end to end on PostgreSQL (``database_url`` and ``schema``)."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from pyotp.totp import TOTP
from service.app import Settings, create_app

from mfa_amr import AsyncInMemoryClaimStore
from mfa_amr.fastapi import claim_store
from mfa_amr.testing import FakeClock

# A cheap scrypt: the tests sign in often, and the hash's strength is not under test.
TEST_SCRYPT_N = 2**4


class Service:
    """A client of the service, with the steps a user takes as methods."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.last_steps: dict[str, int] = {}

    def sign_up(self, email: str, password: str = "correct horse") -> None:
        response = self.client.post(
            "/users", json={"email": email, "password": password}
        )
        assert 201 == response.status_code, response.text

    def sign_in(self, email: str, password: str = "correct horse") -> str:
        response = self.client.post(
            "/token", json={"email": email, "password": password}
        )
        assert 200 == response.status_code, response.text
        token: str = response.json()["access_token"]
        return token

    def enrol(self, token: str) -> tuple[str, str]:
        """(factor id, secret) of a new TOTP factor, not verified yet."""
        response = self.client.post("/factors/totp", headers=bearer(token))
        assert 200 == response.status_code, response.text
        body = response.json()
        return body["factor_id"], body["secret"]

    def code(self, secret: str) -> str:
        """A code the service takes: each step once, within one step of now."""
        totp = TOTP(secret)
        now = totp.timecode(time.time())
        step = max(self.last_steps.get(secret, now - 2) + 1, now - 1)
        assert step <= now + 1, "no fresh TOTP step left: wait 30 s"
        self.last_steps[secret] = step
        return totp.generate_otp(step)

    def verify(self, token: str, factor_id: str, secret: str) -> str:
        """The session's aal2 token, after a code from the factor."""
        response = self.client.post(
            f"/factors/{factor_id}/verify",
            json={"code": self.code(secret)},
            headers=bearer(token),
        )
        assert 200 == response.status_code, response.text
        stepped: str = response.json()["access_token"]
        return stepped


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """A token's payload, unverified: what the tests look at."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@pytest.fixture
def settings() -> Settings:
    return Settings(jwt_secret=secrets.token_hex(32), scrypt_n=TEST_SCRYPT_N)


@pytest.fixture
def clock() -> FakeClock:
    """The claims store's clock, at the real time until a test moves it."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def service(settings: Settings, clock: FakeClock) -> Service:
    """The service with an in-memory claims store: its lifespan does not run, so no
    database is needed."""
    app = create_app(settings)
    store = AsyncInMemoryClaimStore(clock=clock)
    app.dependency_overrides[claim_store] = lambda: store
    return Service(TestClient(app))


@pytest.fixture(scope="session")
def database_url() -> str:
    """A reachable PostgreSQL database: TEST_DATABASE_URL, or the local server's
    ``test`` database. Without one the test skips, unless MFA_AMR_REQUIRE_POSTGRES=1
    makes that a failure."""
    url = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        reason = f"no PostgreSQL server at {url!r}: {exc}"
        if os.environ.get("MFA_AMR_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    """A schema of the test's own for the claims table, dropped after it."""
    name = f"service_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
        )
