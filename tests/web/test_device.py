"""The device authorization endpoints (RFC 8628) through the real application.

The device's two endpoints speak OAuth (form parameters, RFC 6749 5.2 error
JSON); the approving user's two take a web session with its CSRF header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.registry import Services
from egide.web.api.device import GRANT_TYPE, parse_params
from tests.services.mfa.conftest import code_at, enrol
from tests.vault_fixtures import PASSWORD

pytestmark = pytest.mark.db

AUTHORIZE = "/api/v1/device/authorize"
TOKEN = "/api/v1/device/token"
LOOKUP = "/api/v1/device/lookup"
APPROVE = "/api/v1/device/approve"


@pytest.fixture
def policy() -> str:
    """The MFA policy; the suite's `none` unless a test says otherwise."""
    return "none"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, policy: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, mfa_required=policy)


def authorize(client: TestClient, **fields: str) -> dict[str, Any]:
    data = {"client_name": "egide CLI on poste-12", **fields}
    response = client.post(AUTHORIZE, data=data)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def poll(client: TestClient, device_code: str) -> Any:
    return client.post(TOKEN, data={"grant_type": GRANT_TYPE, "device_code": device_code})


def oauth_error(response: Any, error: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    return body


def problem(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == f"urn:egide:problem:{code}", body
    detail: str = body["detail"]
    return detail


def test_a_device_gets_a_token_approved_from_a_session(
    svc: Services, clock: ManualClock, alice_client: TestClient
) -> None:
    grant = authorize(alice_client, scope="files:read files:write")
    assert set(grant) == {"device_code", "user_code", "verification_uri", "expires_in", "interval"}
    assert grant["verification_uri"].endswith("/device")
    assert grant["user_code"] not in grant["verification_uri"]
    oauth_error(poll(alice_client, grant["device_code"]), "authorization_pending")

    shown = alice_client.post(LOOKUP, json={"user_code": grant["user_code"].lower()})
    assert shown.status_code == 200, shown.text
    assert shown.json()["client_name"] == "egide CLI on poste-12"
    assert shown.json()["granted_scopes"] == ["files:read", "files:write"]
    decided = alice_client.post(APPROVE, json={"user_code": grant["user_code"], "approve": True})
    assert decided.status_code == 200, decided.text
    assert decided.json()["approved"] is True

    clock.advance(seconds=5)
    issued = poll(alice_client, grant["device_code"])
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    token = issued.json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "files:read files:write"
    assert token["expires_in"] == 90 * 86400
    with TestClient(alice_client.app) as device:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert device.get("/api/v1/spaces", headers=headers).status_code == 200
        listed = device.get("/api/v1/tokens", headers=headers).json()
        assert [t["id"] for t in listed] == [token["token_id"]]
    clock.advance(seconds=5)
    oauth_error(poll(alice_client, grant["device_code"]), "invalid_grant")


def test_json_parameters_are_accepted_too(app_client: TestClient) -> None:
    response = app_client.post(
        AUTHORIZE, json={"client_name": "cli", "scope": "files:read", "expires_in_days": "30"}
    )
    assert response.status_code == 200, response.text
    response = app_client.post(
        TOKEN, json={"grant_type": GRANT_TYPE, "device_code": response.json()["device_code"]}
    )
    oauth_error(response, "authorization_pending")


def test_a_denied_device_is_told_so(clock: ManualClock, alice_client: TestClient) -> None:
    grant = authorize(alice_client)
    decided = alice_client.post(APPROVE, json={"user_code": grant["user_code"], "approve": False})
    assert decided.status_code == 200, decided.text
    assert decided.json()["approved"] is False
    clock.advance(seconds=5)
    oauth_error(poll(alice_client, grant["device_code"]), "access_denied")


def test_polling_too_fast_and_after_expiry(clock: ManualClock, app_client: TestClient) -> None:
    grant = authorize(app_client)
    oauth_error(poll(app_client, grant["device_code"]), "authorization_pending")
    slowed = oauth_error(poll(app_client, grant["device_code"]), "slow_down")
    assert slowed["interval"] == 10
    clock.advance(minutes=10)
    oauth_error(poll(app_client, grant["device_code"]), "expired_token")


@pytest.mark.parametrize(
    ("url", "data", "error"),
    [
        (TOKEN, {"grant_type": "password", "device_code": "x"}, "unsupported_grant_type"),
        (TOKEN, {"grant_type": GRANT_TYPE}, "invalid_request"),
        (TOKEN, {"grant_type": GRANT_TYPE, "device_code": "unknown"}, "invalid_grant"),
        (AUTHORIZE, {"client_name": "cli", "scope": "files:read root"}, "invalid_scope"),
        (AUTHORIZE, {"client_name": ""}, "invalid_request"),
        (AUTHORIZE, {"client_name": "cli", "expires_in_days": "1000"}, "invalid_request"),
        (AUTHORIZE, {"client_name": "cli", "expires_in_days": "-3"}, "invalid_request"),
    ],
)
def test_bad_oauth_requests_answer_oauth_errors(
    app_client: TestClient, url: str, data: dict[str, str], error: str
) -> None:
    oauth_error(app_client.post(url, data=data), error)


def test_malformed_bodies_are_invalid_requests(app_client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    twice = app_client.post(AUTHORIZE, content=b"client_name=a&client_name=b", headers=form)
    oauth_error(twice, "invalid_request")
    as_json = {"content-type": "application/json"}
    oauth_error(app_client.post(AUTHORIZE, content=b"[1, 2]", headers=as_json), "invalid_request")
    oauth_error(app_client.post(AUTHORIZE, content=b"{nope", headers=as_json), "invalid_request")
    big = b"client_name=" + b"a" * 10_000
    oauth_error(app_client.post(AUTHORIZE, content=big, headers=form), "invalid_request")
    assert parse_params(b"client_name=cli&scope=", "") == {"client_name": "cli", "scope": ""}
    assert parse_params(b'{"approve": true}', "application/json") is None
    assert parse_params(b'{"expires_in_days": 30}', "application/json") is None


def test_errors_speak_french_when_asked(app_client: TestClient) -> None:
    response = app_client.post(
        TOKEN,
        data={"grant_type": GRANT_TYPE, "device_code": "unknown"},
        headers={"Accept-Language": "fr"},
    )
    body = oauth_error(response, "invalid_grant")
    assert response.headers["content-language"] == "fr"
    assert "inconnu" in body["error_description"]


def test_wrong_user_codes_are_refused_then_throttled(
    svc: Services, alice_client: TestClient
) -> None:
    authorize(alice_client)
    for _ in range(svc.settings.login_free_failures + 1):
        detail = problem(
            alice_client.post(LOOKUP, json={"user_code": "BBBB-BBBB"}), 404, "device-code-unknown"
        )
        assert "wrong, expired or already used" in detail
    throttled = alice_client.post(LOOKUP, json={"user_code": "BBBB-BBBB"})
    problem(throttled, 429, "login-throttled")
    assert int(throttled.headers["retry-after"]) >= 1


def test_the_code_never_travels_in_a_url(alice_client: TestClient) -> None:
    grant = authorize(alice_client)
    assert alice_client.get(f"/api/v1/device/{grant['user_code']}").status_code in {404, 405}


def test_a_bearer_token_cannot_approve(svc: Services, alice_client: TestClient) -> None:
    made = alice_client.post("/api/v1/tokens", json={"name": "script", "scopes": ["files:read"]})
    assert made.status_code == 201, made.text
    grant = authorize(alice_client)
    with TestClient(alice_client.app) as script:
        headers = {"Authorization": f"Bearer {made.json()['secret']}"}
        body = {"user_code": grant["user_code"], "approve": True}
        detail = problem(
            script.post(APPROVE, json=body, headers=headers), 403, "device-approval-not-allowed"
        )
        assert "web interface" in detail
        lookup = script.post(LOOKUP, json={"user_code": grant["user_code"]}, headers=headers)
        problem(lookup, 403, "device-approval-not-allowed")


def test_approving_needs_the_csrf_header(alice_client: TestClient) -> None:
    grant = authorize(alice_client)
    csrf = alice_client.headers.pop("X-CSRF-Token")
    refused = alice_client.post(APPROVE, json={"user_code": grant["user_code"], "approve": True})
    assert refused.status_code == 403
    alice_client.headers["X-CSRF-Token"] = csrf
    accepted = alice_client.post(APPROVE, json={"user_code": grant["user_code"], "approve": True})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize("policy", ["everyone"])
def test_under_the_mfa_policy_only_a_verified_session_approves(
    svc: Services, clock: ManualClock, app_client: TestClient, make_user: Any
) -> None:
    alice = make_user("alice")
    uri, _ = enrol(svc, alice, clock)
    clock.advance(minutes=1)
    signed = app_client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    app_client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    grant = authorize(app_client)
    body = {"user_code": grant["user_code"], "approve": True}
    problem(app_client.post(APPROVE, json=body), 403, "mfa-required")
    verified = app_client.post("/api/v1/session/mfa", json={"code": code_at(uri, clock.now())})
    assert verified.status_code == 200, verified.text
    app_client.headers["X-CSRF-Token"] = verified.json()["csrf_token"]
    assert app_client.post(APPROVE, json=body).status_code == 200
    clock.advance(seconds=5)
    issued = poll(app_client, grant["device_code"])
    assert issued.status_code == 200, issued.text
    assert svc.accounts.authenticate_token(issued.json()["access_token"]).username == "alice"


def test_the_openapi_document_says_oauth_errors(app_client: TestClient) -> None:
    paths = app_client.get("/api/v1/openapi.json").json()["paths"]
    for path in (AUTHORIZE, TOKEN):
        operation = paths[path]["post"]
        assert "security" not in operation
        error = operation["responses"]["400"]["content"]
        assert list(error) == ["application/json"]
        assert "application/problem+json" not in str(operation["responses"])
        assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
    for path in (LOOKUP, APPROVE):
        assert paths[path]["post"]["security"] == [{"bearer": []}, {"session": []}]
