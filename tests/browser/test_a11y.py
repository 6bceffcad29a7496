"""Accessibility of the web interface (issue 6, item 5): axe-core in Debian's Chromium
against a live `egide serve`.

axe-core is the front-end's pinned devDependency (frontend/package.json),
injected from frontend/node_modules with `add_script_tag` in a context that
bypasses the page's CSP (an inline script, which the CSP rightly refuses;
test_web_interface checks the CSP on every page). Every main
page, at 1280x720 and on a tablet in portrait (820x1180), must have no
violation of impact "serious" or "critical" among the WCAG 2.0/2.1 A and AA
rules. Then the keyboard: Tab alone reaches the upload buttons, the new
folder field and every row's actions of a folder, each with a visible focus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.live import LiveServer, launched_browser, live_server, new_page, row, sign_in

pytestmark = pytest.mark.heavy

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"desktop": (1280, 720), "tablet": (820, 1180)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("a11y"), mfa_required="none")
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make frontend` (npm ci in frontend/)")
    srv.add_user("alice")
    srv.cli("space", "create", "imagerie", "--title", "Imagerie", "--manager", "admin")
    srv.cli("space", "create", "cardio", "--title", "Cardiologie", "--manager", "alice")
    srv.cli("space", "canaries", "cardio", "--enable")
    with srv:
        with srv.api("admin") as api:
            base = "/api/v1/spaces/imagerie"
            assert api.post(f"{base}/folders/Comptes rendus").status_code == 201
            for name, data in {
                "compte-rendu.txt": b"Compte rendu.\n",
                "ordonnance.pdf": b"%PDF-1.4\n%%EOF\n",
                "ancien.txt": b"ancien\n",
            }.items():
                put = api.put(f"{base}/content/{name}", content=data)
                assert put.status_code == 201, put.text
            assert api.delete(f"{base}/nodes/ancien.txt").status_code == 200
        with srv.api("alice") as alice:
            # alice touches a decoy: an incident for the incidents pages.
            decoy = quote("!Fichier témoin Égide - ne pas modifier.docx")
            assert alice.delete(f"/api/v1/spaces/cardio/nodes/{decoy}").status_code == 200
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_browser()


@pytest.fixture
def signed_in(browser: Any, server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import expect

    # bypass_csp: add_script_tag inlines axe.min.js, which the page's CSP rightly refuses.
    # The CSP itself is checked by test_web_interface (no violation on any page).
    page = new_page(browser, server.url, bypass_csp=True)
    page.goto("/login")
    sign_in(page, "admin")
    expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()
    yield page
    page.context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG A/AA violations on the page as it is."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})).violations",
        TAGS,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
            "summary": v["nodes"][0].get("failureSummary", "") if v["nodes"] else "",
        }
        for v in result
        if v["impact"] in {"serious", "critical"}
    ]


# (name, path, a CSS selector of what shows once the page's data has loaded)
PAGES = [
    ("spaces", "/", ".spaces li"),
    ("folder", "/spaces/imagerie/", "table.listing tbody tr >> nth=2"),
    ("trash", "/trash/imagerie", "table.listing tbody tr"),
    ("account", "/me", "#my-sessions tbody tr >> nth=1"),
    ("device", "/device", "main form"),
    ("incidents", "/incidents", "#incidents tbody tr"),
    ("incident", "first-incident", "#incident-events tbody tr"),
    ("not-found", "/spaces/imagerie/nulle-part/", "[role=alert]"),
    ("shared", "/shared", "main h1"),
    ("notifications", "/notifications", "main h1"),
    ("admin-users", "/admin", "main table tbody tr"),
    ("admin-groups", "/admin/groups", "main h1"),
    ("admin-spaces", "/admin/spaces", "main table tbody tr"),
]


@pytest.mark.parametrize("size", sorted(SIZES))
def test_no_serious_violation_on_the_main_pages(signed_in: Any, size: str) -> None:
    from playwright.sync_api import expect

    page = signed_in
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    found: dict[str, list[dict[str, Any]]] = {}
    for name, path, ready in PAGES:
        if path == "first-incident":
            page.get_by_role("link", name="Détails").first.click()
        else:
            page.goto(path)
        expect(page.locator(ready).first).to_be_visible()
        if name == "folder":
            expect(page.locator(".uppy-Dashboard")).to_be_visible()
        if violations := axe_violations(page):
            found[name] = violations
    # In English too, with a row's rename form open.
    page.goto("/spaces/imagerie/")
    page.get_by_role("button", name="EN", exact=True).click()
    row(page, "compte-rendu.txt").get_by_role("button", name="Rename compte-rendu.txt").click()
    expect(page.get_by_label("New name")).to_be_visible()
    if violations := axe_violations(page):
        found["folder-en-rename"] = violations
    page.get_by_role("button", name="FR", exact=True).click()
    # The log-in page, signed out.
    context = page.context.browser.new_context(
        base_url=page.url.split("/spaces")[0],
        locale="fr-FR",
        viewport={"width": width, "height": height},
        bypass_csp=True,
    )
    login = context.new_page()
    login.goto("/login")
    expect(login.get_by_role("heading", name="Se connecter")).to_be_visible()
    if violations := axe_violations(login):
        found["login"] = violations
    context.close()
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)


FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  return {
    inMain: !!el.closest("main"),
    outlineColor: style.outlineColor,
    label: (el.getAttribute("aria-label") || el.innerText || el.getAttribute("placeholder")
      || el.id || el.tagName).trim(),
    tag: el.tagName,
    visible: outline || !!shadow,
  };
}"""


def test_the_keyboard_reaches_every_control_of_a_folder(signed_in: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.goto("/spaces/imagerie/")
    expect(row(page, "compte-rendu.txt")).to_be_visible()
    expect(page.locator(".uppy-Dashboard")).to_be_visible()
    page.locator("body").click(position={"x": 1, "y": 1})
    reached: list[dict[str, Any]] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        if reached and focused == reached[0] and len(reached) > 5:
            break
        reached.append(focused)
    labels = [f["label"] for f in reached]
    wanted = [
        "Nouveau dossier",  # the field's label is its id "new-folder": see below
        "Créer",
        "Renommer compte-rendu.txt",
        "Déplacer compte-rendu.txt",
        "Supprimer compte-rendu.txt",
        "Télécharger compte-rendu.txt",
        "Versions de compte-rendu.txt",
        "Renommer ordonnance.pdf",
        "Supprimer ordonnance.pdf",
        "Renommer Comptes rendus",
        "Supprimer Comptes rendus",
        "choisissez des fichiers",
        "choisissez un dossier",
    ]
    normalised = ["Nouveau dossier" if label == "new-folder" else label for label in labels]
    normalised = ["Nouveau dossier" if label == "Nom du dossier" else label for label in normalised]
    missing = [w for w in wanted if w not in normalised]
    assert not missing, (missing, labels)
    unseen = [f["label"] for f in reached if not f["visible"]]
    assert not unseen, f"no visible focus on: {unseen}"
    # The ring stands out from the page's background by 3:1 at least (WCAG 1.4.11).
    faint = [
        (f["label"], f["outlineColor"])
        for f in reached
        if f["inMain"] and contrast(f["outlineColor"], "rgb(246, 247, 249)") < 3
    ]
    assert not faint, faint


def contrast(one: str, two: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)
