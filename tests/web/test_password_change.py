"""A one-time or reset password allows nothing but choosing one's own (issue 3, item 1)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM

ONE_TIME = "handed over on paper 2026"
MINE = "my own choice at last 77"


def sign_in(client: TestClient, password: str) -> dict[str, object]:
    response = client.post("/api/v1/session", json={"username": "nurse", "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    client.headers["X-CSRF-Token"] = str(body["csrf_token"])
    return body


def test_one_time_password_must_be_changed_first(svc: Services, app_client: TestClient) -> None:
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    svc.accounts.create_user(SYSTEM, "nurse", password=ONE_TIME, must_change_password=True)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:nurse", "contributor")
    assert sign_in(app_client, ONE_TIME)["password_change_required"] is True

    me = app_client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["password_change_required"] is True
    for method, url in (
        ("GET", "/api/v1/spaces"),
        ("GET", "/api/v1/spaces/cardio/nodes/"),
        ("PUT", "/api/v1/spaces/cardio/content/note.txt"),
        ("POST", "/api/v1/tokens"),
    ):
        refused = app_client.request(method, url, json={"name": "x", "scopes": ["files:read"]})
        assert refused.status_code == 403, (method, url, refused.text)
        assert refused.json()["type"] == "urn:egide:problem:password-change-required"

    csrf = app_client.headers.pop("X-CSRF-Token")
    no_csrf = app_client.post(
        "/api/v1/me/password", json={"current_password": ONE_TIME, "new_password": MINE}
    )
    assert no_csrf.status_code == 403
    app_client.headers["X-CSRF-Token"] = csrf
    wrong = app_client.post(
        "/api/v1/me/password", json={"current_password": "guess", "new_password": MINE}
    )
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "current_password"
    same = app_client.post(
        "/api/v1/me/password", json={"current_password": ONE_TIME, "new_password": ONE_TIME}
    )
    assert same.status_code == 400
    old_cookie = app_client.cookies.get("egide_session")

    changed = app_client.post(
        "/api/v1/me/password", json={"current_password": ONE_TIME, "new_password": MINE}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["password_change_required"] is False
    assert changed.headers["cache-control"] == "no-store"
    new_cookie = app_client.cookies.get("egide_session")
    assert new_cookie
    assert new_cookie != old_cookie, "the session is renewed"
    app_client.headers["X-CSRF-Token"] = changed.json()["csrf_token"]
    assert app_client.get("/api/v1/spaces").status_code == 200
    assert app_client.put("/api/v1/spaces/cardio/content/note.txt", content=b"ok").status_code in (
        200,
        201,
    )

    app_client.cookies.clear()
    app_client.cookies.set("egide_session", str(old_cookie))
    assert app_client.get("/api/v1/me").status_code == 401, "the old session has ended"
    assert sign_in(app_client, MINE)["password_change_required"] is False
    assert (
        app_client.post(
            "/api/v1/session", json={"username": "nurse", "password": ONE_TIME}
        ).status_code
        == 401
    )


def test_a_token_cannot_change_a_password(svc: Services, alice_client: TestClient) -> None:
    created = alice_client.post("/api/v1/tokens", json={"name": "cli", "scopes": ["files:read"]})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    alice_client.cookies.clear()
    alice_client.headers.pop("X-CSRF-Token")
    refused = alice_client.post(
        "/api/v1/me/password",
        json={"current_password": "x", "new_password": MINE},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert refused.status_code == 403
    # An administrator's reset revokes the token at once.
    svc.accounts.change_password(SYSTEM, "alice", ONE_TIME)
    gone = alice_client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
