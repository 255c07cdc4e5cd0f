"""The service end to end on PostgreSQL: its lifespan opens the claims store, and a
user's whole journey leaves the rows Supabase Auth would."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from service.app import Settings, create_app

from tests.conftest import TEST_SCRYPT_N, Service, bearer, claims_of

pytestmark = pytest.mark.postgres


def methods_in_table(url: str, schema: str, session_id: Any) -> list[str]:
    """The session's methods as the table holds them."""
    query = sql.SQL(
        "SELECT authentication_method FROM {}.mfa_amr_claims WHERE session_id = %s "
        "ORDER BY authentication_method"
    ).format(sql.Identifier(schema))
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(query, (session_id,))]


def test_a_users_journey_on_postgresql(database_url: str, schema: str) -> None:
    """Sign-up, password sign-in, TOTP step-up, the aal2 route, factor removal and
    sign-out, with the claims in PostgreSQL's mfa_amr_claims table."""
    settings = Settings(
        jwt_secret=secrets.token_hex(32),
        database_url=database_url,
        claims_schema=schema,
        create_schema=True,
        scrypt_n=TEST_SCRYPT_N,
    )
    with TestClient(create_app(settings)) as client:
        service = Service(client)
        service.sign_up("ada@example.com")
        token = service.sign_in("ada@example.com")
        session = claims_of(token)["session_id"]
        assert ["password"] == methods_in_table(database_url, schema, session)

        factor_id, secret = service.enrol(token)
        token = service.verify(token, factor_id, secret)
        assert ["password", "totp"] == methods_in_table(database_url, schema, session)
        transfer = client.post("/transfers", json={"amount": 5}, headers=bearer(token))
        assert 200 == transfer.status_code

        removed = client.delete(f"/factors/{factor_id}", headers=bearer(token))
        assert {"revoked_claims": 1} == removed.json()
        transfer = client.post("/transfers", json={"amount": 5}, headers=bearer(token))
        assert 401 == transfer.status_code
        assert ["password"] == methods_in_table(database_url, schema, session)

        assert 204 == client.post("/sign-out", headers=bearer(token)).status_code
        assert [] == methods_in_table(database_url, schema, session)
