"""The admin area and the share dialog in a real browser (issue 6 item 1, issue 7 item 4).

Debian's Chromium driven by Playwright against a live `egide serve`: the
administrator creates an account (its one-time password shown once, and it
really signs in), a group with that member, sets a space's quota ("12 Go"),
looks at the space's link policy, then on a folder gives the group a role
and makes an external link, whose address is shown once and opens for a
recipient, and revokes it (the address answers 404 at once). Screenshots of
the admin pages and of the share dialog go to test-artifacts/screenshots/.
"""

# The French pages use the typographic apostrophe (U+2019), and this test reads them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.live import LiveServer, browser_page, live_server, row, shot, sign_in

pytestmark = pytest.mark.heavy

BERNARD = "mon propre mot de passe 2026"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # No second factor asked: this test is about the admin area, the MFA steps
    # have theirs (test_web_interface.py).
    srv = live_server(tmp_path, mfa_required="none")
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "admin")
    with srv:
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    for page in browser_page(server.url, csp=True):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        yield page


def test_admin_area_and_share_dialog(server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    sign_in(page, "admin")
    expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()

    # The admin area, from the header link only administrators get.
    page.get_by_role("link", name="Administration").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(page.get_by_role("heading", name="Utilisateurs", exact=True)).to_be_visible()
    expect(row(page, "admin")).to_contain_text("Administrateur")

    # A new account: its one-time password is shown once, with a copy button.
    page.get_by_label("Nom d’utilisateur").fill("bernard.martin")
    page.get_by_label("Nom complet").fill("Bernard Martin")
    page.get_by_label("Adresse e-mail").fill("bernard@example.org")
    page.get_by_role("button", name="Créer le compte").click()
    expect(
        page.get_by_role("status").filter(has_text="Compte bernard.martin créé.")
    ).to_be_visible()
    secret = page.get_by_label("Mot de passe à usage unique de bernard.martin")
    expect(secret).to_have_value(re.compile(r"^[A-Za-z0-9_-]{24}$"))
    password = secret.input_value()
    page.get_by_role("button", name="Copier").click()
    expect(page.get_by_text(re.compile(r"^(Copié\.|Appuyez sur Ctrl\+C)"))).to_be_visible()
    expect(row(page, "bernard.martin")).to_contain_text("doit choisir un mot de passe")
    expect(row(page, "bernard.martin")).to_contain_text("jamais")
    shot(page, "20-admin-users")
    # It really signs in, and must choose its own password first.
    with httpx.Client(base_url=server.url) as bernard:
        signed = bernard.post(
            "/api/v1/session", json={"username": "bernard.martin", "password": password}
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["password_change_required"] is True
        changed = bernard.post(
            "/api/v1/me/password",
            json={"current_password": password, "new_password": BERNARD},
            headers={"X-CSRF-Token": signed.json()["csrf_token"]},
        )
        assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="C’est fait, le masquer").click()
    expect(page.get_by_label("Mot de passe à usage unique de bernard.martin")).to_have_count(0)

    # A group, with bernard in it.
    page.get_by_role("link", name="Groupes").click()
    expect(page).to_have_url(re.compile(r"/admin/groups$"))
    page.get_by_label("Nom du groupe").fill("cardiologues")
    page.get_by_label("Description").fill("Service de cardiologie")
    page.get_by_role("button", name="Créer le groupe").click()
    expect(
        page.get_by_text("Groupe cardiologues créé. Ajoutez ses membres ci-dessous.")
    ).to_be_visible()
    page.get_by_label("Ajouter un membre (nom d’utilisateur)").fill("bernard.martin")
    page.get_by_role("button", name="Ajouter", exact=True).click()
    expect(page.get_by_text("bernard.martin est membre de cardiologues.")).to_be_visible()
    expect(row(page, "cardiologues").locator("td.num")).to_have_text("1")
    # An unknown user: the server's message, in French.
    page.get_by_label("Ajouter un membre (nom d’utilisateur)").fill("personne")
    page.get_by_role("button", name="Ajouter", exact=True).click()
    expect(page.locator(".problem")).to_be_visible()

    # Spaces and quotas: 12 GB, shown as "12 Go".
    page.get_by_role("link", name="Espaces et quotas").click()
    expect(row(page, "cardio")).to_contain_text("sans limite")
    page.get_by_role("button", name="Quota de cardio").click()
    detail = page.locator("tr.detail")
    detail.get_by_label("Quota", exact=True).fill("12")
    detail.get_by_label("Unité : Quota").select_option(label="Go")
    detail.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text(re.compile(r"Quota de cardio : 12\s+Go\."))).to_be_visible()
    expect(row(page, "cardio").locator("td.num").nth(1)).to_have_text(re.compile(r"^12\s+Go$"))
    page.get_by_role("button", name="Liens externes de cardio").click()
    expect(page.get_by_label("Liens externes autorisés")).to_be_checked()
    expect(page.get_by_label("Durée de vie maximale (jours)")).to_have_value("30")
    shot(page, "21-admin-spaces")

    # The share dialog of a folder.
    page.goto("/spaces/cardio/")
    page.get_by_label("Nouveau dossier").fill("Dossiers patients")
    page.get_by_role("button", name="Créer", exact=True).click()
    page.get_by_role("button", name="Partager Dossiers patients").click()
    dialog = page.get_by_role("dialog", name="Partager « Dossiers patients »")
    expect(dialog).to_be_visible()
    # The administrator's own role comes from the whole space.
    expect(row(page, "admin", dialog)).to_contain_text("hérité de tout l’espace")
    dialog.get_by_label("Type", exact=True).select_option("group")
    dialog.locator("#share-name").fill("cardiologues")
    dialog.get_by_label("Rôle", exact=True).select_option("reader")
    dialog.get_by_role("button", name="Partager", exact=True).click()
    expect(dialog.get_by_text("groupe cardiologues est maintenant Lecteur")).to_be_visible()
    expect(row(page, "groupe cardiologues", dialog)).to_contain_text("cet élément")

    # An external link: the default expiry (7 days), a recipient who must verify.
    expect(dialog.get_by_label("Les destinataires doivent vérifier leur adresse")).to_be_checked()
    dialog.get_by_label("Adresses e-mail des destinataires").fill("medecin@example.org")
    dialog.get_by_label("Nombre maximal de téléchargements (facultatif)").fill("3")
    dialog.get_by_role("button", name="Créer le lien").click()
    address = dialog.get_by_label("Adresse du lien")
    expect(address).to_have_value(re.compile(r"/links/[A-Za-z0-9_-]{22,}$"))
    url = address.input_value()
    links = dialog.locator("table.links tbody tr")
    expect(links).to_have_count(1)
    expect(links.first).to_contain_text("medecin@example.org")
    expect(links.first).to_contain_text("0 / 3")
    expect(links.first).to_contain_text("actif")
    # A taller window for the picture, so the whole dialog shows.
    page.set_viewport_size({"width": 1280, "height": 1400})
    dialog.evaluate("d => { d.scrollTop = 0; }")
    shot(page, "22-share-dialog")
    page.set_viewport_size({"width": 1280, "height": 720})
    token = url.rsplit("/links/", 1)[1]
    opened = httpx.get(f"{server.url}/api/v1/links/{token}")
    assert opened.status_code == 200, opened.text
    assert opened.json()["needs"] == ["verification"]

    page.once("dialog", lambda d: d.accept())
    links.first.get_by_role("button", name=re.compile(r"^Révoquer le lien")).click()
    expect(dialog.get_by_text("Le lien est révoqué.")).to_be_visible()
    expect(links.first).to_contain_text("révoqué")
    assert httpx.get(f"{server.url}/api/v1/links/{token}").status_code == 404

    dialog.get_by_role("button", name="Fermer").click()
    expect(dialog).to_have_count(0)
    assert page.csp_violations == []

    # Bernard, through his group, finds the folder under "Shared with me"; he is
    # no administrator: no link to the admin area, and the server refuses it.
    other = page.context.browser.new_context(
        base_url=server.url, locale="fr-FR", viewport={"width": 1280, "height": 720}
    )
    try:
        his = other.new_page()
        his.goto("/login")
        sign_in(his, "bernard.martin", BERNARD)
        expect(his.get_by_role("heading", name="Mes espaces")).to_be_visible()
        expect(his.get_by_role("link", name="Administration")).to_have_count(0)
        his.get_by_role("link", name="Partagés avec moi").click()
        shared = row(his, "Dossiers patients")
        expect(shared).to_contain_text("Lecteur")
        expect(shared).to_contain_text("par le groupe cardiologues")
        his.goto("/admin")
        expect(his.locator(".problem")).to_contain_text("admin")
    finally:
        other.close()


