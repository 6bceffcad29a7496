"""External links over HTTP (issue 7): made by a user, opened by a recipient without an
account through a real SMTP server, managed and revoked; every "Bad input" row."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.access.policy import GlobalRole
from egide.services.registry import Services
from egide.web.app import create_app
from tests.mail_fixtures import mailing_settings
from tests.services.mail.smtp_server import SmtpServer
from tests.services.sharing.helpers import mailed_code
from tests.vault_fixtures import PASSWORD, SYSTEM

DURAND = "dr.durand@clinique.example"
LINK_PASSWORD = "sept chevaux bleus au galop"
ECHO = bytes(range(256)) * 100


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """Mailing through `smtp` (`smtp` and `recipient` are in tests/mail_fixtures.py)."""
    return mailing_settings(settings, smtp, smtp_from="egide@hopital.example")


@pytest.fixture
def echo(alice_client: TestClient) -> None:
    put = alice_client.put("/api/v1/spaces/cardio/content/dupont/echo.pdf", content=ECHO)
    if put.status_code == 409:  # the folder first
        alice_client.post("/api/v1/spaces/cardio/folders/dupont")
        put = alice_client.put("/api/v1/spaces/cardio/content/dupont/echo.pdf", content=ECHO)
    assert put.status_code == 201, put.text


def _make(client: TestClient, path: str = "dupont/echo.pdf", **body: Any) -> dict[str, Any]:
    body.setdefault("recipients", [DURAND])
    made = client.post(f"/api/v1/spaces/cardio/links/{path}", json=body)
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


def _verify(recipient: TestClient, svc: Services, smtp: SmtpServer, token: str) -> None:
    assert (
        recipient.post(f"/api/v1/links/{token}/verify", json={"email": DURAND}).status_code == 202
    )
    code = mailed_code(svc, smtp, DURAND)
    confirmed = recipient.post(
        f"/api/v1/links/{token}/verify/confirm", json={"email": DURAND, "code": code}
    )
    assert confirmed.status_code == 200, confirmed.text


def test_the_whole_journey_of_a_protected_link(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, echo: None
) -> None:
    made = _make(alice_client, password=LINK_PASSWORD, max_downloads=3)
    token = made["token"]
    assert made["url"] == f"https://egide.hopital.example/links/{token}"
    assert made["has_password"]
    assert made["require_verification"]
    base = f"/api/v1/links/{token}"

    first = recipient.get(base)
    assert first.status_code == 200
    assert first.json()["needs"] == ["password", "verification"]
    assert first.json()["files"] == []
    assert first.json()["sender"] is None
    assert "echo" not in first.text
    assert first.headers["referrer-policy"] == "no-referrer"

    assert recipient.post(f"{base}/password", json={"password": "non"}).status_code == 401
    right = recipient.post(f"{base}/password", json={"password": LINK_PASSWORD})
    assert right.status_code == 200
    cookie = right.headers["set-cookie"]
    assert "egide_link=" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/api/v1/links/" in cookie
    assert "SameSite=strict" in cookie
    assert right.json()["needs"] == ["verification"]

    # The same answer whether or not the address is a recipient: nothing to probe.
    other = recipient.post(f"{base}/verify", json={"email": "curieux@ailleurs.example"})
    mine = recipient.post(f"{base}/verify", json={"email": DURAND})
    assert (other.status_code, other.json()) == (mine.status_code, mine.json())
    assert mine.status_code == 202
    code = mailed_code(svc, smtp, DURAND)
    assert [r.rcpt_tos for r in smtp.received] == [[DURAND]]
    mail = smtp.received[0].message
    assert mail["Content-Language"] == "fr"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "un document" in body.get_content()
    confirmed = recipient.post(f"{base}/verify/confirm", json={"email": DURAND, "code": code})
    assert confirmed.status_code == 200
    assert confirmed.json()["needs"] == []

    opened = recipient.get(base).json()
    assert (opened["kind"], opened["name"], opened["sender"]) == ("file", "echo.pdf", "alice")
    assert opened["files"] == [{"path": "echo.pdf", "name": "echo.pdf", "size": len(ECHO)}]
    assert opened["downloads_left"] == 3
    assert opened["verified_email"] == DURAND

    whole = recipient.get(f"{base}/content/echo.pdf")
    assert whole.status_code == 200
    assert whole.content == ECHO
    assert whole.headers["content-disposition"].startswith("attachment;")
    part = recipient.get(f"{base}/content/echo.pdf", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == ECHO[100:200]
    assert recipient.get(f"{base}/content/echo.pdf").status_code == 200
    # Three downloads allowed, three made: the link is spent, and says so like any other.
    assert recipient.get(f"{base}/content/echo.pdf").status_code == 404
    assert recipient.get(base).status_code == 404

    listed = alice_client.get("/api/v1/spaces/cardio/links/dupont/echo.pdf").json()
    assert [(x["downloads"], x["opens"], x["state"]) for x in listed] == [(3, 1, "exhausted")]
    assert "token" not in listed[0]


def test_a_folder_link_downloads_as_a_streamed_zip(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, echo: None
) -> None:
    files = {"echo.pdf": ECHO, "irm/coupe 1.dcm": b"\x00\x01" * 30000, "vide.txt": b""}
    alice_client.post("/api/v1/spaces/cardio/folders/dupont/irm")
    for path, data in files.items():
        alice_client.put(f"/api/v1/spaces/cardio/content/dupont/{path}", content=data)
    token = _make(alice_client, "dupont")["token"]
    _verify(recipient, svc, smtp, token)

    with recipient.stream("GET", f"/api/v1/links/{token}/zip") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/zip"
        assert 'filename="dupont.zip"' in answer.headers["content-disposition"]
        body = b"".join(answer.iter_bytes())
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == files
    one = recipient.get(f"/api/v1/links/{token}/content/irm/coupe 1.dcm")
    assert one.content == files["irm/coupe 1.dcm"]


@pytest.mark.usefixtures("echo")
def test_expired_revoked_exhausted_and_guessed_links_answer_the_same_404(
    svc: Services,
    alice_client: TestClient,
    recipient: TestClient,
    smtp: SmtpServer,
    clock: ManualClock,
) -> None:
    expiring = _make(alice_client, expires_at=(clock.now() + dt.timedelta(hours=1)).isoformat())
    revoked = _make(alice_client)
    exhausted = _make(alice_client, max_downloads=1)
    _verify(recipient, svc, smtp, revoked["token"])
    assert recipient.get(f"/api/v1/links/{revoked['token']}").json()["needs"] == []
    assert alice_client.delete(f"/api/v1/links/id/{revoked['id']}").status_code == 204
    _verify(recipient, svc, smtp, exhausted["token"])
    assert recipient.get(f"/api/v1/links/{exhausted['token']}/content/echo.pdf").status_code == 200
    clock.advance(hours=2)

    answers = [
        recipient.get(f"/api/v1/links/{token}")
        for token in (expiring["token"], revoked["token"], exhausted["token"], "A" * 43)
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({(a.json()["type"], a.json()["detail"]) for a in answers}) == 1
    # Revoked: the session opened before is refused at once too.
    got = recipient.get(f"/api/v1/links/{revoked['token']}/content/echo.pdf")
    assert got.status_code == 404


def test_guessing_tokens_is_throttled(
    svc: Services, alice_client: TestClient, recipient: TestClient, echo: None
) -> None:
    token = _make(alice_client)["token"]
    for n in range(svc.settings.login_address_free_failures + 1):
        assert recipient.get(f"/api/v1/links/guess{n:040d}").status_code == 404
    blocked = recipient.get(f"/api/v1/links/{token}")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1


def test_wrong_passwords_and_codes_are_throttled(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, echo: None
) -> None:
    token = _make(alice_client, password=LINK_PASSWORD)["token"]
    base = f"/api/v1/links/{token}"
    statuses = [
        recipient.post(f"{base}/password", json={"password": f"faux {n}"}).status_code
        for n in range(svc.settings.login_free_failures + 2)
    ]
    assert statuses[:-1] == [401] * (len(statuses) - 1)
    assert statuses[-1] == 429
    assert recipient.post(f"{base}/password", json={"password": LINK_PASSWORD}).status_code == 429

    other = _make(alice_client)["token"]
    recipient.post(f"/api/v1/links/{other}/verify", json={"email": DURAND})
    code = mailed_code(svc, smtp, DURAND)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = [
        recipient.post(
            f"/api/v1/links/{other}/verify/confirm", json={"email": DURAND, "code": wrong}
        ).status_code
        for _ in range(svc.settings.login_free_failures + 2)
    ]
    assert 401 in answers
    assert answers[-1] == 429


def test_mail_headers_cannot_be_injected(
    alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, echo: None
) -> None:
    injected = "dr.durand@clinique.example\r\nBcc: tout-le-monde@ailleurs.example"
    made = alice_client.post(
        "/api/v1/spaces/cardio/links/dupont/echo.pdf", json={"recipients": [injected]}
    )
    assert made.status_code == 400
    assert made.json()["field"] == "recipients"
    token = _make(alice_client)["token"]
    asked = recipient.post(f"/api/v1/links/{token}/verify", json={"email": injected})
    assert asked.status_code == 400
    assert asked.json()["field"] == "email"
    named = recipient.post(
        f"/api/v1/links/{token}/verify", json={"email": "Durand <dr.durand@clinique.example>"}
    )
    assert named.status_code == 400
    assert smtp.received == []


def test_the_code_mail_speaks_the_language_of_the_request(
    svc: Services, alice_client: TestClient, recipient: TestClient, smtp: SmtpServer, echo: None
) -> None:
    token = _make(alice_client)["token"]
    asked = recipient.post(
        f"/api/v1/links/{token}/verify",
        json={"email": DURAND},
        headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"},
    )
    assert asked.status_code == 202
    mailed_code(svc, smtp, DURAND)
    mail = smtp.received[-1].message
    assert mail["Content-Language"] == "en"
    assert mail["Subject"] == "Égide: your code to open a share"


def test_managing_links_and_the_space_policy(
    svc: Services, alice_client: TestClient, app_client: TestClient, echo: None
) -> None:
    made = _make(alice_client)
    mine = alice_client.get("/api/v1/links").json()
    assert [x["id"] for x in mine] == [made["id"]]
    assert mine[0]["recipients"] == [DURAND]
    assert alice_client.get("/api/v1/links?all=true").status_code == 403
    assert (
        alice_client.put(
            "/api/v1/spaces/cardio/link-policy", json={"links_allowed": False}
        ).status_code
        == 403
    )
    assert alice_client.get("/api/v1/spaces/cardio/link-policy").json() == {
        "space": "cardio",
        "links_allowed": True,
        "max_days": svc.settings.links_max_days,
        "verification_required": True,
    }

    svc.accounts.create_user(SYSTEM, "root", password=PASSWORD, roles=[GlobalRole.ADMIN])
    with TestClient(create_app(svc)) as admin:
        signed = admin.post("/api/v1/session", json={"username": "root", "password": PASSWORD})
        admin.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        assert [x["id"] for x in admin.get("/api/v1/links?all=true").json()] == [made["id"]]
        policy = admin.put(
            "/api/v1/spaces/cardio/link-policy", json={"links_allowed": False, "max_days": 2}
        )
        assert policy.status_code == 200
        assert policy.json()["max_days"] == 2
        assert admin.delete(f"/api/v1/links/id/{made['id']}").status_code == 204

    refused = alice_client.post(
        "/api/v1/spaces/cardio/links/dupont/echo.pdf", json={"recipients": [DURAND]}
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("links-forbidden")
    assert alice_client.get("/api/v1/links").json()[0]["state"] == "revoked"
