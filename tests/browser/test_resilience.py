"""Bad input and bad luck in the browser (issue 6, "Bad input" and item 7): Debian's
Chromium against a live `egide serve` on loopback.

- The network goes away in the middle of a 30 MiB upload (DevTools network
  emulation: throttled, then offline for several seconds, then back): the
  upload resumes from the server's offset when the connection returns, and
  the stored file is the sent file, byte for byte (SHA-256).
- A file the server refuses in a batch (a folder already has its name)
  shows the server's message next to that file; the others are stored.
- A session ended on the server sends the next action to the log-in page,
  and signing in again comes back to the same folder; `?next=` never leads
  off the site.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.live import LiveServer, browser_page, live_server, row, shot, sign_in

pytestmark = pytest.mark.heavy

MIB = 1 << 20
FOLDER = "/spaces/imagerie/Urgences/"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, mfa_required="none")
    srv.add_user("alice")
    srv.cli("space", "create", "imagerie", "--title", "Imagerie", "--manager", "alice")
    with srv:
        with srv.api("alice", timeout=60) as alice:
            assert alice.post("/api/v1/spaces/imagerie/folders/Urgences").status_code == 201
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    yield from browser_page(server.url)


def end_other_sessions(server: LiveServer) -> None:
    with server.api("alice", timeout=60) as alice:
        others = [s for s in alice.get("/api/v1/sessions").json() if not s["current"]]
        assert others
        for other in others:
            ended = alice.delete(f"/api/v1/sessions/{other['id']}")
            assert ended.status_code == 204, ended.text


def network(cdp: Any, *, offline: bool = False, upload_bytes_per_second: int = -1) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": offline,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": upload_bytes_per_second,
        },
    )


def test_an_upload_survives_a_network_loss(server: LiveServer, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(FOLDER)
    sign_in(page, "alice")
    expect(page).to_have_url(f"{server.url}{FOLDER}")
    expect(page.get_by_text("Ce dossier est vide.")).to_be_visible()

    big = tmp_path / "irm-30M.bin"
    with big.open("wb") as f:
        for _ in range(30):
            f.write(os.urandom(MIB))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()

    seen: list[tuple[str, str, str | None]] = []
    page.on(
        "request",
        lambda r: (
            seen.append((r.method, r.url, r.headers.get("upload-offset")))
            if "/api/v1/uploads" in r.url
            else None
        ),
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    network(cdp, upload_bytes_per_second=4 * MIB)  # about 8 s for the file

    with page.expect_response(
        lambda r: r.request.method == "PATCH" and "/api/v1/uploads/" in r.url and r.ok,
        timeout=60_000,
    ):
        page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(str(big))
    # A first chunk is stored: the cable is pulled for eight seconds.
    network(cdp, offline=True)
    page.context.set_offline(True)
    lost_at = time.monotonic()
    assert page.evaluate("navigator.onLine") is False
    page.wait_for_timeout(8_000)
    shot(page, "15-upload-offline")
    patches_before = sum(1 for m, _, _ in seen if m == "PATCH")
    page.context.set_offline(False)
    network(cdp)  # back, at full speed
    expect(row(page, "irm-30M.bin")).to_be_visible(timeout=120_000)
    assert time.monotonic() - lost_at >= 8

    # Resumed, not restarted: one creation only, and PATCHes after the loss went on
    # from a non-zero offset.
    creations = [u for m, u, _ in seen if m == "POST"]
    assert len(creations) == 1, seen
    after = [int(o or 0) for m, _, o in seen if m == "PATCH"][patches_before:]
    assert after, seen
    assert min(after) > 0, seen
    # The stored file is the sent file.
    stored = page.request.get(f"/api/v1/spaces/imagerie/content/Urgences/{quote(big.name)}")
    assert stored.status == 200
    assert hashlib.sha256(stored.body()).hexdigest() == digest


def test_a_refused_file_keeps_its_message_while_the_others_go_on(
    server: LiveServer, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with server.api("alice", timeout=60) as alice:
        made = alice.post("/api/v1/spaces/imagerie/folders/Urgences/Rapports")
        assert made.status_code == 201, made.text
    page.goto(FOLDER)
    sign_in(page, "alice")
    expect(row(page, "Rapports")).to_be_visible()

    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "Rapports").write_bytes(b"a file named as the folder\n")
    (batch / "bilan.txt").write_bytes(b"bilan\n")
    (batch / "consignes.txt").write_bytes(b"consignes\n")
    started = time.monotonic()
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(
        [str(batch / n) for n in ("Rapports", "bilan.txt", "consignes.txt")]
    )
    refused = page.locator(".refused")
    expect(refused).to_contain_text("Rapports", timeout=30_000)
    message = refused.locator("li", has_text="Rapports").inner_text()
    assert "dossier" in message.lower(), message  # the server's own message, in French
    # At once: a refusal is not retried as if the network had failed.
    assert time.monotonic() - started < 10
    expect(row(page, "bilan.txt")).to_be_visible(timeout=30_000)
    expect(row(page, "consignes.txt")).to_be_visible()
    # The refused file stays in the box with its message; the stored ones leave it.
    expect(page.locator(".uppy-Dashboard-Item")).to_have_count(1, timeout=10_000)
    expect(refused.locator("li")).to_have_count(1)
    shot(page, "16-refused-name")


def test_an_ended_session_comes_back_to_the_same_folder(server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(FOLDER)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fspaces%2Fimagerie%2FUrgences%2F$"))
    sign_in(page, "alice")
    expect(page).to_have_url(f"{server.url}{FOLDER}")
    expect(page.get_by_text("Ce dossier est vide.")).to_be_visible()

    # Another session of alice's ends the browser's (and any other), as "My sessions" would.
    end_other_sessions(server)

    # The next action meets the ended session: to the log-in page, the folder kept.
    page.get_by_label("Nouveau dossier").fill("Scanner")
    page.get_by_role("button", name="Créer").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fspaces%2Fimagerie%2FUrgences%2F$"))
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    sign_in(page, "alice")
    expect(page).to_have_url(f"{server.url}{FOLDER}")
    expect(page.get_by_role("heading", name="Urgences")).to_be_visible()

    # A reload with an ended session, the same.
    end_other_sessions(server)
    page.reload()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fspaces%2Fimagerie%2FUrgences%2F$"))
    sign_in(page, "alice")
    expect(page).to_have_url(f"{server.url}{FOLDER}")

    # `next` only ever leads to a page of this site.
    for hostile in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "/login?next=https://evil.example/",
    ):
        page.goto(f"/login?next={quote(hostile, safe='')}")
        sign_in(page, "alice")
        expect(page).to_have_url(f"{server.url}/")
        expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()
