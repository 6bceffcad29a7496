"""Signing in with a second factor through the API, under the default policy (issue 5).

The vault here keeps the default settings (`mfa_required = "everyone"`), as
a fresh install does: a password alone opens a session that can only enrol
or give its second factor.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.access.policy import GlobalRole
from egide.services.registry import Services
from egide.web.app import create_app
from tests.services.mfa.conftest import code_at, enrol, events, leaf_text, secret_of
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

COOKIE = "egide_session"


@pytest.fixture
def policy() -> str | None:
    """None: the default policy; a test parametrizes another."""
    return None


@pytest.fixture
def settings(tmp_path: Path, database_url: str, policy: str | None) -> Settings:
    """The defaults, MFA policy included (the suite's fixture turns it off)."""
    default = Settings(data_dir=tmp_path / "data", database_url=database_url)
    return default if policy is None else default.with_overrides(mfa_required=policy)


@pytest.fixture
def alice(svc: Services, make_user: MakeUser) -> str:
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    make_user("alice")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    return "alice"


def sign_in(client: TestClient, username: str = "alice") -> dict[str, object]:
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    client.headers["X-CSRF-Token"] = str(body["csrf_token"])
    return body


def problem(response: object, status: int, code: str) -> str:
    assert getattr(response, "status_code", None) == status, getattr(response, "text", "")
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"] == f"urn:egide:problem:{code}", body
    detail: str = body["detail"]
    return detail


def test_the_default_policy_is_everyone(svc: Services) -> None:
    assert svc.settings.mfa_required == "everyone"


def test_first_sign_in_leads_to_enrolment_and_nothing_else(
    svc: Services, app_client: TestClient, alice: str, clock: ManualClock
) -> None:
    signed = sign_in(app_client)
    assert signed["mfa_required"] is True
    assert signed["mfa_enrolment_required"] is True
    assert app_client.get("/api/v1/me").status_code == 200
    for method, url in (
        ("GET", "/api/v1/spaces"),
        ("GET", "/api/v1/spaces/cardio/nodes/"),
        ("PUT", "/api/v1/spaces/cardio/content/note.txt"),
        ("POST", "/api/v1/tokens"),
        ("GET", "/api/v1/me/mfa"),
        ("POST", "/api/v1/me/mfa/recovery-codes"),
        ("DELETE", "/api/v1/me/mfa/totp"),
    ):
        body = {"name": "x", "scopes": ["files:read"], "code": "123456"}
        if url.endswith("tokens"):
            body.pop("code")
        elif "mfa" in url:
            body = {"code": "123456"}
        refused = app_client.request(method, url, json=body)
        detail = problem(refused, 403, "mfa-enrolment-required")
        assert "POST /api/v1/me/mfa/totp" in detail
    problem(
        app_client.post("/api/v1/session/mfa", json={"code": "123456"}), 404, "mfa-not-enrolled"
    )

    begun = app_client.post("/api/v1/me/mfa/totp")
    assert begun.status_code == 201, begun.text
    assert begun.headers["cache-control"] == "no-store"
    uri = begun.json()["uri"]
    assert uri.startswith("otpauth://totp/")
    assert begun.json()["svg"].startswith("<svg")
    wrong = app_client.post("/api/v1/me/mfa/totp/confirm", json={"code": "000000"})
    assert problem(wrong, 400, "invalid-mfa-code")
    assert wrong.json()["field"] == "code"
    old_cookie = app_client.cookies.get(COOKIE)

    confirmed = app_client.post(
        "/api/v1/me/mfa/totp/confirm", json={"code": code_at(uri, clock.now())}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert len(confirmed.json()["recovery_codes"]) == 10
    session = confirmed.json()["session"]
    assert session["mfa_required"] is False
    new_cookie = app_client.cookies.get(COOKIE)
    assert new_cookie
    assert new_cookie != old_cookie, "the session is renewed"
    app_client.headers["X-CSRF-Token"] = session["csrf_token"]
    assert app_client.get("/api/v1/spaces").status_code == 200
    put = app_client.put("/api/v1/spaces/cardio/content/note.txt", content=b"compte rendu")
    assert put.status_code in (200, 201), put.text
    created = app_client.post("/api/v1/tokens", json={"name": "cli", "scopes": ["files:read"]})
    assert created.status_code == 201, created.text
    status = app_client.get("/api/v1/me/mfa").json()
    assert status == {
        "required": True,
        "totp": True,
        "totp_pending": False,
        "recovery_codes_left": 10,
        "passkeys": 0,
    }

    app_client.cookies.clear()
    app_client.cookies.set(COOKIE, str(old_cookie))
    assert app_client.get("/api/v1/me").status_code == 401, "the password-only session ended"
    app_client.cookies.clear()
    bearer = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert app_client.get("/api/v1/spaces", headers=bearer).status_code == 200
    problem(app_client.post("/api/v1/me/mfa/totp", headers=bearer), 403, "token-not-allowed")


def test_next_sign_ins_ask_for_the_code(
    svc: Services, app_client: TestClient, alice: str, clock: ManualClock
) -> None:
    uri, recovery = enrol(svc, svc.accounts.principal_for_username("alice"), clock)
    clock.advance(minutes=1)
    signed = sign_in(app_client)
    assert (signed["mfa_required"], signed["mfa_enrolment_required"]) == (True, False)
    detail = problem(app_client.get("/api/v1/spaces"), 403, "mfa-required")
    assert "POST /api/v1/session/mfa" in detail
    problem(app_client.post("/api/v1/me/mfa/totp"), 409, "mfa-already-enrolled")
    problem(app_client.post("/api/v1/session/mfa", json={"code": "12345"}), 400, "invalid-mfa-code")
    csrf = app_client.headers.pop("X-CSRF-Token")
    code = code_at(uri, clock.now())
    assert app_client.post("/api/v1/session/mfa", json={"code": code}).status_code == 403
    app_client.headers["X-CSRF-Token"] = csrf
    verified = app_client.post("/api/v1/session/mfa", json={"code": code})
    assert verified.status_code == 200, verified.text
    assert verified.json()["mfa_required"] is False
    app_client.headers["X-CSRF-Token"] = verified.json()["csrf_token"]
    assert app_client.get("/api/v1/spaces").status_code == 200
    assert app_client.delete("/api/v1/session").status_code == 204

    sign_in(app_client)
    replay = app_client.post("/api/v1/session/mfa", json={"code": code})
    problem(replay, 400, "invalid-mfa-code")
    by_recovery = app_client.post("/api/v1/session/mfa", json={"code": recovery[0]})
    assert by_recovery.status_code == 200, by_recovery.text
    app_client.headers["X-CSRF-Token"] = by_recovery.json()["csrf_token"]
    assert app_client.get("/api/v1/me/mfa").json()["recovery_codes_left"] == 9

    clock.advance(seconds=30)
    fresh = app_client.post(
        "/api/v1/me/mfa/recovery-codes", json={"code": code_at(uri, clock.now())}
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["cache-control"] == "no-store"
    assert not set(fresh.json()["recovery_codes"]) & set(recovery)
    clock.advance(seconds=30)
    removed = app_client.request(
        "DELETE", "/api/v1/me/mfa/totp", json={"code": code_at(uri, clock.now())}
    )
    assert removed.status_code == 204, removed.text
    assert app_client.get("/api/v1/me/mfa").json()["totp"] is False
    assert app_client.get("/api/v1/spaces").status_code == 200, "this session gave its factor"
    assert sign_in(app_client)["mfa_enrolment_required"] is True, "the next one must enrol"


def test_messages_in_french(svc: Services, app_client: TestClient, alice: str) -> None:
    sign_in(app_client)
    refused = app_client.get("/api/v1/spaces", headers={"Accept-Language": "fr"})
    detail = problem(refused, 403, "mfa-enrolment-required")
    assert "second facteur" in detail
    assert "POST /api/v1/me/mfa/totp" in detail
    wrong = app_client.post(
        "/api/v1/me/mfa/totp/confirm", json={"code": "1"}, headers={"Accept-Language": "fr"}
    )
    assert problem(wrong, 404, "mfa-not-enrolled").startswith("Aucune application")


def test_no_code_or_secret_in_logs_audit_or_other_answers(
    svc: Services,
    alice: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    with TestClient(create_app(svc), headers={"Accept-Language": "en"}) as client:
        sign_in(client)
        begun = client.post("/api/v1/me/mfa/totp")
        uri = begun.json()["uri"]
        typed = [code_at(uri, clock.now())]
        confirmed = client.post("/api/v1/me/mfa/totp/confirm", json={"code": typed[0]})
        recovery = confirmed.json()["recovery_codes"]
        client.headers["X-CSRF-Token"] = confirmed.json()["session"]["csrf_token"]
        answers.append(client.get("/api/v1/me").text)
        answers.append(client.get("/api/v1/me/mfa").text)
        client.delete("/api/v1/session")
        clock.advance(seconds=30)
        sign_in(client)
        answers.append(client.post("/api/v1/session/mfa", json={"code": typed[0]}).text)
        typed.append(code_at(uri, clock.now()))
        verified = client.post("/api/v1/session/mfa", json={"code": typed[1]})
        answers.append(verified.text)
        client.headers["X-CSRF-Token"] = verified.json()["csrf_token"]
        answers.append(client.get("/api/v1/audit/entries").text)
    secrets = [secret_of(uri), uri, *typed, *recovery, *(c.replace("-", "") for c in recovery)]
    for secret in secrets:
        assert secret not in caplog.text, secret
        assert all(secret not in answer for answer in answers), secret
        for event in events(svc):
            assert secret not in leaf_text(event), (event.action, secret)
    assert {"mfa.enrol", "mfa.confirm", "mfa.verify"} <= {e.action for e in events(svc)}


@pytest.mark.parametrize("policy", ["admins"])
def test_the_admins_policy_spares_other_users(
    svc: Services, app_client: TestClient, alice: str, make_user: MakeUser
) -> None:
    signed = sign_in(app_client)
    assert (signed["mfa_required"], signed["mfa_enrolment_required"]) == (False, False)
    assert app_client.get("/api/v1/spaces").status_code == 200
    created = app_client.post("/api/v1/tokens", json={"name": "cli", "scopes": ["files:read"]})
    assert created.status_code == 201, created.text
    app_client.delete("/api/v1/session")
    make_user("root", GlobalRole.ADMIN)
    assert sign_in(app_client, "root")["mfa_enrolment_required"] is True
    problem(app_client.get("/api/v1/spaces"), 403, "mfa-enrolment-required")
