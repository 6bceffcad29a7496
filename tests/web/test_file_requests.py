"""File requests over HTTP (issue 7, item 3; ADR 25): made by a user, filled by a recipient
without an account (codes read from a real SMTP server); every refusal before storing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.registry import Services
from tests.mail_fixtures import mailing_settings
from tests.services.mail.smtp_server import SmtpServer
from tests.services.sharing.helpers import mailed_code
from tests.vault_fixtures import SYSTEM

LAB = "resultats@labo.example"


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """Mailing through `smtp` (`smtp` and `recipient` are in tests/mail_fixtures.py)."""
    return mailing_settings(settings, smtp, smtp_from="egide@hopital.example")


@pytest.fixture
def folder(alice_client: TestClient) -> None:
    assert alice_client.post("/api/v1/spaces/cardio/folders/dupont").status_code == 201
    put = alice_client.put("/api/v1/spaces/cardio/content/dupont/bilan.pdf", content=b"ancien")
    assert put.status_code == 201, put.text


def _request(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("recipients", [LAB])
    made = client.post("/api/v1/spaces/cardio/links/dupont", json={"kind": "request", **body})
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


def _verify(client: TestClient, svc: Services, smtp: SmtpServer, token: str) -> None:
    assert client.post(f"/api/v1/links/{token}/verify", json={"email": LAB}).status_code == 202
    code = mailed_code(svc, smtp, LAB)
    confirmed = client.post(
        f"/api/v1/links/{token}/verify/confirm", json={"email": LAB, "code": code}
    )
    assert confirmed.status_code == 200, confirmed.text


def _names(alice_client: TestClient) -> list[str]:
    listed = alice_client.get("/api/v1/spaces/cardio/nodes/dupont")
    assert listed.status_code == 200, listed.text
    return sorted(item["name"] for item in listed.json()["items"])


def test_a_lab_sends_files_and_sees_nothing_of_the_folder(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, folder: None
) -> None:
    made = _request(alice_client, max_file_bytes=100, max_total_bytes=1000, max_files=5)
    assert (made["kind"], made["max_file_bytes"], made["max_files"]) == ("request", 100, 5)
    token = made["token"]
    base = f"/api/v1/links/{token}"
    assert recipient.get(base).json()["needs"] == ["verification"]
    put = recipient.put(f"{base}/files/cr.pdf", content=b"x")
    assert put.status_code == 401
    _verify(recipient, svc, smtp, token)

    view = recipient.get(base).json()
    assert view["kind"] == "request"
    assert view["name"] is None
    assert view["files"] == []
    assert "bilan" not in recipient.get(base).text
    assert (view["max_file_bytes"], view["bytes_left"], view["files_left"]) == (100, 1000, 5)

    sent = recipient.put(f"{base}/files/compte-rendu.pdf", content=b"resultats")
    assert sent.status_code == 201, sent.text
    assert sent.json() == {"name": "compte-rendu.pdf", "size": 9}
    assert sent.headers["referrer-policy"] == "no-referrer"
    # A name already there: stored under another, and the answer does not tell.
    again = recipient.put(f"{base}/files/bilan.pdf", content=b"nouveau")
    assert again.status_code == 201
    assert again.json() == {"name": "bilan.pdf", "size": 7}
    assert _names(alice_client) == ["bilan (2).pdf", "bilan.pdf", "compte-rendu.pdf"]
    old = alice_client.get("/api/v1/spaces/cardio/content/dupont/bilan.pdf")
    assert old.content == b"ancien"

    # Nothing to download through a request.
    assert recipient.get(f"{base}/content/bilan.pdf").status_code == 404
    assert recipient.get(f"{base}/zip").status_code == 404

    listed = alice_client.get("/api/v1/spaces/cardio/links/dupont").json()
    assert (listed[0]["received_files"], listed[0]["received_bytes"]) == (2, 16)


def test_over_size_and_lying_bodies_are_refused_and_nothing_is_stored(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, folder: None
) -> None:
    token = _request(alice_client, max_file_bytes=10, max_total_bytes=20)["token"]
    base = f"/api/v1/links/{token}"
    _verify(recipient, svc, smtp, token)
    big = recipient.put(f"{base}/files/gros.pdf", content=b"x" * 11)
    assert big.status_code == 413
    assert big.json()["type"].endswith("request-too-large")
    # A client announcing 5 bytes and sending 50: cut off, nothing kept.
    liar = recipient.put(
        f"{base}/files/menteur.pdf", content=b"y" * 50, headers={"Content-Length": "5"}
    )
    assert liar.status_code == 413, liar.text

    # No length at all: refused before reading.
    def chunks() -> Iterator[bytes]:
        yield b"z" * 5

    unknown = recipient.put(f"{base}/files/inconnu.pdf", content=chunks())
    assert unknown.status_code == 411
    assert _names(alice_client) == ["bilan.pdf"]
    assert recipient.get(base).json()["bytes_left"] == 20


def test_closed_requests_answer_the_neutral_404(
    svc: Services,
    alice_client: TestClient,
    recipient: TestClient,
    folder: None,
    clock: ManualClock,
) -> None:
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    revoked = _request(alice_client, recipients=[], require_verification=False)
    assert alice_client.delete(f"/api/v1/links/id/{revoked['id']}").status_code == 204
    expiring = _request(alice_client, recipients=[], require_verification=False)  # 7 days
    clock.advance(days=8)
    bodies = set()
    for token in (revoked["token"], expiring["token"], "x" * 43):
        answer = recipient.put(f"/api/v1/links/{token}/files/a.pdf", content=b"1")
        assert answer.status_code == 404
        bodies.add(answer.json()["detail"])
    assert len(bodies) == 1


def test_guessed_upload_tokens_are_throttled(
    svc: Services, alice_client: TestClient, recipient: TestClient, folder: None
) -> None:
    token = _request(alice_client)["token"]
    for n in range(svc.settings.login_address_free_failures + 1):
        guessed = recipient.put(f"/api/v1/links/guess{n:040d}/files/a.pdf", content=b"1")
        assert guessed.status_code == 404
    blocked = recipient.put(f"/api/v1/links/{token}/files/a.pdf", content=b"1")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert _names(alice_client) == ["bilan.pdf"]
