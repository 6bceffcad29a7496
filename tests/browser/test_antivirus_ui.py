"""The web interface shows a version's antivirus state (docs/antivirus.md):
a file stored while clamd was down reads "awaiting antivirus scan" in its
versions table. Real `egide serve`, real clamd (stopped for the upload),
headless Chromium."""

# The French pages use the typographic apostrophe (U+2019), and this test reads them.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveServer, launched_browser, require_browser_and_build
from tests.clamd import ClamdServer

pytestmark = pytest.mark.heavy

PASSWORD = "violet tramway harbour 1987"


@pytest.fixture
def clamd() -> Iterator[ClamdServer]:
    server = ClamdServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def server(tmp_path: Path, clamd: ClamdServer) -> Iterator[LiveServer]:
    require_browser_and_build()
    srv = LiveServer(tmp_path, mfa_required="none", clamd_address=clamd.address)
    srv.cli("init", "--admin", "admin", "--admin-password-stdin", stdin=PASSWORD + "\n")
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "admin")
    srv.cli("put", "-", "cardio/scanned.txt", "-u", "admin", stdin="compte rendu")
    clamd.stop()
    srv.cli("put", "-", "cardio/held.txt", "-u", "admin", stdin="compte rendu")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    for browser in launched_browser():
        context = browser.new_context(  # type: ignore[attr-defined]
            base_url=server.url, locale="fr-FR", viewport={"width": 1280, "height": 720}
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()


def test_the_versions_table_shows_a_held_file(server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Nom d’utilisateur").fill("admin")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Cardiologie").click()
    page.get_by_role("button", name="Versions de held.txt").click()
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("en attente d’analyse antivirus")
    page.get_by_role("button", name="Versions de scanned.txt").click()
    expect(page.locator("table.versions tbody tr").first).not_to_contain_text("antivirus")
