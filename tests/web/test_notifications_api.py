"""The notification endpoints (issue 7 item 5): follow, list, mark read, preferences."""

from __future__ import annotations

from fastapi.testclient import TestClient

from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM


def _sign_in(client: TestClient, username: str) -> None:
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


def test_follow_list_and_read_over_http(svc: Services, alice_client: TestClient) -> None:
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD, email="dr.bob@chu.example")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    assert alice_client.post("/api/v1/spaces/cardio/folders/Patients").status_code == 201
    alice = svc.accounts.principal_for_username("alice")
    _sign_in(alice_client, "bob")  # the same client, now bob's session
    client = alice_client

    assert client.put("/api/v1/spaces/cardio/follow/Patients").json()["path"] == "/Patients"
    assert client.put("/api/v1/spaces/cardio/follow/").json()["path"] == "/"
    assert sorted(f["path"] for f in client.get("/api/v1/follows").json()) == ["/", "/Patients"]
    assert client.delete("/api/v1/spaces/cardio/follow/").status_code == 204
    assert client.put("/api/v1/spaces/nowhere/follow/x").status_code == 404

    svc.files.write(alice, "cardio", "Patients/cr.pdf", [b"x"])
    svc.audit.sequencer.run_pending()
    svc.notifications.deriver.run_pending()
    page = client.get("/api/v1/notifications", params={"unread": "true"}).json()
    kinds = sorted(item["kind"] for item in page["items"])
    assert kinds == ["file_added", "shared"]
    added = next(i for i in page["items"] if i["kind"] == "file_added")
    assert (added["space"], added["path"], added["actor"]) == (
        "cardio",
        "/Patients/cr.pdf",
        "alice",
    )
    assert page["unread"] == 2

    marked = client.post("/api/v1/notifications/read", json={"ids": [added["id"]]}).json()
    assert marked == {"marked": 1}
    assert client.get("/api/v1/notifications").json()["unread"] == 1
    assert client.post("/api/v1/notifications/read", json={"all": True}).json() == {"marked": 1}
    assert client.get("/api/v1/notifications", params={"unread": "true"}).json()["items"] == []


def test_preferences_over_http(svc: Services, alice_client: TestClient) -> None:
    prefs = alice_client.get("/api/v1/me/notifications").json()
    assert prefs == {"email": "immediate", "privacy": True, "has_address": False}
    changed = alice_client.put("/api/v1/me/notifications", json={"email": "daily"}).json()
    assert (changed["email"], changed["privacy"]) == ("daily", True)
    bad = alice_client.put("/api/v1/me/notifications", json={"email": "weekly"})
    assert bad.status_code == 400
    assert alice_client.get("/api/v1/me/notifications").json()["email"] == "daily"


def test_following_a_file_is_refused_with_a_clear_message(alice_client: TestClient) -> None:
    assert alice_client.put("/api/v1/spaces/cardio/content/a.pdf", content=b"x").status_code in (
        200,
        201,
    )
    refused = alice_client.put("/api/v1/spaces/cardio/follow/a.pdf")
    assert refused.status_code == 400
    assert "follow the folder" in refused.json()["detail"]


def test_notifications_need_a_session(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/notifications").status_code == 401
