"""Throttled log-ins answer 429 with Retry-After (issue 5, item 5)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx2 import Response

from egide.core.clock import ManualClock
from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM

WRONG = "not the right password at all"


def sign_in(client: TestClient, username: str, password: str, **headers: str) -> Response:
    return client.post(
        "/api/v1/session", json={"username": username, "password": password}, headers=headers
    )


def exhaust(client: TestClient, svc: Services, username: str) -> None:
    """Fail every free attempt and one more, which starts the back-off."""
    for _ in range(svc.settings.login_free_failures + 1):
        assert sign_in(client, username, WRONG).status_code == 401


def test_a_throttled_log_in_answers_429_with_retry_after(
    svc: Services, app_client: TestClient, clock: ManualClock
) -> None:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    exhaust(app_client, svc, "alice")

    refused = sign_in(app_client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "set-cookie" not in refused.headers
    assert refused.json() == {
        "type": "urn:egide:problem:login-throttled",
        "title": "Too many requests",
        "status": 429,
        "detail": "Too many failed log-in attempts. Wait 1 s, then try again.",
    }
    french = sign_in(app_client, "alice", PASSWORD, **{"Accept-Language": "fr"})
    assert french.status_code == 429
    assert french.headers["Content-Language"] == "fr"
    assert french.json()["title"] == "Trop de requêtes"
    assert french.json()["detail"] == (
        "Trop de tentatives de connexion échouées. Patientez 1 s, puis réessayez."
    )

    clock.advance(seconds=int(refused.headers["Retry-After"]))
    assert sign_in(app_client, "alice", PASSWORD).status_code == 200


def test_an_unknown_user_gets_the_same_answers(
    svc: Services, app_client: TestClient, clock: ManualClock
) -> None:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)

    def answers(username: str) -> list[tuple[int, str | None, str]]:
        seen = []
        for _ in range(svc.settings.login_free_failures + 3):
            response = sign_in(app_client, username, WRONG)
            seen.append((response.status_code, response.headers.get("Retry-After"), response.text))
        clock.advance(hours=1)
        return seen

    known = answers("alice")
    assert [status for status, _, _ in known][-3:] == [401, 429, 429]
    assert answers("nobody.here") == known


def test_minutes_are_told_past_two_minutes(
    svc: Services, app_client: TestClient, clock: ManualClock
) -> None:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    exhaust(app_client, svc, "alice")
    for _ in range(8):  # 1 + 2 + ... + 128 s of waits
        wait = sign_in(app_client, "alice", WRONG).headers["Retry-After"]
        clock.advance(seconds=int(wait))
        assert sign_in(app_client, "alice", WRONG).status_code == 401
    refused = sign_in(app_client, "alice", PASSWORD)
    assert refused.headers["Retry-After"] == "256"
    assert (
        refused.json()["detail"] == "Too many failed log-in attempts. Wait 5 min, then try again."
    )


def test_unlocking_a_session_is_throttled(
    svc: Services, app_client: TestClient, clock: ManualClock
) -> None:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    signed_in = sign_in(app_client, "alice", PASSWORD)
    assert signed_in.status_code == 200
    app_client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
    clock.advance(minutes=svc.settings.session_idle_minutes + 1)
    assert app_client.get("/api/v1/me").json()["type"] == "urn:egide:problem:session-locked"
    for _ in range(svc.settings.login_free_failures + 1):
        assert (
            app_client.post("/api/v1/session/unlock", json={"password": WRONG}).status_code == 401
        )
    refused = app_client.post("/api/v1/session/unlock", json={"password": PASSWORD})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    unlocked = app_client.post("/api/v1/session/unlock", json={"password": PASSWORD})
    assert unlocked.status_code == 200
    assert unlocked.json()["locked"] is False
