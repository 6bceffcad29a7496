"""Bad input at the HTTP door: the documented status, a clear message, nothing left behind."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM

BASE = "/api/v1/spaces/cardio"


def blob_count(svc: Services) -> int:
    return sum(1 for _ in svc.blobs.iter_blobs()) + svc.blobs.count_partials()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # httpx removes literal dot segments before sending, as browsers do; a raw
        # request's ".." reaches the server percent-encoded, like these.
        ("%2e%2e/secret.txt", 400),
        ("dossier/%2E%2E/%2E%2E/b.txt", 400),
        ("%2e/b.txt", 400),
        ("nul%00byte.txt", 400),
        ("tab%09name.txt", 400),
        ("é" * 200 + ".txt", 400),
    ],
)
def test_bad_paths_are_refused(
    alice_client: TestClient, svc: Services, path: str, status: int
) -> None:
    response = alice_client.put(f"{BASE}/content/{path}", content=b"data")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "name"
    assert blob_count(svc) == 0


def test_an_encoded_slash_is_a_path_separator(alice_client: TestClient) -> None:
    # API.md: the path is percent-decoded, then split on "/": a name never holds one.
    response = alice_client.put(f"{BASE}/content/dossier%2Fcr.txt", content=b"x")
    assert response.status_code == 409  # folder "dossier" does not exist
    assert alice_client.post(f"{BASE}/folders/dossier").status_code == 201
    assert alice_client.put(f"{BASE}/content/dossier%2Fcr.txt", content=b"x").status_code == 201
    assert alice_client.get(f"{BASE}/content/dossier/cr.txt").content == b"x"


def test_body_over_the_quota(alice_client: TestClient, svc: Services) -> None:
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=1000)
    declared = alice_client.put(f"{BASE}/content/big.bin", content=b"x" * 2000)
    assert declared.status_code == 413
    assert "quota" in declared.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: detected while streaming
        for _ in range(4):
            yield b"y" * 400

    streamed = alice_client.put(f"{BASE}/content/big.bin", content=chunked())
    assert streamed.status_code == 413
    assert blob_count(svc) == 0
    assert alice_client.get(f"{BASE}/nodes/").json()["items"] == []


def test_a_truncated_upload_leaves_nothing(alice_client: TestClient, svc: Services) -> None:
    def broken() -> Iterator[bytes]:
        yield b"z" * 100_000
        raise ConnectionResetError("client vanished")

    with pytest.raises(ConnectionResetError):
        alice_client.put(f"{BASE}/content/cut.bin", content=broken())
    assert blob_count(svc) == 0
    assert alice_client.get(f"{BASE}/nodes/").json()["items"] == []


def test_missing_csrf_header(alice_client: TestClient, svc: Services) -> None:
    del alice_client.headers["X-CSRF-Token"]
    response = alice_client.put(f"{BASE}/content/a.txt", content=b"a")
    assert response.status_code == 403
    assert response.json()["type"] == "urn:egide:problem:csrf"
    assert blob_count(svc) == 0


def test_expired_and_revoked_tokens(
    alice_client: TestClient, app_client: TestClient, clock: ManualClock
) -> None:
    short = alice_client.post(
        "/api/v1/tokens", json={"name": "t", "scopes": ["files:read"], "expires_in_days": 1}
    ).json()
    revoked = alice_client.post(
        "/api/v1/tokens", json={"name": "r", "scopes": ["files:read"], "expires_in_days": 30}
    ).json()
    alice_client.delete(f"/api/v1/tokens/{revoked['id']}")
    clock.advance(days=1, seconds=1)
    plain = TestClient(app_client.app)
    for token in (short["secret"], revoked["secret"], "egd_garbage", "not-a-token"):
        response = plain.get(f"{BASE}/nodes/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert "invalid, expired or revoked" in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_concurrent_writes_to_one_file(alice_client: TestClient, svc: Services) -> None:
    base = alice_client.put(f"{BASE}/content/shared.txt", content=b"v1").json()["id"]
    statuses: list[int] = []

    def edit(i: int) -> None:
        response = alice_client.put(
            f"{BASE}/content/shared.txt", content=b"edit %d" % i, headers={"If-Match": f'"{base}"'}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 412, 412, 412]
    assert len(alice_client.get(f"{BASE}/versions/shared.txt").json()) == 2
    assert blob_count(svc) == 2


def test_invalid_json_and_fields(alice_client: TestClient) -> None:
    bad = alice_client.post(f"{BASE}/move", json={"from": "a"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "to"
    nonsense = alice_client.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert nonsense.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "neuro", "quota_bytes": True}, "quota_bytes"),  # not taken for 1
        ({"slug": "neuro", "quota_bytes": "5"}, "quota_bytes"),
        ({"slug": "neuro", "quota_bytes": 1 << 65}, "quota_bytes"),  # beyond a 64-bit column
        ({"slug": "neuro", "quota": 5}, "quota"),  # a misspelt option is not ignored
        ({"slug": "Neuro!"}, "slug"),
    ],
)
def test_space_bodies_are_checked_strictly(
    svc: Services, app_client: TestClient, body: dict[str, object], field: str
) -> None:
    svc.accounts.create_user(SYSTEM, "root", password=PASSWORD, roles=["admin"])
    signed = app_client.post("/api/v1/session", json={"username": "root", "password": PASSWORD})
    app_client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    refused = app_client.post("/api/v1/spaces", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == field
    assert svc.spaces.list_spaces(SYSTEM) == []


def test_member_roles_are_an_enumeration(alice_client: TestClient, svc: Services) -> None:
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "manager")
    refused = alice_client.put(f"{BASE}/members/user:alice", json={"role": "owner"})
    assert refused.status_code == 400
    assert refused.json()["field"] == "role"


def test_session_expiry_is_reported(alice_client: TestClient, clock: ManualClock) -> None:
    started = clock.now()
    while clock.now() - started < dt.timedelta(hours=12):
        assert alice_client.get("/api/v1/me").status_code == 200  # busy all day
        clock.advance(minutes=14)
    response = alice_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["type"] == "urn:egide:problem:session-expired"
    # The session is over for good: the next request is simply not signed in.
    assert alice_client.get("/api/v1/me").json()["type"] == "urn:egide:problem:unauthenticated"
