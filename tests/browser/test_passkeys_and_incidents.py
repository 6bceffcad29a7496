"""The passkeys section of the account page and the incidents page, in Debian's
Chromium against a live `egide serve` (issue 6 items 1 and 5).

Passkeys: Chromium's virtual authenticator (DevTools protocol, WebAuthn
domain) plays the security key: register one on the account page, sign out,
sign in with the password and the passkey as the second factor, rename it,
then remove it (the page asks for the password). The server at
http://localhost: a WebAuthn relying party ID cannot be an IP address.

Incidents: a user deletes a decoy file through the API and is contained at
once; the administrator sees the incident on /incidents, opens it with its
events, asks for the files back, and releases it: the user works again.
"""

# The French pages use the typographic apostrophe (U+2019), and these tests read them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.live import (
    PASSWORD,
    LiveServer,
    launched_browser,
    new_page,
    require_browser_and_build,
    shot,
    sign_in,
)
from tests.browser.test_web_interface import sign_in_first_time

pytestmark = pytest.mark.heavy

DECOY = "!Fichier témoin Égide - ne pas modifier.docx"


def _server(tmp_path: Path, **settings: str) -> LiveServer:
    require_browser_and_build()
    srv = LiveServer(tmp_path, **settings)
    # WebAuthn refuses an IP address as the relying party: the site is "localhost".
    srv.url = f"http://localhost:{srv.port}"
    srv.env["EGIDE_PUBLIC_URL"] = srv.url
    srv.init()
    srv.add_user("alice")
    srv.cli("space", "create", "imagerie", "--title", "Imagerie", "--manager", "alice")
    return srv


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launched_browser()


def _page(browser: Any, server: LiveServer) -> Any:
    return new_page(browser, server.url, csp=True)


