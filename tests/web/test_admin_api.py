"""The admin area's API, /api/v1/admin/... (issue 6, item 1): administrators only,
every change audited, one-time passwords shown once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent
from egide.services.access.policy import GlobalRole
from egide.services.audit.recorder import DENIED
from egide.services.registry import Services
from egide.web.app import create_app
from tests.vault_fixtures import PASSWORD, SYSTEM


def _client(app: Any) -> TestClient:
    client = TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"})
    client.__enter__()
    return client


def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


@pytest.fixture
def clients(svc: Services) -> Iterator[dict[str, TestClient]]:
    """root (administrator) and alice (a manager of `cardio`, not an administrator),
    both signed in; a third client, signed out, for the accounts the tests make."""
    svc.accounts.create_user(SYSTEM, "root", password=PASSWORD, roles=[GlobalRole.ADMIN])
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie", quota_bytes=10**9)
    svc.spaces.create(SYSTEM, "onco", title="Oncologie")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "manager")
    app = create_app(svc)
    made = {"root": _client(app), "alice": _client(app), "other": _client(app)}
    try:
        _sign_in(made["root"], "root")
        _sign_in(made["alice"], "alice")
        yield made
    finally:
        for client in made.values():
            client.__exit__(None, None, None)


def _events(svc: Services, action: str) -> list[AuditEvent]:
    """The events of `action` that were carried out (not refused)."""
    with svc.db.read() as session:
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome != DENIED)
        return list(session.scalars(query).all())


def _denied(svc: Services) -> int:
    with svc.db.read() as session:
        return len(session.scalars(select(AuditEvent).where(AuditEvent.outcome == DENIED)).all())


def _problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["type"].endswith(code), body
    return body


ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/admin/users", None),
    ("POST", "/api/v1/admin/users", {"username": "mallory"}),
    ("POST", "/api/v1/admin/users/root/disable", None),
    ("POST", "/api/v1/admin/users/root/enable", None),
    ("POST", "/api/v1/admin/users/root/password", None),
    ("POST", "/api/v1/admin/users/root/mfa-reset", None),
    ("PUT", "/api/v1/admin/users/alice/roles", {"roles": ["admin"]}),
    ("GET", "/api/v1/admin/groups", None),
    ("POST", "/api/v1/admin/groups", {"name": "intrus"}),
    ("DELETE", "/api/v1/admin/groups/cardiologues", None),
    ("GET", "/api/v1/admin/groups/cardiologues/members", None),
    ("PUT", "/api/v1/admin/groups/cardiologues/members/alice", None),
    ("DELETE", "/api/v1/admin/groups/cardiologues/members/alice", None),
    ("GET", "/api/v1/admin/spaces", None),
    ("PUT", "/api/v1/admin/spaces/cardio/quota", {"quota_bytes": None}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_only_administrators(
    clients: dict[str, TestClient],
    svc: Services,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    svc.accounts.create_group(SYSTEM, "cardiologues")
    before = _denied(svc)
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    _problem(clients["alice"].request(method, path, **kwargs), 403, "global-role-required")
    # Refused, audited as such, and nothing changed.
    assert _denied(svc) == before + 1
    assert not svc.accounts.get_user(SYSTEM, "alice").global_roles
    assert not svc.accounts.get_user(SYSTEM, "root").is_disabled
    assert [g.name for g in svc.accounts.list_groups(SYSTEM)] == ["cardiologues"]
    assert svc.spaces.get(SYSTEM, "cardio").quota_bytes == 10**9
    # Signed out: 401, not a hint of what is there.
    _problem(clients["other"].request(method, path, **kwargs), 401)


def test_a_new_account_gets_a_one_time_password_shown_once(
    clients: dict[str, TestClient], svc: Services
) -> None:
    root, other = clients["root"], clients["other"]
    made = root.post(
        "/api/v1/admin/users",
        json={
            "username": "Bernard.Martin",
            "display_name": "Bernard Martin",
            "email": "bernard@example.org",
            "roles": ["dpo"],
        },
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert body["user"]["username"] == "bernard.martin"
    assert body["user"]["roles"] == ["dpo"]
    password = body["one_time_password"]
    assert len(password) >= 24
    # The password is nowhere in the audit entry.
    created = _events(svc, "user.create")[-1]
    assert password not in (created.details or "")
    assert created.actor_id == svc.accounts.principal_for_username("root").user_id

    listed = {u["username"]: u for u in root.get("/api/v1/admin/users").json()}
    bernard = listed["bernard.martin"]
    assert bernard["must_change_password"] is True
    assert bernard["mfa_enrolled"] is False
    assert bernard["last_login_at"] is None
    assert bernard["disabled"] is False
    assert listed["root"]["last_login_at"] is not None
    assert "password" not in str(bernard).replace("must_change_password", "")

    # Signing in with it: the session may only choose a new password.
    signed = _sign_in(other, "bernard.martin", password)
    assert signed["password_change_required"] is True
    assert root.get("/api/v1/admin/users").json()[0]["last_login_at"] is not None

    # Taken name: 409 with the server's message.
    _problem(root.post("/api/v1/admin/users", json={"username": "bernard.martin"}), 409)
    # A bad name says what a name may hold.
    bad = _problem(root.post("/api/v1/admin/users", json={"username": "a b"}), 400)
    assert "3 to 64 characters" in bad["detail"]
    # Single sign-on only: no password at all.
    sso = root.post("/api/v1/admin/users", json={"username": "claire", "sso_only": True})
    assert sso.status_code == 201, sso.text
    assert sso.json()["one_time_password"] is None
    assert {u["username"]: u for u in root.get("/api/v1/admin/users").json()}["claire"]["sso_only"]


def test_disable_enable_reset_and_roles(
    clients: dict[str, TestClient], svc: Services, clock: ManualClock
) -> None:
    root, other = clients["root"], clients["other"]
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    _sign_in(other, "bob")
    assert other.get("/api/v1/spaces").status_code == 200

    off = root.post("/api/v1/admin/users/bob/disable")
    assert off.status_code == 200, off.text
    assert off.json()["disabled"] is True
    # Bob's open session ends at once.
    _problem(other.get("/api/v1/spaces"), 401)
    refused = other.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
    assert refused.status_code in (401, 403, 423), refused.text
    assert root.post("/api/v1/admin/users/bob/enable").json()["disabled"] is False
    _sign_in(other, "bob")

    clock.advance(seconds=1)  # sessions begun before the change end
    reset = root.post("/api/v1/admin/users/bob/password")
    assert reset.status_code == 200, reset.text
    assert reset.headers["cache-control"] == "no-store"
    new_password = reset.json()["one_time_password"]
    _problem(other.get("/api/v1/spaces"), 401)  # the password change ended the session
    bad = other.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
    assert bad.status_code == 401
    assert _sign_in(other, "bob", new_password)["password_change_required"] is True
    (changed,) = _events(svc, "user.password")
    assert new_password not in (changed.details or "")

    roles = root.put("/api/v1/admin/users/bob/roles", json={"roles": ["security", "dpo"]})
    assert roles.status_code == 200, roles.text
    assert roles.json()["roles"] == ["dpo", "security"]
    assert len(_events(svc, "user.roles")) == 1
    _problem(root.put("/api/v1/admin/users/bob/roles", json={"roles": ["king"]}), 400)
    # The last administrator cannot take away their own role through the web.
    _problem(root.put("/api/v1/admin/users/root/roles", json={"roles": []}), 409)
    _problem(root.post("/api/v1/admin/users/nobody/disable"), 404)
    assert [e.action for e in _events(svc, "user.disable")] == ["user.disable"]
    assert [e.action for e in _events(svc, "user.enable")] == ["user.enable"]


def test_mfa_reset(clients: dict[str, TestClient], svc: Services, clock: ManualClock) -> None:
    root = clients["root"]
    # Nothing to remove: said so.
    none = _problem(root.post("/api/v1/admin/users/alice/mfa-reset"), 404, "mfa-not-enrolled")
    assert none["detail"]
    alice = svc.accounts.principal_for_username("alice")
    uri = svc.mfa.begin_totp(alice).uri
    totp = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    svc.mfa.confirm_totp(alice, totp.at(clock.now()))
    listed = {u["username"]: u for u in root.get("/api/v1/admin/users").json()}
    assert listed["alice"]["mfa_enrolled"] is True

    reset = root.post("/api/v1/admin/users/alice/mfa-reset")
    assert reset.status_code == 200, reset.text
    assert reset.json() == {"authenticator_app": True, "passkeys": 0}
    listed = {u["username"]: u for u in root.get("/api/v1/admin/users").json()}
    assert listed["alice"]["mfa_enrolled"] is False
    (removed,) = _events(svc, "mfa.remove")
    assert removed.actor_id == svc.accounts.principal_for_username("root").user_id


def test_groups(clients: dict[str, TestClient], svc: Services) -> None:
    root = clients["root"]
    made = root.post(
        "/api/v1/admin/groups", json={"name": "cardiologues", "description": "Service de cardio"}
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "name": "cardiologues",
        "description": "Service de cardio",
        "member_count": 0,
    }
    _problem(root.post("/api/v1/admin/groups", json={"name": "cardiologues"}), 409)
    added = root.put("/api/v1/admin/groups/cardiologues/members/alice")
    assert added.json() == {"changed": True}
    assert root.put("/api/v1/admin/groups/cardiologues/members/alice").json() == {"changed": False}
    _problem(root.put("/api/v1/admin/groups/cardiologues/members/nobody"), 404)
    members = root.get("/api/v1/admin/groups/cardiologues/members").json()
    assert [m["username"] for m in members] == ["alice"]
    assert root.get("/api/v1/admin/groups").json()[0]["member_count"] == 1

    # A role given to the group goes with it.
    svc.spaces.grant(SYSTEM, "onco", "", "group:cardiologues", "reader")
    assert "onco" in [s["slug"] for s in clients["alice"].get("/api/v1/spaces").json()]
    removed = root.delete("/api/v1/admin/groups/cardiologues/members/alice")
    assert removed.json() == {"changed": True}
    assert "onco" not in [s["slug"] for s in clients["alice"].get("/api/v1/spaces").json()]
    assert root.delete("/api/v1/admin/groups/cardiologues").status_code == 204
    assert root.get("/api/v1/admin/groups").json() == []
    _problem(root.delete("/api/v1/admin/groups/cardiologues"), 404)
    for action in ("group.create", "group.member_add", "group.member_remove", "group.delete"):
        assert len(_events(svc, action)) == 1, action


def test_spaces_and_quotas(clients: dict[str, TestClient], svc: Services) -> None:
    root, alice = clients["root"], clients["alice"]
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    svc.spaces.create(SYSTEM, "secret", title="Pas pour root")
    listed = {s["slug"]: s for s in root.get("/api/v1/admin/spaces").json()}
    # Every space, including those where the administrator holds no role.
    assert set(listed) == {"cardio", "onco", "secret"}
    assert listed["cardio"]["quota_bytes"] == 10**9
    assert listed["cardio"]["used_bytes"] == 0
    assert listed["secret"]["role"] is None

    alice.put("/api/v1/spaces/cardio/content/cr.txt", content=b"x" * 1000)
    changed = root.put("/api/v1/admin/spaces/cardio/quota", json={"quota_bytes": 12 * 10**9})
    assert changed.status_code == 200, changed.text
    assert changed.json()["quota_bytes"] == 12 * 10**9
    assert changed.json()["used_bytes"] == 1000
    assert svc.spaces.get(SYSTEM, "cardio").quota_bytes == 12 * 10**9
    (event,) = _events(svc, "space.quota")
    assert event.actor_id == svc.accounts.principal_for_username("root").user_id

    # Down to what is used: the next write is refused with 413.
    root.put("/api/v1/admin/spaces/cardio/quota", json={"quota_bytes": 1000})
    over = alice.put("/api/v1/spaces/cardio/content/more.txt", content=b"y" * 10)
    _problem(over, 413)
    unlimited = root.put("/api/v1/admin/spaces/cardio/quota", json={"quota_bytes": None})
    assert unlimited.json()["quota_bytes"] is None
    _problem(root.put("/api/v1/admin/spaces/cardio/quota", json={"quota_bytes": -1}), 400)
    _problem(root.put("/api/v1/admin/spaces/cardio/quota", json={"quota_bytes": "12G"}), 400)
    _problem(root.put("/api/v1/admin/spaces/nowhere/quota", json={"quota_bytes": 1}), 404)
