"""Containment over HTTP: 423 `principal-contained` on every door after an attack
through PUT, and the incidents API for administrators (issue 8, item 2)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import OutboxMail
from egide.services.access.policy import GlobalRole
from egide.services.registry import Services
from egide.web.app import create_app
from tests.core.ransomware.samples import SAMPLES, aes_ctr
from tests.vault_fixtures import PASSWORD, SYSTEM

BASE = "/api/v1/spaces/cardio"
TUS = {"Tus-Resumable": "1.0.0"}
CONTAINED = "urn:egide:problem:principal-contained"


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _admin(svc: Services) -> dict[str, str]:
    user = svc.accounts.create_user(
        SYSTEM, "admin", password=PASSWORD, email="admin@hopital.example", roles=[GlobalRole.ADMIN]
    )
    admin = svc.accounts.principal_for(user.id)
    _, secret = svc.accounts.create_token(admin, "incidents", ["admin"])
    return {"Authorization": f"Bearer {secret}"}


def _attack(client: TestClient, clock: ManualClock) -> int:
    names = sorted(SAMPLES)
    for name in names:
        assert client.put(f"{BASE}/content/{name}", content=SAMPLES[name]).status_code == 201
    for done, name in enumerate(names):
        clock.advance(seconds=1)
        response = client.put(f"{BASE}/content/{name}", content=aes_ctr(SAMPLES[name]))
        if response.status_code == 423:
            assert response.json()["type"] == CONTAINED
            return done
        assert response.status_code == 200, response.text
    raise AssertionError("never contained")


def test_an_attack_through_put_is_contained_on_every_door(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    headers = _admin(svc)
    assert _attack(alice_client, clock) == 3
    [incident] = svc.incidents.list(SYSTEM)
    assert incident.principal_kind == "session"
    refusals = [
        alice_client.put(f"{BASE}/content/new.txt", content=b"x"),
        alice_client.get(f"{BASE}/content/export.csv"),
        alice_client.post(f"{BASE}/move", json={"from": "export.csv", "to": "export.csv.lock"}),
        alice_client.delete(f"{BASE}/nodes/export.csv"),
        alice_client.post(
            "/api/v1/uploads",
            headers={
                **TUS,
                "Upload-Length": "3",
                "Upload-Metadata": metadata(space="cardio", filename="t.txt"),
            },
        ),
    ]
    for response in refusals:
        assert response.status_code == 423, response.text
        assert response.json()["type"] == CONTAINED
        assert incident.id in response.json()["detail"]
    # The incident as administrators see it, and the alert in the outbox.
    with TestClient(create_app(svc), headers={"Accept-Language": "en", **headers}) as admin:
        listed = admin.get("/api/v1/incidents", params={"status": "open"})
        assert listed.status_code == 200
        assert [i["id"] for i in listed.json()] == [incident.id]
        shown = admin.get(f"/api/v1/incidents/{incident.id}").json()
        assert shown["event_count"] == 3
        assert len(shown["events"]) == 3
        assert admin.get("/api/v1/incidents/nope").status_code == 404
        released = admin.post(f"/api/v1/incidents/{incident.id}/release")
        assert released.status_code == 200
        assert released.json()["status"] == "released"
        again = admin.post(f"/api/v1/incidents/{incident.id}/release")
        assert again.status_code == 409
    with svc.db.read() as session:
        assert session.scalar(select(OutboxMail.recipient)) == "admin@hopital.example"
    # Released: the same session works again.
    assert alice_client.get(f"{BASE}/content/export.csv").status_code == 200
    assert alice_client.put(f"{BASE}/content/new.txt", content=b"x").status_code == 201


def test_a_tus_upload_in_progress_is_refused_after_containment(
    svc: Services, alice_client: TestClient, clock: ManualClock
) -> None:
    created = alice_client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            "Upload-Length": "10",
            "Upload-Metadata": metadata(space="cardio", filename="big.txt"),
        },
    )
    assert created.status_code == 201, created.text
    _attack(alice_client, clock)
    resumed = alice_client.patch(
        created.headers["location"],
        content=b"0123456789",
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert resumed.status_code == 423
    assert resumed.json()["type"] == CONTAINED


def test_plain_users_cannot_read_or_release_incidents(
    svc: Services, alice_client: TestClient
) -> None:
    assert alice_client.get("/api/v1/incidents").status_code == 403
    assert alice_client.post("/api/v1/incidents/x/release").status_code == 403
