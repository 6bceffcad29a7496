"""The recipient's page, /links/{token}, in a real browser (issue 7, items 2 and 3).

Debian's Chromium driven by Playwright against a live `egide serve` that
mails through a real SMTP server (aiosmtpd on loopback). A colleague without
an account opens a link bound to their address: types the address, reads the
6-digit code from the mail, types it, sees the sender and the file, and
downloads it. A laboratory opens a file request and sends two files through
the upload area; the page lists them, and they are in the folder. Neither
page goes near the log-in page. Screenshots go to test-artifacts/screenshots/.
"""

# The French pages use the typographic apostrophe (U+2019), and this test reads them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.live import LiveServer, browser_page, live_server, shot
from tests.services.mail.smtp_server import SmtpServer

pytestmark = pytest.mark.heavy

DURAND = "dr.durand@clinique.example"
ECHO = b"Compte rendu d'echographie\n" * 40
_CODE = re.compile(r"^\s+([0-9]{6})\s*$", re.MULTILINE)


@pytest.fixture
def server(tmp_path: Path, smtp: SmtpServer) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path,
        mfa_required="none",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
        smtp_from="egide@hopital.example",
    )
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "admin")
    srv.cli("space", "links", "cardio", "--optional-verification")
    srv.cli("mkdir", "cardio/dupont", "--user", "admin")
    echo = tmp_path / "echo.txt"
    echo.write_bytes(ECHO)
    srv.cli("put", str(echo), "cardio/dupont/echo.txt", "--user", "admin")
    with srv:
        yield srv


@pytest.fixture
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    """The sender, through the API (their pages are another test's)."""
    with server.api("admin") as client:
        yield client


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    for page in browser_page(server.url, csp=True, height=800, accept_downloads=True):
        seen: list[str] = []
        page.on("request", lambda request, seen=seen: seen.append(request.url))
        page.seen_requests = seen
        yield page


def mailed_code(smtp: SmtpServer, recipient: str, timeout: float = 30) -> str:
    """The code of the latest mail to `recipient` (the server's worker sends every 5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in reversed(smtp.received):
            if recipient in received.rcpt_tos:
                body = received.message.get_body(("plain",))
                assert body is not None
                match = _CODE.search(body.get_content())
                assert match is not None, "no code in the mail"
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no mail reached {recipient}")


def test_a_colleague_verifies_their_address_and_downloads(
    server: LiveServer, admin: httpx.Client, page: Any, smtp: SmtpServer
) -> None:
    from playwright.sync_api import expect

    made = admin.post("/api/v1/spaces/cardio/links/dupont/echo.txt", json={"recipients": [DURAND]})
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    token = made.json()["token"]

    page.goto(url)
    expect(page.get_by_role("heading", name="Prouvez votre adresse électronique")).to_be_visible()
    assert "echo" not in page.content()  # nothing before the proof
    page.get_by_label("Votre adresse électronique").fill(DURAND)
    page.get_by_role("button", name="M’envoyer un code").click()
    code = mailed_code(smtp, DURAND)
    page.get_by_label("Code reçu par courriel (6 chiffres)").fill(code)
    shot(page, "link-verify")
    page.get_by_role("button", name="Ouvrir le lien").click()

    expect(page.get_by_role("heading", name="echo.txt")).to_be_visible()
    expect(page.get_by_text("Envoyé par admin")).to_be_visible()
    expect(page.get_by_text(f"Ouvert en tant que {DURAND}")).to_be_visible()
    shot(page, "link-open")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Télécharger echo.txt").click()
    download = caught.value
    assert download.suggested_filename == "echo.txt"
    assert Path(download.path()).read_bytes() == ECHO

    assert page.url.endswith(f"/links/{token}")  # never sent to the log-in page
    assert not any("/api/v1/me" in seen for seen in page.seen_requests)
    # The token travels to the page and to the API's link paths only.
    for seen in page.seen_requests:
        if token in seen:
            allowed = (f"{server.url}/links/", f"{server.url}/api/v1/links/")
            assert seen.startswith(allowed), seen
    assert page.csp_violations == []

    # Revoked: the neutral page.
    link_id = made.json()["id"]
    assert admin.delete(f"/api/v1/links/id/{link_id}").status_code == 204
    page.reload()
    expect(page.get_by_role("heading", name="Ce lien ne peut pas être ouvert")).to_be_visible()


def test_a_lab_sends_two_files_through_a_request(
    server: LiveServer, admin: httpx.Client, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    made = admin.post(
        "/api/v1/spaces/cardio/links/dupont",
        json={"kind": "request", "require_verification": False, "max_file_bytes": 100_000},
    )
    assert made.status_code == 201, made.text
    first = tmp_path / "bilan-sanguin.pdf"
    first.write_bytes(b"%PDF-1.4 bilan\n" * 100)
    second = tmp_path / "echo.txt"  # a name the folder has: stored under another
    second.write_bytes(b"nouvelle echo\n" * 50)

    page.goto(made.json()["url"])
    expect(page.get_by_role("heading", name="Envoyer des fichiers")).to_be_visible()
    expect(page.get_by_text("Envoyé par admin")).to_be_visible()
    assert "echo.txt" not in page.content()  # nothing of the folder is shown
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(first), str(second)])
    sent = page.locator("ul.link-sent li")
    expect(sent).to_have_count(2)
    expect(sent.filter(has_text="bilan-sanguin.pdf")).to_have_count(1)
    expect(sent.filter(has_text="echo.txt")).to_have_count(1)
    shot(page, "link-request")
    assert page.csp_violations == []
    assert not any("/api/v1/me" in seen for seen in page.seen_requests)

    listed = admin.get("/api/v1/spaces/cardio/nodes/dupont")
    assert listed.status_code == 200, listed.text
    names = sorted(item["name"] for item in listed.json()["items"])
    assert names == ["bilan-sanguin.pdf", "echo (2).txt", "echo.txt"]
    kept = admin.get("/api/v1/spaces/cardio/content/dupont/echo.txt")
    assert kept.content == ECHO  # the colleague's file untouched


def test_a_refused_file_shows_the_servers_message_and_the_others_go_on(
    server: LiveServer, admin: httpx.Client, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    made = admin.post(
        "/api/v1/spaces/cardio/links/dupont",
        json={"kind": "request", "require_verification": False},
    )
    assert made.status_code == 201, made.text
    # The space holds 1,080 bytes; 2,000 at most: the 1,500-byte file cannot fit.
    server.cli("space", "quota", "cardio", "--quota", "2000")
    big = tmp_path / "irm.pdf"
    big.write_bytes(b"%PDF-1.4 irm\n" * 115 + b"%%EOF")
    small = tmp_path / "ordonnance.pdf"
    small.write_bytes(b"%PDF-1.4 ord\n" * 50)

    page.goto(made.json()["url"])
    expect(page.get_by_role("heading", name="Envoyer des fichiers")).to_be_visible()
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(big), str(small)])
    refused = page.locator(".refused")
    expect(refused).to_contain_text("irm.pdf")
    # The server's own message, in French, without the space's business (its quota).
    expect(refused).to_contain_text("plus de place")
    expect(refused).not_to_contain_text("quota")
    sent = page.locator("ul.link-sent li")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("ordonnance.pdf")
    shot(page, "link-request-refused")
    names = sorted(
        item["name"] for item in admin.get("/api/v1/spaces/cardio/nodes/dupont").json()["items"]
    )
    assert names == ["echo.txt", "ordonnance.pdf"]
