"""Passkeys over HTTP, through the real application, under the default MFA policy (issue 5).

The browser's part (navigator.credentials) is played by the software
authenticator of tests/passkey_authenticator.py, fed the options JSON the
API returns and answering with the JSON a browser sends back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.registry import Services
from egide.web.app import create_app
from tests.passkey_authenticator import SoftPasskey, tamper_client_data
from tests.services.mfa.conftest import enrol, events
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser
from tests.web.test_mfa import COOKIE, problem, sign_in

ORIGIN = "https://egide.example.org"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The defaults (MFA required of everyone), Égide reached at ORIGIN."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, public_url=ORIGIN)


@pytest.fixture
def alice(svc: Services, make_user: MakeUser) -> str:
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    make_user("alice")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    return "alice"


def client_for(svc: Services) -> TestClient:
    return TestClient(
        create_app(svc), base_url="http://testserver", headers={"Accept-Language": "en"}
    )


def register(client: TestClient, name: str = "YubiKey bureau") -> tuple[SoftPasskey, Any]:
    """Register a new software passkey from the client's session; (passkey, response)."""
    options = client.post("/api/v1/me/mfa/passkeys/options")
    assert options.status_code == 200, options.text
    assert options.headers["cache-control"] == "no-store"
    passkey = SoftPasskey(ORIGIN)
    answer = passkey.create_json(options.text)
    done = client.post("/api/v1/me/mfa/passkeys", json={"name": name, "credential": answer})
    assert done.status_code == 201, done.text
    if done.json()["session"] is not None:
        client.headers["X-CSRF-Token"] = done.json()["session"]["csrf_token"]
    return passkey, done


def second_factor(client: TestClient, passkey: SoftPasskey, **alter: Any) -> Any:
    options = client.post("/api/v1/session/mfa/passkey/options")
    assert options.status_code == 200, options.text
    answer = passkey.get_json(options.text, **alter)
    return client.post("/api/v1/session/mfa/passkey", json={"credential": answer})


def enrolled(client: TestClient) -> SoftPasskey:
    sign_in(client)
    passkey, _ = register(client)
    client.delete("/api/v1/session")
    client.headers.pop("X-CSRF-Token", None)
    return passkey


def test_enrol_with_a_passkey_then_sign_in_asks_for_it(
    svc: Services, app_client: TestClient, alice: str
) -> None:
    signed = sign_in(app_client)
    assert signed["mfa_enrolment_required"] is True
    problem(app_client.get("/api/v1/me/mfa/passkeys"), 403, "mfa-enrolment-required")
    csrf = app_client.headers.pop("X-CSRF-Token")
    problem(app_client.post("/api/v1/me/mfa/passkeys/options"), 403, "csrf")
    app_client.headers["X-CSRF-Token"] = csrf
    old_cookie = app_client.cookies.get(COOKIE)

    _, done = register(app_client)
    body = done.json()
    assert len(body["recovery_codes"]) == 10
    assert body["session"]["mfa_required"] is False
    assert body["passkey"]["name"] == "YubiKey bureau"
    assert app_client.cookies.get(COOKIE) != old_cookie, "the session is renewed"
    assert app_client.get("/api/v1/spaces").status_code == 200
    status = app_client.get("/api/v1/me/mfa").json()
    assert (status["passkeys"], status["totp"], status["recovery_codes_left"]) == (1, False, 10)

    app_client.delete("/api/v1/session")
    signed = sign_in(app_client)
    assert (signed["mfa_required"], signed["mfa_enrolment_required"]) == (True, False)
    problem(app_client.get("/api/v1/spaces"), 403, "mfa-required")


def test_second_factor_and_tokens(svc: Services, app_client: TestClient, alice: str) -> None:
    passkey = enrolled(app_client)
    sign_in(app_client)
    pending_cookie = app_client.cookies.get(COOKIE)
    verified = second_factor(app_client, passkey)
    assert verified.status_code == 200, verified.text
    assert verified.json()["mfa_required"] is False
    assert app_client.cookies.get(COOKIE) != pending_cookie
    app_client.headers["X-CSRF-Token"] = verified.json()["csrf_token"]
    assert app_client.get("/api/v1/spaces").status_code == 200
    token = app_client.post("/api/v1/tokens", json={"name": "script", "scopes": ["files:read"]})
    assert token.status_code == 201, token.text
    bearer = {"Authorization": f"Bearer {token.json()['secret']}"}
    with client_for(svc) as script:
        refused = script.get("/api/v1/me/mfa/passkeys", headers=bearer)
        problem(refused, 403, "token-not-allowed")


