"""GET /sessions and DELETE /sessions/{id}: my sessions, and a user's for
administrators (issue 5, item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.db.models import AuditEvent
from egide.services.access.policy import GlobalRole
from egide.services.registry import Services
from egide.web.app import create_app
from tests.vault_fixtures import PASSWORD, SYSTEM


@pytest.fixture
def browsers(svc: Services) -> Iterator[dict[str, TestClient]]:
    """Four browsers: alice twice (laptop, phone), bob, and the administrator root."""
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    svc.accounts.create_user(SYSTEM, "root", password=PASSWORD, roles=[GlobalRole.ADMIN])
    app = create_app(svc)
    clients: dict[str, TestClient] = {}
    try:
        for name, user, agent in (
            ("laptop", "alice", "Firefox on Linux"),
            ("phone", "alice", "Safari on iPhone"),
            ("bob", "bob", "Edge on Windows"),
            ("root", "root", "Chromium"),
        ):
            client = TestClient(
                app,
                base_url="http://testserver",
                headers={"Accept-Language": "en", "User-Agent": agent},
            )
            client.__enter__()
            clients[name] = client
            signed = client.post("/api/v1/session", json={"username": user, "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def _mine(client: TestClient) -> list[dict[str, object]]:
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200, response.text
    listed: list[dict[str, object]] = response.json()
    return listed


def test_i_see_and_end_my_other_session(browsers: dict[str, TestClient]) -> None:
    laptop, phone = browsers["laptop"], browsers["phone"]
    listed = _mine(laptop)
    assert sorted(str(s["user_agent"]) for s in listed) == ["Firefox on Linux", "Safari on iPhone"]
    assert [s["user_agent"] for s in listed if s["current"]] == ["Firefox on Linux"]
    assert all(s["locked"] is False and s["mfa_method"] is None for s in listed)
    other = next(s["id"] for s in listed if not s["current"])

    assert laptop.delete(f"/api/v1/sessions/{other}").status_code == 204
    assert phone.get("/api/v1/me").status_code == 401, "the phone's session ended at once"
    assert [s["current"] for s in _mine(laptop)] == [True]
    assert laptop.delete(f"/api/v1/sessions/{other}").status_code == 404, "already ended"
    assert laptop.delete("/api/v1/sessions/no-such-session").status_code == 404


def test_someone_elses_sessions_stay_hidden(browsers: dict[str, TestClient]) -> None:
    bob, laptop = browsers["bob"], browsers["laptop"]
    alices = {str(s["id"]) for s in _mine(laptop)}
    assert bob.get("/api/v1/sessions", params={"user": "alice"}).status_code == 403
    for session_id in alices:
        refused = bob.delete(f"/api/v1/sessions/{session_id}")
        assert refused.status_code == 404, "another user's session id is never confirmed"
    assert laptop.get("/api/v1/me").status_code == 200


def test_an_administrator_lists_and_ends_a_users_sessions(
    browsers: dict[str, TestClient], svc: Services
) -> None:
    root, laptop = browsers["root"], browsers["laptop"]
    listed = root.get("/api/v1/sessions", params={"user": "alice"})
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 2
    assert not any(s["current"] for s in listed.json())
    assert root.get("/api/v1/sessions", params={"user": "nobody"}).status_code == 404
    for session in listed.json():
        assert root.delete(f"/api/v1/sessions/{session['id']}").status_code == 204
    assert laptop.get("/api/v1/me").status_code == 401
    assert root.get("/api/v1/sessions", params={"user": "alice"}).json() == []
    with svc.db.read() as session:
        revoked = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.revoke")
        ).all()
        assert len(revoked) == 2
        assert {e.actor_id for e in revoked} == {
            svc.accounts.principal_for_username("root").user_id
        }
