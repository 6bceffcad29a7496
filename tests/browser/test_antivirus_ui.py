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

from tests.browser.live import LiveServer, browser_page, live_server, sign_in
from tests.clamd import ClamdServer, running_clamd

pytestmark = pytest.mark.heavy


@pytest.fixture
def clamd() -> Iterator[ClamdServer]:
    with running_clamd() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, clamd: ClamdServer) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, mfa_required="none", clamd_address=clamd.address)
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "admin")
    srv.cli("put", "-", "cardio/scanned.txt", "-u", "admin", stdin="compte rendu")
    clamd.stop()
    srv.cli("put", "-", "cardio/held.txt", "-u", "admin", stdin="compte rendu")
    with srv:
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    yield from browser_page(server.url)


def test_the_versions_table_shows_a_held_file(server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    sign_in(page, "admin")
    page.get_by_role("link", name="Cardiologie").click()
    page.get_by_role("button", name="Versions de held.txt").click()
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("en attente d’analyse antivirus")
    page.get_by_role("button", name="Versions de scanned.txt").click()
    expect(page.locator("table.versions tbody tr").first).not_to_contain_text("antivirus")
