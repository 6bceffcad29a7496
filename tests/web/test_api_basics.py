"""The REST API's core rows of API.md, end to end through the ASGI app."""

from __future__ import annotations

import hashlib
import os

from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.services.registry import Services

BASE = "/api/v1/spaces/cardio"


def test_sign_in_cookie_and_me(app_client: TestClient, alice_client: TestClient) -> None:
    cookie = alice_client.cookies.get("egide_session")
    assert cookie
    me = alice_client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["via"] == "session"


def test_cookie_attributes(svc: Services, app_client: TestClient) -> None:
    from tests.vault_fixtures import PASSWORD, SYSTEM

    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    response = app_client.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header
    assert "samesite=strict" in header
    assert "path=/" in header


def test_problems_for_bad_credentials_and_no_session(app_client: TestClient) -> None:
    bad = app_client.post("/api/v1/session", json={"username": "x", "password": "y"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    body = bad.json()
    assert body["status"] == 401
    assert body["detail"] == "Wrong username or password."
    assert "Traceback" not in bad.text
    anonymous = app_client.get("/api/v1/me")
    assert anonymous.status_code == 401


def test_csrf_is_required_on_unsafe_methods(alice_client: TestClient) -> None:
    token = alice_client.headers.pop("X-CSRF-Token")
    refused = alice_client.post(f"{BASE}/folders/dossier")
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    alice_client.headers["X-CSRF-Token"] = token
    assert alice_client.post(f"{BASE}/folders/dossier").status_code == 201


def test_upload_download_range_and_etag(alice_client: TestClient) -> None:
    data = os.urandom(300_000)
    put = alice_client.put(f"{BASE}/content/scan.dcm", content=data)
    assert put.status_code == 201, put.text
    version = put.json()["id"]
    assert put.headers["etag"] == f'"{version}"'
    assert put.json()["sha256"] == hashlib.sha256(data).hexdigest()
    get = alice_client.get(f"{BASE}/content/scan.dcm")
    assert get.status_code == 200
    assert get.content == data
    assert get.headers["etag"] == f'"{version}"'
    assert get.headers["content-disposition"].startswith("attachment;")
    assert get.headers["cache-control"] == "private, no-store"
    part = alice_client.get(f"{BASE}/content/scan.dcm", headers={"Range": "bytes=70000-70099"})
    assert part.status_code == 206
    assert part.content == data[70000:70100]
    assert part.headers["content-range"] == f"bytes 70000-70099/{len(data)}"
    tail = alice_client.get(f"{BASE}/content/scan.dcm", headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    beyond = alice_client.get(f"{BASE}/content/scan.dcm", headers={"Range": "bytes=999999-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    same = alice_client.get(f"{BASE}/content/scan.dcm", headers={"If-None-Match": f'"{version}"'})
    assert same.status_code == 304


def test_conditional_writes(alice_client: TestClient) -> None:
    first = alice_client.put(f"{BASE}/content/cr.txt", content=b"v1").json()["id"]
    second = alice_client.put(
        f"{BASE}/content/cr.txt", content=b"v2", headers={"If-Match": f'"{first}"'}
    )
    assert second.status_code == 200
    stale = alice_client.put(
        f"{BASE}/content/cr.txt", content=b"v3", headers={"If-Match": f'"{first}"'}
    )
    assert stale.status_code == 412
    exists = alice_client.put(
        f"{BASE}/content/cr.txt", content=b"v4", headers={"If-None-Match": "*"}
    )
    assert exists.status_code == 412
    assert alice_client.get(f"{BASE}/content/cr.txt").content == b"v2"


def test_tree_operations(alice_client: TestClient) -> None:
    assert alice_client.post(f"{BASE}/folders/Dossier DUPONT").status_code == 201
    assert (
        alice_client.put(f"{BASE}/content/Dossier DUPONT/cr.txt", content=b"x").status_code == 201
    )
    missing_parent = alice_client.put(f"{BASE}/content/nowhere/cr.txt", content=b"x")
    assert missing_parent.status_code == 409
    listing = alice_client.get(f"{BASE}/nodes/").json()
    assert [i["name"] for i in listing["items"]] == ["Dossier DUPONT"]
    moved = alice_client.post(
        f"{BASE}/move", json={"from": "Dossier DUPONT/cr.txt", "to": "cr.txt"}
    )
    assert moved.status_code == 200
    assert moved.json()["path"] == "/cr.txt"
    deleted = alice_client.delete(f"{BASE}/nodes/Dossier DUPONT")
    assert deleted.status_code == 200
    trash = alice_client.get(f"{BASE}/trash").json()
    assert [t["name"] for t in trash] == ["Dossier DUPONT"]
    restored = alice_client.post(f"{BASE}/trash/{trash[0]['id']}/restore")
    assert restored.status_code == 200
    assert restored.json()["path"] == "/Dossier DUPONT"


def test_versions_and_restore(alice_client: TestClient) -> None:
    v1 = alice_client.put(f"{BASE}/content/note.txt", content=b"one").json()["id"]
    alice_client.put(f"{BASE}/content/note.txt", content=b"two")
    versions = alice_client.get(f"{BASE}/versions/note.txt").json()
    assert [v["number"] for v in versions] == [2, 1]
    restored = alice_client.post(f"{BASE}/versions/note.txt/{v1}/restore")
    assert restored.status_code == 201
    assert restored.json()["restored_from"] == v1
    assert alice_client.get(f"{BASE}/content/note.txt").content == b"one"


def test_hidden_spaces_answer_404(svc: Services, alice_client: TestClient) -> None:
    from tests.vault_fixtures import SYSTEM

    svc.spaces.create(SYSTEM, "secret")
    hidden = alice_client.get("/api/v1/spaces/secret/nodes/")
    missing = alice_client.get("/api/v1/spaces/nope/nodes/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]


def test_bearer_tokens(alice_client: TestClient, app_client: TestClient) -> None:
    created = alice_client.post(
        "/api/v1/tokens", json={"name": "scanner", "scopes": ["files:read"], "expires_in_days": 7}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    alice_client.put(f"{BASE}/content/a.txt", content=b"a")
    bearer = TestClient(app_client.app)
    auth = {"Authorization": f"Bearer {secret}"}
    assert bearer.get(f"{BASE}/content/a.txt", headers=auth).content == b"a"
    # A read-only token cannot write, and needs no CSRF header (no cookie).
    assert bearer.put(f"{BASE}/content/b.txt", content=b"b", headers=auth).status_code == 403
    alice_client.delete(f"/api/v1/tokens/{created.json()['id']}")
    assert bearer.get(f"{BASE}/content/a.txt", headers=auth).status_code == 401


def test_idle_lock_and_unlock(alice_client: TestClient, clock: ManualClock) -> None:
    from tests.vault_fixtures import PASSWORD

    clock.advance(minutes=16)
    locked = alice_client.get("/api/v1/me")
    assert locked.status_code == 401
    assert locked.json()["type"] == "urn:egide:problem:session-locked"
    bad = alice_client.post("/api/v1/session/unlock", json={"password": "wrong password!"})
    assert bad.status_code == 401
    good = alice_client.post("/api/v1/session/unlock", json={"password": PASSWORD})
    assert good.status_code == 200
    assert alice_client.get("/api/v1/me").status_code == 200


def test_a_background_poll_never_keeps_an_idle_session_open(
    alice_client: TestClient, clock: ManualClock
) -> None:
    """The bell's poll (Egide-Activity: background) is answered but is no activity:
    the session still locks after 15 idle minutes. A request the user made is."""
    background = {"Egide-Activity": "background"}
    for _ in range(3):
        clock.advance(minutes=5)
        assert alice_client.get("/api/v1/notifications", headers=background).status_code == 200
    clock.advance(minutes=1)
    locked = alice_client.get("/api/v1/notifications", headers=background)
    assert locked.status_code == 401
    assert locked.json()["type"] == "urn:egide:problem:session-locked"


def test_the_users_own_requests_keep_the_session_open(
    alice_client: TestClient, clock: ManualClock
) -> None:
    for _ in range(4):
        clock.advance(minutes=5)
        assert alice_client.get("/api/v1/notifications").status_code == 200


def test_logout(alice_client: TestClient) -> None:
    assert alice_client.delete("/api/v1/session").status_code == 204
    assert alice_client.get("/api/v1/me").status_code == 401


def test_health_and_readiness(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    ready = app_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "blobstore": "ok", "keys": "ok"}


def test_head_gives_headers_without_body(alice_client: TestClient) -> None:
    version = alice_client.put(f"{BASE}/content/scan.dcm", content=b"0123456789").json()["id"]
    head = alice_client.head(f"{BASE}/content/scan.dcm")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "10"
    assert head.headers["etag"] == f'"{version}"'
    assert alice_client.head(f"{BASE}/content/missing.dcm").status_code == 404
