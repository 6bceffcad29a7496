"""Antivirus at the HTTP door, in process, with a real clamd (docs/antivirus.md):
PUT and tus refuse an infected file with 422 `file-infected` naming the
signature, in English and French; a held file answers 423 to everyone but
its uploader; the versions listing shows each version's `scan` state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egide.core.config import Settings
from egide.core.db.models import Upload, UploadPart
from egide.services.registry import Services
from egide.web.app import create_app
from tests.clamd import EICAR, MARKER, ClamdServer
from tests.vault_fixtures import PASSWORD, SYSTEM
from tests.web.test_uploads import create, patch


@pytest.fixture
def clamd() -> Iterator[ClamdServer]:
    server = ClamdServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def vault_settings(settings: Settings, clamd: ClamdServer) -> Settings:
    return settings.with_overrides(segment_size=4096, clamd_address=clamd.address)


def test_put_of_eicar_is_422_naming_the_signature(alice_client: TestClient) -> None:
    response = alice_client.put("/api/v1/spaces/cardio/content/ordonnance.pdf", content=EICAR)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:egide:problem:file-infected"
    assert "Test.Eicar.UNOFFICIAL" in body["detail"]
    assert "not saved" in body["detail"]
    french = alice_client.put(
        "/api/v1/spaces/cardio/content/ordonnance.pdf",
        content=EICAR,
        headers={"Accept-Language": "fr"},
    )
    assert french.status_code == 422
    assert "Test.Eicar.UNOFFICIAL" in french.json()["detail"]
    assert "menace" in french.json()["detail"]
    assert alice_client.get("/api/v1/spaces/cardio/content/ordonnance.pdf").status_code == 404


def test_a_clean_put_shows_its_scan_state(alice_client: TestClient) -> None:
    response = alice_client.put("/api/v1/spaces/cardio/content/cr.txt", content=b"RAS")
    assert response.status_code == 201, response.text
    assert response.json()["scan"] == "clean"
    versions = alice_client.get("/api/v1/spaces/cardio/versions/cr.txt").json()
    assert [v["scan"] for v in versions] == ["clean"]


def test_tus_completion_of_an_infected_file_is_422_and_drops_the_parts(
    svc: Services, alice_client: TestClient
) -> None:
    body = b"\0" * 100_000 + MARKER + b"\0" * 100_000
    url = create(alice_client, len(body), space="cardio", path="serie.dcm")
    assert patch(alice_client, url, 0, body[:100_010]).status_code == 204
    last = patch(alice_client, url, 100_010, body[100_010:])
    assert last.status_code == 422, last.text
    assert last.json()["type"] == "urn:egide:problem:file-infected"
    assert "Egide.Test.Marker.UNOFFICIAL" in last.json()["detail"]
    with svc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(UploadPart)) == 0
        assert session.scalar(select(func.count()).select_from(Upload)) == 0


def test_a_held_file_is_423_for_others_200_for_its_uploader(
    svc: Services, clamd: ClamdServer, alice_client: TestClient
) -> None:
    clamd.stop()
    response = alice_client.put("/api/v1/spaces/cardio/content/cr.txt", content=b"RAS")
    assert response.status_code == 201, response.text
    assert response.json()["scan"] == "pending"
    assert alice_client.get("/api/v1/spaces/cardio/content/cr.txt").content == b"RAS"
    svc.accounts.create_user(SYSTEM, "bob", password=PASSWORD)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    with TestClient(create_app(svc), headers={"Accept-Language": "en"}) as bob:
        signed = bob.post("/api/v1/session", json={"username": "bob", "password": PASSWORD})
        assert signed.status_code == 200
        held = bob.get("/api/v1/spaces/cardio/content/cr.txt")
        assert held.status_code == 423, held.text
        assert held.json()["type"] == "urn:egide:problem:file-awaiting-scan"
        assert "not been scanned" in held.json()["detail"]
        clamd.start()
        assert svc.antivirus.rescan(SYSTEM, held_only=True).clean == 1
        assert bob.get("/api/v1/spaces/cardio/content/cr.txt").content == b"RAS"


def test_a_large_upload_is_answered_before_its_verdict_then_quarantined(
    svc: Services, alice_client: TestClient
) -> None:
    # Over antivirus_wait_max_bytes (ADR 29): stored pending at the last PATCH,
    # the verdict of the same scan quarantines it moments later.
    assert svc.files.scanner is not None
    svc.files.scanner.wait_max_bytes = 64 * 1024
    body = b"\0" * 100_000 + MARKER + b"\0" * 100_000
    url = create(alice_client, len(body), space="cardio", path="serie.dcm")
    assert patch(alice_client, url, 0, body[:100_010]).status_code == 204
    assert patch(alice_client, url, 100_010, body[100_010:]).status_code == 204
    assert svc.antivirus.drain(60)
    versions = alice_client.get("/api/v1/spaces/cardio/versions/serie.dcm").json()
    assert [v["scan"] for v in versions] == ["infected"]
    held = alice_client.get("/api/v1/spaces/cardio/content/serie.dcm")
    assert held.status_code == 423, held.text
    assert held.json()["type"] == "urn:egide:problem:file-quarantined"
    assert "Egide.Test.Marker.UNOFFICIAL" in held.json()["detail"]
    clean = alice_client.put("/api/v1/spaces/cardio/content/irm.dcm", content=bytes(200_000))
    assert clean.status_code == 201, clean.text
    assert clean.json()["scan"] == "pending"
    assert svc.antivirus.drain(60)
    assert alice_client.get("/api/v1/spaces/cardio/versions/irm.dcm").json()[0]["scan"] == "clean"