def test_passwordless_sign_in(svc: Services, app_client: TestClient, alice: str) -> None:
    passkey = enrolled(app_client)
    with client_for(svc) as browser:
        options = browser.post("/api/v1/session/passkey/options")  # no session, no CSRF
        assert options.status_code == 200, options.text
        assert json.loads(options.text)["userVerification"] == "required"
        signed = browser.post(
            "/api/v1/session/passkey", json={"credential": passkey.get_json(options.text)}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["username"] == "alice"
        assert signed.json()["mfa_required"] is False
        assert browser.cookies.get(COOKIE)
        browser.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        assert browser.get("/api/v1/spaces").status_code == 200

        options = browser.post("/api/v1/session/passkey/options")
        unverified = passkey.get_json(options.text, user_verified=False)
        refused = browser.post("/api/v1/session/passkey", json={"credential": unverified})
        assert problem(refused, 400, "passkey-user-not-verified")
        assert refused.json()["field"] == "credential"


def test_manage_my_passkeys(
    svc: Services, app_client: TestClient, alice: str, clock: ManualClock
) -> None:
    sign_in(app_client)
    register(app_client)
    clock.advance(seconds=1)
    register(app_client, "Téléphone")
    listed = app_client.get("/api/v1/me/mfa/passkeys").json()
    assert [p["name"] for p in listed] == ["YubiKey bureau", "Téléphone"]
    phone = listed[1]["id"]
    renamed = app_client.patch(f"/api/v1/me/mfa/passkeys/{phone}", json={"name": "Mobile"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Mobile"
    problem(
        app_client.patch("/api/v1/me/mfa/passkeys/nope", json={"name": "x"}),
        404,
        "passkey-not-found",
    )
    wrong = app_client.request(
        "DELETE", f"/api/v1/me/mfa/passkeys/{phone}", json={"current_password": "not it"}
    )
    problem(wrong, 400, "wrong-current-password")
    problem(
        app_client.request("DELETE", f"/api/v1/me/mfa/passkeys/{phone}", json={}),
        400,
        "invalid-input",
    )
    removed = app_client.request(
        "DELETE", f"/api/v1/me/mfa/passkeys/{phone}", json={"current_password": PASSWORD}
    )
    assert removed.status_code == 204, removed.text
    assert [p["name"] for p in app_client.get("/api/v1/me/mfa/passkeys").json()] == [
        "YubiKey bureau"
    ]


def test_a_session_without_its_factor_cannot_add_a_passkey(
    svc: Services, app_client: TestClient, alice: str, clock: ManualClock
) -> None:
    enrol(svc, svc.accounts.principal_for_username("alice"), clock)
    sign_in(app_client)
    refused = app_client.post("/api/v1/me/mfa/passkeys/options")
    detail = problem(refused, 403, "mfa-required")
    assert "POST /api/v1/session/mfa/passkey" in detail
    problem(app_client.post("/api/v1/session/mfa/passkey/options"), 404, "passkey-none")


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "origin": ({"origin": "https://egide.example.org.evil.test"}, "passkey-wrong-origin"),
    "rp-id": ({"rp_id": "evil.test"}, "passkey-wrong-site"),
    "ceremony": ({"ceremony": "webauthn.create"}, "passkey-wrong-ceremony"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_answers_are_refused_in_both_languages(
    svc: Services, app_client: TestClient, alice: str, case: str
) -> None:
    passkey = enrolled(app_client)
    sign_in(app_client)
    alter, code = BAD[case]
    refused = second_factor(app_client, passkey, **alter)
    problem(refused, 400, code)
    options = app_client.post("/api/v1/session/mfa/passkey/options")
    french = app_client.post(
        "/api/v1/session/mfa/passkey",
        json={"credential": passkey.get_json(options.text, **alter)},
        headers={"Accept-Language": "fr"},
    )
    detail = problem(french, 400, code)
    assert french.headers["content-language"] == "fr"
    assert "passkey" in detail.lower() or "clé d'accès" in detail
    assert detail != refused.json()["detail"], "translated"
    denied = [json.loads(e.details) for e in events(svc, "mfa.verify") if e.outcome == "denied"]
    assert denied == [{"method": "passkey", "reason": code}] * 2


def test_tampered_and_malformed_answers(svc: Services, app_client: TestClient, alice: str) -> None:
    passkey = enrolled(app_client)
    sign_in(app_client)
    options = app_client.post("/api/v1/session/mfa/passkey/options")
    tampered = tamper_client_data(passkey.get_json(options.text), origin=ORIGIN, extra="1")
    problem(
        app_client.post("/api/v1/session/mfa/passkey", json={"credential": tampered}),
        400,
        "passkey-bad-signature",
    )
    options = app_client.post("/api/v1/session/mfa/passkey/options")
    problem(
        app_client.post("/api/v1/session/mfa/passkey", json={"credential": {"id": 1}}),
        400,
        "passkey-malformed",
    )
    right = passkey.get_json(options.text)
    problem(
        app_client.post("/api/v1/session/mfa/passkey", json={"credential": right}),
        400,
        "passkey-challenge-invalid",
    )
    problem(
        app_client.post("/api/v1/session/mfa/passkey", json={"credential": "x"}),
        400,
        "invalid-input",
    )


def test_failed_answers_are_throttled(svc: Services, app_client: TestClient, alice: str) -> None:
    passkey = enrolled(app_client)
    sign_in(app_client)
    forger = ec.generate_private_key(ec.SECP256R1())
    for _ in range(svc.settings.login_free_failures + 1):
        problem(
            second_factor(app_client, passkey, signing_key=forger), 400, "passkey-bad-signature"
        )
    throttled = second_factor(app_client, passkey)
    problem(throttled, 429, "login-throttled")
    assert int(throttled.headers["retry-after"]) >= 1


def test_recovery_codes_of_a_passkey_only_account(
    svc: Services, app_client: TestClient, alice: str
) -> None:
    sign_in(app_client)
    _, done = register(app_client)
    recovery = done.json()["recovery_codes"]
    app_client.delete("/api/v1/session")
    sign_in(app_client)
    verified = app_client.post("/api/v1/session/mfa", json={"code": recovery[0]})
    assert verified.status_code == 200, verified.text
    assert verified.json()["mfa_required"] is False
    app_client.headers["X-CSRF-Token"] = verified.json()["csrf_token"]
    assert app_client.get("/api/v1/me/mfa").json()["recovery_codes_left"] == 9
