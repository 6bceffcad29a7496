"""What the web door seals beside each audit event: client, purpose, path, role (issue 4)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.db.models import AuditContext, AuditEvent
from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM

BASE = "/api/v1/spaces/cardio"


def _events(svc: Services, action: str) -> list[AuditEvent]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.created_at, AuditEvent.id)
            )
        )


def test_a_download_is_one_read_event_with_its_purpose_and_client(
    svc: Services, alice_client: TestClient
) -> None:
    assert alice_client.put(f"{BASE}/content/Dupont Jean.pdf", content=b"%PDF" * 5000).is_success
    response = alice_client.get(
        f"{BASE}/content/Dupont Jean.pdf",
        headers={"Egide-Purpose": "care", "Range": "bytes=0-99", "User-Agent": "Poste IDE 3"},
    )
    assert response.status_code == 206
    (read,) = _events(svc, "file.read")
    assert read.outcome == "allowed"
    context = svc.audit.open_context(read.id)
    assert context is not None
    assert context["purpose"] == "care"
    assert context["client"] == {"address": "testclient", "user_agent": "Poste IDE 3"}
    assert context["path"] == "/Dupont Jean.pdf"
    assert context["role"] == "contributor"
    assert context["channel"] == "session"
    assert context["request_id"] == response.headers["X-Request-Id"]
    # The leaf side holds ids only; the sealed side holds no plain text.
    assert "Dupont" not in read.target + read.details
    with svc.db.read() as session:
        sealed = session.get_one(AuditContext, read.id).sealed
    for text in (b"Dupont", b"Poste IDE", b"care", b"testclient"):
        assert text not in sealed


def test_a_head_request_reads_no_content_and_records_no_read(
    svc: Services, alice_client: TestClient
) -> None:
    assert alice_client.put(f"{BASE}/content/a.txt", content=b"abc").is_success
    assert alice_client.head(f"{BASE}/content/a.txt").status_code == 200
    assert _events(svc, "file.read") == []


def test_an_unknown_purpose_is_refused_with_the_choices(alice_client: TestClient) -> None:
    response = alice_client.get(f"{BASE}/nodes", headers={"Egide-Purpose": "curiosity"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("invalid-purpose")
    assert "care, administration, emergency" in body["detail"]


def test_a_refused_read_is_recorded_with_its_client(
    svc: Services, alice_client: TestClient, app_client: TestClient
) -> None:
    assert alice_client.put(f"{BASE}/content/a.txt", content=b"abc").is_success
    svc.accounts.create_user(SYSTEM, "mallory", password=PASSWORD)
    with TestClient(app_client.app, headers={"Accept-Language": "en"}) as other:
        login = other.post(
            "/api/v1/session",
            json={"username": "mallory", "password": PASSWORD},
        )
        assert login.status_code == 200
        assert other.get(f"{BASE}/content/a.txt").status_code == 404
    (denied,) = [e for e in _events(svc, "file.read") if e.outcome == "denied"]
    assert json.loads(denied.details) == {"reason": "not-found"}
    context = svc.audit.open_context(denied.id)
    assert context is not None
    assert context["client"]["address"] == "testclient"


def test_the_purpose_header_is_in_the_contract_of_every_authenticated_operation(
    app_client: TestClient,
) -> None:
    paths = app_client.get("/api/v1/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            authenticated = "security" in operation
            assert ("Egide-Purpose" in names) == authenticated, (method, path)