@pytest.mark.parametrize("size", [(1280, 720), (820, 1180)], ids=["desktop", "tablet"])
def test_admin_pages_and_share_dialog_are_accessible(
    server: LiveServer, size: tuple[int, int]
) -> None:
    """axe-core finds no serious or critical WCAG A/AA violation on the admin pages,
    "Shared with me" and the share dialog (tests/browser/test_a11y.py's rules), and
    nothing scrolls sideways."""
    from playwright.sync_api import expect

    from tests.browser.test_a11y import AXE, axe_violations

    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make frontend` (npm ci in frontend/)")
    with server.api("admin") as api:
        assert api.post("/api/v1/spaces/cardio/folders/Examens").status_code == 201
        made = api.post("/api/v1/admin/users", json={"username": "claire", "roles": ["dpo"]})
        assert made.status_code == 201, made.text
        assert api.post("/api/v1/admin/groups", json={"name": "labo"}).status_code == 201
        assert api.put("/api/v1/admin/groups/labo/members/claire").status_code == 200
        link = api.post("/api/v1/spaces/cardio/links/Examens", json={"recipients": ["a@b.org"]})
        assert link.status_code == 201, link.text
    for page in browser_page(
        server.url,
        width=size[0],
        height=size[1],
        bypass_csp=True,  # axe.min.js is injected inline
    ):
        page.goto("/login")
        sign_in(page, "admin")
        expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()
        found: dict[str, Any] = {}
        for name, path, ready in (
            ("users", "/admin", "table.listing tbody tr >> nth=1"),
            ("groups", "/admin/groups", "table.listing tbody tr"),
            ("spaces", "/admin/spaces", "table.listing tbody tr"),
            ("shared", "/shared", "main .empty"),
        ):
            page.goto(path)
            page.locator(ready).first.wait_for()
            found[name] = axe_violations(page)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], f"{name} scrolls sideways: {width}px"
        page.goto("/admin/groups")
        page.get_by_role("button", name="Membres du groupe labo").click()
        page.locator("ul.members li").first.wait_for()
        found["group-members"] = axe_violations(page)
        page.goto("/spaces/cardio/")
        page.get_by_role("button", name="Partager Examens").click()
        page.locator("table.links tbody tr").first.wait_for()
        found["share-dialog"] = axe_violations(page)
        # Focus: on "Fermer" at opening, kept in the dialog by Tab, back on its opener.
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("button", name="Fermer")).to_be_focused()
        for key in ("Shift+Tab", "Tab", "Tab"):
            page.keyboard.press(key)
            assert dialog.evaluate("d => d.contains(document.activeElement)"), key
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.get_by_role("button", name="Partager Examens")).to_be_focused()
        assert {k: v for k, v in found.items() if v} == {}
