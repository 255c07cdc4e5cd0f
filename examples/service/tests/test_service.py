"""The service with the in-memory claims store: sign-in, TOTP, the guarded routes,
sign-out and factor removal, through HTTP as a client sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mfa_amr.testing import FakeClock
from tests.conftest import Service, bearer, claims_of

STEP_UP_TO_AAL2 = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="This request needs aal2 but the token is aal1", '
    'acr_values="aal2 aal3"'
)


def stepped_up(service: Service, email: str) -> tuple[str, str, str]:
    """(aal2 token, factor id, secret) of a new user who enrolled TOTP."""
    service.sign_up(email)
    token = service.sign_in(email)
    factor_id, secret = service.enrol(token)
    return service.verify(token, factor_id, secret), factor_id, secret


class TestPasswordSignIn:
    def test_a_sign_in_gives_an_aal1_token_of_a_new_session(
        self, service: Service
    ) -> None:
        """The token carries aal1, the password in its amr, and a session id; the
        user has no factor, so the next level is aal1 too."""
        service.sign_up("ada@example.com")
        token = service.sign_in("ada@example.com")
        claims = claims_of(token)
        assert "aal1" == claims["aal"]
        assert ["password"] == [entry["method"] for entry in claims["amr"]]
        aal = service.client.get("/me/aal", headers=bearer(token)).json()
        assert ("aal1", "aal1") == (aal["current_level"], aal["next_level"])
        assert (
            claims["session_id"]
            != claims_of(service.sign_in("ada@example.com"))["session_id"]
        )

    def test_a_wrong_password_or_email_is_refused_alike(self, service: Service) -> None:
        """A wrong password and an unknown email get the same 400."""
        service.sign_up("ada@example.com")
        answers = [
            service.client.post("/token", json={"email": email, "password": "wrong"})
            for email in ("ada@example.com", "nobody@example.com")
        ]
        assert [(400, {"detail": "wrong email or password"})] * 2 == [
            (r.status_code, r.json()) for r in answers
        ]

    def test_an_email_signs_up_once(self, service: Service) -> None:
        """A second sign-up with the same email (in any case) is a 409."""
        service.sign_up("ada@example.com")
        response = service.client.post(
            "/users", json={"email": "ADA@example.com", "password": "x"}
        )
        assert 409 == response.status_code


class TestTotp:
    def test_verifying_a_new_factor_steps_the_session_up(
        self, service: Service
    ) -> None:
        """Enrolment then a code: the session's token is aal2 with totp in its amr;
        a new session of the user starts at aal1, with aal2 as its next level."""
        token, _, _ = stepped_up(service, "ada@example.com")
        claims = claims_of(token)
        assert "aal2" == claims["aal"]
        assert {"totp", "password"} == {entry["method"] for entry in claims["amr"]}
        assert {"current_level": "aal2", "next_level": "aal2"}.items() <= (
            service.client.get("/me/aal", headers=bearer(token)).json().items()
        )
        other = service.sign_in("ada@example.com")
        assert {"current_level": "aal1", "next_level": "aal2"}.items() <= (
            service.client.get("/me/aal", headers=bearer(other)).json().items()
        )

    def test_a_code_is_accepted_once(self, service: Service) -> None:
        """A wrong code, and a code already used, are refused with 400."""
        service.sign_up("ada@example.com")
        token = service.sign_in("ada@example.com")
        factor_id, secret = service.enrol(token)
        code = service.code(secret)

        def verify(code: str) -> int:
            return service.client.post(
                f"/factors/{factor_id}/verify",
                json={"code": code},
                headers=bearer(token),
            ).status_code

        assert [400, 200, 400] == [verify("12345"), verify(code), verify(code)]

    def test_another_factor_needs_aal2_once_one_is_verified(
        self, service: Service
    ) -> None:
        """A user with a verified factor enrols another only from an aal2 session:
        an aal1 session gets the step-up challenge."""
        token, _, _ = stepped_up(service, "ada@example.com")
        aal1 = service.sign_in("ada@example.com")
        response = service.client.post("/factors/totp", headers=bearer(aal1))
        assert (401, STEP_UP_TO_AAL2) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )
        assert (
            200
            == service.client.post("/factors/totp", headers=bearer(token)).status_code
        )


class TestGuardedRoutes:
    def test_the_aal2_route_answers_aal1_with_the_step_up_challenge(
        self, service: Service
    ) -> None:
        """/transfers: 401 and the exact RFC 9470 header for an aal1 token, 200
        after the step-up."""
        service.sign_up("ada@example.com")
        token = service.sign_in("ada@example.com")
        response = service.client.post(
            "/transfers", json={"amount": 10}, headers=bearer(token)
        )
        assert 401 == response.status_code
        assert STEP_UP_TO_AAL2 == response.headers["WWW-Authenticate"]
        assert "insufficient_user_authentication" == response.json()["error"]

        factor_id, secret = service.enrol(token)
        token = service.verify(token, factor_id, secret)
        response = service.client.post(
            "/transfers", json={"amount": 10}, headers=bearer(token)
        )
        assert (200, {"transferred": 10, "aal": "aal2"}) == (
            response.status_code,
            response.json(),
        )

    def test_the_max_age_route_needs_a_sign_in_of_the_last_five_minutes(
        self, service: Service, clock: FakeClock
    ) -> None:
        """/me/email after a sign-in ten minutes old: 401 asking max_age=300; a
        step-up now (a TOTP code) meets it."""
        service.sign_up("ada@example.com")
        clock.set(datetime.now(UTC) - timedelta(minutes=10))
        token = service.sign_in("ada@example.com")
        clock.set(datetime.now(UTC))
        change = {"email": "ada@example.org"}
        response = service.client.put("/me/email", json=change, headers=bearer(token))
        assert 401 == response.status_code
        assert response.headers["WWW-Authenticate"].endswith(", max_age=300")

        factor_id, secret = service.enrol(token)
        token = service.verify(token, factor_id, secret)
        response = service.client.put("/me/email", json=change, headers=bearer(token))
        assert (200, change) == (response.status_code, response.json())
        assert (
            200
            == service.client.post(
                "/token", json={"email": "ada@example.org", "password": "correct horse"}
            ).status_code
        )

    def test_a_token_not_signed_by_the_service_is_invalid(
        self, service: Service
    ) -> None:
        """A forged token: 401 invalid_token, with PyJWT's reason."""
        response = service.client.post(
            "/transfers", json={"amount": 1}, headers=bearer("not.a.jwt")
        )
        assert 401 == response.status_code
        assert 'Bearer error="invalid_token"' == response.headers["WWW-Authenticate"]
        assert response.json()["error_description"].startswith(
            "The access token is invalid: "
        )


