"""Roll-backs over HTTP (issue 8, item 3): an attack through PUT undone by
`POST /incidents/{id}/restore`, a space put back by `POST /spaces/{space}/restore`."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.services.access.policy import GlobalRole
from egide.services.registry import Services
from egide.web.app import create_app
from tests.core.ransomware.samples import SAMPLES, aes_ctr
from tests.vault_fixtures import PASSWORD, SYSTEM
from tests.web.test_incidents import BASE, _admin, _attack


def _space_admin(svc: Services) -> dict[str, str]:
    """An administrator's token that may write files (`space.restore` needs files:write)."""
    user = svc.accounts.create_user(SYSTEM, "root", password=PASSWORD, roles=[GlobalRole.ADMIN])
    admin = svc.accounts.principal_for(user.id)
    _, secret = svc.accounts.create_token(admin, "restore", ["admin", "files:write"])
    return {"Authorization": f"Bearer {secret}"}


def _sha(client: TestClient, name: str) -> str:
    response = client.get(f"{BASE}/content/{name}")
    assert response.status_code == 200, response.text
    return hashlib.sha256(response.content).hexdigest()


def test_an_incident_is_rolled_back_over_http(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    headers = _admin(svc)
    assert _attack(alice_client, clock) == 3
    [incident] = svc.incidents.list(SYSTEM)
    with TestClient(create_app(svc), headers={"Accept-Language": "en", **headers}) as admin:
        url = f"/api/v1/incidents/{incident.id}/restore"
        dry = admin.post(url, params={"dry_run": "true"})
        assert dry.status_code == 200, dry.text
        assert dry.json() == {
            "restored": 3,
            "undeleted": 0,
            "renamed_back": 0,
            "skipped": 0,
            "conflicts": [],
        }
        done = admin.post(url)
        assert done.json() == dry.json()
        again = admin.post(url).json()
        assert again["restored"] == 0
        assert again["skipped"] == 3
        shown = admin.get(f"/api/v1/incidents/{incident.id}").json()
        assert shown["restored_at"] is not None
        assert shown["status"] == "open"
        assert admin.post(f"/api/v1/incidents/{incident.id}/release").status_code == 200
    for name, data in SAMPLES.items():
        assert _sha(alice_client, name) == hashlib.sha256(data).hexdigest(), name


def test_only_incident_managers_may_roll_back(svc: Services, alice_client: TestClient) -> None:
    response = alice_client.post("/api/v1/incidents/x/restore")
    assert response.status_code == 403


def test_a_space_is_put_back_at_an_instant_over_http(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    headers = _space_admin(svc)
    assert alice_client.put(f"{BASE}/content/a.txt", content=b"first").status_code == 201
    clock.advance(minutes=1)
    at = clock.now().isoformat()
    clock.advance(minutes=1)
    assert alice_client.put(f"{BASE}/content/a.txt", content=b"second").status_code == 200
    assert alice_client.put(f"{BASE}/content/b.txt", content=b"new").status_code == 201
    moved = alice_client.post(f"{BASE}/move", json={"from": "a.txt", "to": "c.txt"})
    assert moved.status_code == 200
    clock.advance(minutes=1)
    # A contributor may not rewind the space; a malformed instant says what to give.
    refused = alice_client.post(f"{BASE}/restore", json={"at": at})
    assert refused.status_code == 403
    with TestClient(create_app(svc), headers={"Accept-Language": "en", **headers}) as admin:
        bad = admin.post(f"{BASE}/restore", json={"at": "yesterday"})
        assert bad.status_code == 400
        naive = admin.post(f"{BASE}/restore", json={"at": "2026-03-02T09:00:00"})
        assert naive.status_code == 400
        assert "time zone" in naive.json()["detail"]
        done = admin.post(f"{BASE}/restore", json={"at": at, "path": ""})
        assert done.status_code == 200, done.text
        assert done.json() == {
            "restored": 1,
            "undeleted": 0,
            "renamed_back": 1,
            "trashed": 1,
            "skipped": 0,
            "conflicts": [],
        }
        assert admin.post(f"{BASE}/restore", json={"at": at}).json()["skipped"] == 1
    assert alice_client.get(f"{BASE}/content/a.txt").content == b"first"
    assert alice_client.get(f"{BASE}/content/b.txt").status_code == 404
    trash = alice_client.get(f"{BASE}/trash").json()
    assert [t["name"] for t in trash] == ["b.txt"]


def test_encrypted_content_is_restored_byte_for_byte(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    headers = _space_admin(svc)
    data = SAMPLES[sorted(SAMPLES)[0]]
    assert alice_client.put(f"{BASE}/content/doc", content=data).status_code == 201
    clock.advance(minutes=1)
    at = clock.now().isoformat()
    clock.advance(minutes=1)
    assert alice_client.put(f"{BASE}/content/doc", content=aes_ctr(data)).status_code == 200
    with TestClient(create_app(svc), headers={"Accept-Language": "en", **headers}) as admin:
        answer = admin.post(f"{BASE}/restore", json={"at": at})
        assert answer.json()["restored"] == 1, answer.text
    assert _sha(alice_client, "doc") == hashlib.sha256(data).hexdigest()


def test_a_contained_user_gets_423_on_every_other_door(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    assert alice_client.put(f"{BASE}/content/keep.txt", content=b"v1").status_code == 201
    assert alice_client.put(f"{BASE}/content/keep.txt", content=b"v2").status_code == 200
    [first, _] = sorted(
        alice_client.get(f"{BASE}/versions/keep.txt").json(), key=lambda v: v["number"]
    )
    assert alice_client.put(f"{BASE}/content/gone.txt", content=b"x").status_code == 201
    item = alice_client.delete(f"{BASE}/nodes/gone.txt").json()["id"]
    _attack(alice_client, clock)  # the delete above counts too: contained within 3
    [incident] = svc.incidents.list(SYSTEM)
    refusals = [
        alice_client.post(f"{BASE}/folders/new"),
        alice_client.post(f"{BASE}/versions/keep.txt/{first['id']}/restore"),
        alice_client.post(f"{BASE}/trash/{item}/restore"),
        alice_client.put(f"{BASE}/members/user:alice", json={"role": "reader"}),
        alice_client.delete(f"{BASE}/members/user:alice"),
        alice_client.post(f"{BASE}/restore", json={"at": clock.now().isoformat()}),
    ]
    for response in refusals:
        assert response.status_code == 423, response.text
        assert incident.id in response.json()["detail"]