def test_passkeys_on_the_account_page(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    server = _server(tmp_path)
    with server:
        page = _page(browser, server)
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

        page.goto("/me")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fme$"))
        sign_in_first_time(page)
        expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
        expect(page.get_by_role("heading", name="Mes clés d’accès")).to_be_visible()
        expect(page.get_by_text("Vous n’avez aucune clé d’accès.")).to_be_visible()

        # Register one: the browser's ceremony, answered by the virtual authenticator.
        page.get_by_label("Nom de la nouvelle clé d’accès").fill("Clé du bureau")
        page.get_by_role("button", name="Ajouter une clé d’accès").click()
        expect(page.get_by_role("status")).to_have_text("Clé d’accès « Clé du bureau » ajoutée.")
        rows = page.locator("#my-passkeys tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Clé du bureau")
        expect(rows.first).to_contain_text("jamais")
        expect(page.get_by_text("Clés d’accès : 1.")).to_be_visible()
        creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(creds["credentials"]) == 1
        shot(page, "12-passkeys")

        # Sign out, then in again: the password, then the passkey as the second factor.
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto("/me")
        sign_in(page, "alice")
        expect(page.get_by_role("heading", name="Second facteur")).to_be_visible()
        page.get_by_role("button", name="Utiliser une clé d’accès").click()
        expect(page).to_have_url(f"{server.url}/me")
        expect(page.get_by_role("heading", name="Mes clés d’accès")).to_be_visible()
        expect(rows.first).not_to_contain_text("jamais")  # last used: just now

        # Rename it.
        page.get_by_role("button", name="Renommer Clé du bureau").click()
        page.get_by_label("Nouveau nom").fill("Ordinateur du poste")
        page.get_by_label("Nouveau nom").press("Enter")
        expect(page.get_by_role("status")).to_have_text(
            "Clé d’accès renommée « Ordinateur du poste »."
        )
        expect(rows.first).to_contain_text("Ordinateur du poste")

        # Removing asks for the password: a wrong one keeps it, with the server's message.
        page.get_by_role("button", name="Retirer Ordinateur du poste").click()
        form = page.locator("#my-passkeys tr.detail form")
        form.get_by_role("button", name="Retirer").click()
        expect(page.get_by_role("alert")).to_contain_text("mot de passe")
        form.get_by_label("Mot de passe").fill("not the password at all")
        form.get_by_role("button", name="Retirer").click()
        expect(page.get_by_role("alert")).to_be_visible()
        expect(rows).to_have_count(2)  # the row and its open form
        form.get_by_label("Mot de passe").fill(PASSWORD)
        form.get_by_role("button", name="Retirer").click()
        expect(page.get_by_role("status")).to_have_text(
            "Clé d’accès « Ordinateur du poste » retirée."
        )
        expect(page.get_by_text("Vous n’avez aucune clé d’accès.")).to_be_visible()
        assert page.csp_violations == []


def test_an_administrator_reviews_and_releases_an_incident(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    server = _server(tmp_path, mfa_required="none")
    server.cli("space", "canaries", "imagerie", "--enable")
    with ExitStack() as stack:
        stack.enter_context(server)
        alice = stack.enter_context(server.api("alice"))
        # alice deletes the decoy file: certain detection, contained at once.
        touched = alice.delete(f"/api/v1/spaces/imagerie/nodes/{quote(DECOY)}")
        assert touched.status_code in {200, 423}, touched.text
        refused = alice.put("/api/v1/spaces/imagerie/content/note.txt", content=b"x")
        assert refused.status_code == 423
        assert refused.json()["type"] == "urn:egide:problem:principal-contained"

        # alice has no incidents link nor page.
        page = _page(browser, server)
        page.goto("/login")
        sign_in(page, "admin")
        nav = page.get_by_role("navigation", name="Principal")
        nav.get_by_role("link", name="Incidents").click()
        expect(page.get_by_role("heading", name="Incidents rançongiciel")).to_be_visible()
        rows = page.locator("#incidents tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Fichier témoin touché")
        expect(rows.first).to_contain_text("Ouvert")
        shot(page, "13-incidents")
        rows.first.get_by_role("link", name=re.compile("^Détails")).click()
        expect(page).to_have_url(re.compile(r"/incidents/[^/]+$"))
        expect(page.get_by_role("heading", name="Incident — Ouvert")).to_be_visible()
        events = page.locator("#incident-events tbody tr")
        expect(events.first).to_contain_text("canary")
        shot(page, "14-incident")

        # Restore files: the decoy comes back out of the trash, and the page says so.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Restaurer les fichiers").click()
        result = page.locator("#restore-result")
        expect(result).to_be_visible()
        expect(result.locator("dt:has-text('Fichiers sortis de la corbeille') + dd")).to_have_text(
            "1"
        )
        expect(page.get_by_text("Fichiers restaurés le")).to_be_visible()
        listing = alice.get("/api/v1/spaces/imagerie/nodes/").json()
        assert DECOY in [item["name"] for item in listing["items"]]

        # Release: the user works again at once.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Lever").click()
        expect(page.get_by_role("status")).to_have_text(
            "Incident levé : l’utilisateur peut de nouveau travailler."
        )
        expect(page.get_by_role("heading", name="Incident — Levé")).to_be_visible()
        expect(page.get_by_role("button", name="Lever")).to_have_count(0)
        again = alice.put("/api/v1/spaces/imagerie/content/note.txt", content=b"x")
        assert again.status_code == 201, again.text

        # The list by status: nothing open now, the released one under "Levé".
        page.get_by_role("link", name="Retour aux incidents").click()
        expect(page.get_by_text("Aucun incident ici.")).to_be_visible()
        page.get_by_label("Afficher").select_option("released")
        expect(rows).to_have_count(1)
        assert page.csp_violations == []

        # A plain user sees neither the link nor the list.
        other = _page(browser, server)
        other.goto("/login?next=/incidents")
        sign_in(other, "alice")
        expect(other).to_have_url(f"{server.url}/incidents")
        expect(other.get_by_role("alert")).to_be_visible()
        expect(other.get_by_role("navigation", name="Principal")).not_to_contain_text("Incidents")