class TestSignOut:
    def test_a_signed_out_sessions_tokens_stop_at_once(self, service: Service) -> None:
        """After sign-out the session's aal2 token, not yet expired, is refused as an
        invalid token by every route that checks the session."""
        token, _, _ = stepped_up(service, "ada@example.com")
        assert (
            204 == service.client.post("/sign-out", headers=bearer(token)).status_code
        )
        for method, path in (("POST", "/transfers"), ("POST", "/token/refresh")):
            response = service.client.request(
                method, path, json={"amount": 1}, headers=bearer(token)
            )
            assert (401, "The session has ended: sign in again") == (
                response.status_code,
                response.json()["error_description"],
            )


class TestFactorRemoval:
    def test_removing_the_factor_downgrades_every_session_of_the_user(
        self, service: Service
    ) -> None:
        """The factor's claims are revoked in both of the user's sessions: the
        other session's aal2 token is refused at once, and its next token is aal1."""
        token, factor_id, secret = stepped_up(service, "ada@example.com")
        other = service.sign_in("ada@example.com")
        other = service.verify(other, factor_id, secret)
        assert "aal2" == claims_of(other)["aal"]

        response = service.client.delete(f"/factors/{factor_id}", headers=bearer(token))
        assert (200, {"revoked_claims": 2}) == (response.status_code, response.json())

        response = service.client.post(
            "/transfers", json={"amount": 1}, headers=bearer(other)
        )
        assert 401 == response.status_code
        assert response.headers["WWW-Authenticate"].startswith(
            'Bearer error="insufficient_user_authentication"'
        )
        refreshed = service.client.post("/token/refresh", headers=bearer(other)).json()
        assert "aal1" == refreshed["aal"]
        assert {"current_level": "aal1", "next_level": "aal1"}.items() <= (
            service.client.get("/me/aal", headers=bearer(other)).json().items()
        )

    def test_removing_a_factor_needs_aal2(self, service: Service) -> None:
        """An aal1 session cannot remove the user's factor: step-up first."""
        _, factor_id, _ = stepped_up(service, "ada@example.com")
        aal1 = service.sign_in("ada@example.com")
        response = service.client.delete(f"/factors/{factor_id}", headers=bearer(aal1))
        assert (401, STEP_UP_TO_AAL2) == (
            response.status_code,
            response.headers["WWW-Authenticate"],
        )
