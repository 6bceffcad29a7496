"""Notifications in a real browser (issue 7 item 5): follow, bell count, list, read.

Debian's Chromium driven by Playwright against a live `egide serve`, whose
own workers (audit, notifications) turn a colleague's upload into a
notification: the administrator follows the space with the folder page's
button, bernard uploads over the API, the bell shows 1, the list names the
file, "Tout marquer comme lu" empties the bell. The account page's
preferences are saved. Screenshot: test-artifacts/screenshots/.
"""

# The French pages use the typographic apostrophe (U+2019), and this test reads them.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveServer, browser_page, live_server, shot, sign_in

pytestmark = pytest.mark.heavy

BERNARD = "mon propre mot de passe 2026"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, mfa_required="none")
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "admin")
    srv.add_user("bernard", BERNARD)
    srv.cli("space", "grant", "cardio", "user:bernard", "contributor")
    with srv:
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    yield from browser_page(server.url)


def test_follow_then_the_bell_counts_and_the_list_shows(server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    sign_in(page, "admin")
    expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()

    page.goto("/spaces/cardio/")
    follow = page.get_by_role("button", name="Suivre", exact=True)
    follow.click()
    expect(page.get_by_role("button", name="Suivi", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    # Admin was made manager of the space at its creation: that is already news.
    bell = page.locator("a.bell")
    expect(bell).to_have_attribute("aria-label", "Notifications : 1 non lue(s)")

    with server.api("bernard", BERNARD) as bernard:
        put = bernard.put(
            "/api/v1/spaces/cardio/content/compte-rendu.pdf", content=b"%PDF-1.4 compte rendu"
        )
        assert put.status_code in (200, 201), put.text

    # The workers run every few seconds; the bell polls every minute, a reload asks now.
    for _ in range(40):
        page.reload()
        if page.locator("a.bell .badge").text_content() == "2":
            break
        page.wait_for_timeout(500)
    expect(page.locator("a.bell .badge")).to_have_text("2")
    expect(bell).to_have_attribute("aria-label", "Notifications : 2 non lue(s)")

    bell.click()
    expect(page.get_by_role("heading", name="Mes notifications")).to_be_visible()
    rows = page.locator("#notifications tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Partagé avec vous")
    row = rows.nth(0)  # newest first
    expect(row).to_contain_text("Fichier ajouté")
    expect(row).to_contain_text("cardio/compte-rendu.pdf")
    expect(row).to_contain_text("bernard")
    shot(page, "40-notifications")
    page.get_by_role("button", name="Tout marquer comme lu").click()
    expect(page.locator("a.bell .badge")).to_have_count(0)

    page.goto("/me")
    page.get_by_label("M’envoyer un courriel").select_option("daily")
    expect(page.get_by_text("Préférences enregistrées.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("M’envoyer un courriel")).to_have_value("daily")
