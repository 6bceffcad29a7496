"""The web interface in a real browser (issue 6): Debian's Chromium driven by
Playwright against a live `egide serve` on loopback.

One scenario, as a nurse would go: sign in (setting up the authenticator app
under the default policy, pyotp playing the phone), create a folder, upload
three files including one of 50 MiB with the progress visible, see a refused
upload keep the server's message while the others go on, sort, rename, send
to the trash and restore, restore an old version, switch the language, and
approve a program's sign-in on /device. Screenshots of the main pages go to
test-artifacts/screenshots/. Heavy: a subprocess, a browser, 50 MiB.
"""

# The French pages use the typographic apostrophe (U+2019), and these tests read them.
# ruff: noqa: RUF001

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.browser.live import PASSWORD, LiveServer, browser_page, live_server, row, shot, sign_in

pytestmark = pytest.mark.heavy

MIB = 1 << 20


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, **getattr(request, "param", {}))
    srv.add_user("alice")
    srv.cli("space", "create", "imagerie", "--title", "Imagerie", "--manager", "alice")
    srv.cli(
        "space", "create", "petit", "--title", "Petit espace", "--quota", "1M", "--manager", "alice"
    )
    with srv:
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    yield from browser_page(server.url, csp=True, accept_downloads=True)


def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "compte-rendu.txt": b"Compte rendu: examen sans particularite.\n",
        "ordonnance.pdf": b"%PDF-1.4\n% not a real PDF, a few bytes are enough here\n%%EOF\n",
    }
    out = {}
    for name, data in made.items():
        out[name] = tmp_path / name
        out[name].write_bytes(data)
    big = tmp_path / "scanner-50M.bin"
    with big.open("wb") as f:
        for _ in range(50):
            f.write(os.urandom(MIB))
    out["scanner-50M.bin"] = big
    return out


def sign_in_first_time(page: Any, *, shots: bool = False) -> None:
    """From the log-in page: alice's password, then the authenticator set-up that the
    default policy asks at a first sign-in (pyotp reads the key as a phone would)."""
    from playwright.sync_api import expect

    sign_in(page, "alice")
    expect(
        page.get_by_role("heading", name="Configurez votre application d’authentification")
    ).to_be_visible()
    expect(
        page.get_by_alt_text("QR code à scanner avec l’application d’authentification")
    ).to_be_visible()
    qr = page.get_by_alt_text("QR code à scanner avec l’application d’authentification")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 100  # the image decoded
    expect(page.get_by_label("Code affiché par l’application")).to_have_value("")
    if shots:
        shot(page, "02-mfa-enrolment")
    page.get_by_text("Impossible de scanner ? Afficher la clé à saisir").click()
    secret = page.locator("code.secret").inner_text().strip()
    page.get_by_label("Code affiché par l’application").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("heading", name="Vos codes de secours")).to_be_visible()
    expect(page.locator("ol.codes li")).to_have_count(10)
    page.get_by_role("button", name="Je les ai enregistrés, continuer").click()


def png(width: int, height: int) -> bytes:
    """A small valid PNG (grey), for the image preview."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def test_a_day_with_the_web_interface(server: LiveServer, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    # An unauthenticated visit to a folder lands on the log-in page, in French.
    page.goto("/spaces/imagerie/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fspaces%2Fimagerie%2F$"))
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    shot(page, "01-login")
    # Keyboard first: the user name has the focus, Tab goes on to the password.
    expect(page.get_by_label("Nom d’utilisateur")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Mot de passe")).to_be_focused()
    sign_in(page, "alice", "wrong password, surely")
    expect(page.get_by_role("alert")).to_be_visible()
    sign_in_first_time(page, shots=True)

    # Back where the visit began: the empty space says what to do.
    expect(page).to_have_url(f"{server.url}/spaces/imagerie/")
    expect(page.get_by_text("Ce dossier est vide.")).to_be_visible()
    expect(page.locator("header .user")).to_have_text("alice")

    # A new folder, then into it.
    page.get_by_label("Nouveau dossier").fill("Comptes rendus")
    page.get_by_role("button", name="Créer").click()
    expect(
        page.get_by_role("status").filter(has_text="Dossier « Comptes rendus » créé.")
    ).to_be_visible()
    page.get_by_role("link", name="Comptes rendus").click()
    expect(page).to_have_url(f"{server.url}/spaces/imagerie/Comptes%20rendus/")
    expect(page.get_by_role("navigation", name="Fil d’Ariane")).to_contain_text("imagerie")

    # Three files at once, one of 50 MiB: the total progress shows while it goes.
    made = files(tmp_path)
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(
        [str(made[n]) for n in ("compte-rendu.txt", "ordonnance.pdf", "scanner-50M.bin")]
    )
    expect(page.locator(".uppy-StatusBar")).to_be_visible()
    expect(page.locator(".uppy-StatusBar-progress")).to_be_attached()
    shot(page, "03-upload-progress")
    for name in made:
        expect(row(page, name)).to_be_visible(timeout=120_000)
    expect(row(page, "scanner-50M.bin")).to_contain_text("52,4 Mo")
    shot(page, "04-folder")

    # Sorting by size puts the big file last, then first.
    page.get_by_role("button", name="Taille").click()
    expect(page.locator("table.listing tbody tr").last).to_contain_text("scanner-50M.bin")
    page.get_by_role("button", name="Taille").click()
    expect(page.locator("table.listing tbody tr").first).to_contain_text("scanner-50M.bin")

    # Downloads are links answered as attachments.
    with page.expect_download() as download:
        row(page, "compte-rendu.txt").get_by_role(
            "link", name="Télécharger compte-rendu.txt"
        ).click()
    assert Path(download.value.path()).read_bytes() == made["compte-rendu.txt"].read_bytes()

    # Rename.
    row(page, "ordonnance.pdf").get_by_role("button", name="Renommer ordonnance.pdf").click()
    page.get_by_label("Nouveau nom").fill("ordonnance-2026.pdf")
    page.get_by_label("Nouveau nom").press("Enter")
    expect(row(page, "ordonnance-2026.pdf")).to_be_visible()
    expect(row(page, "ordonnance.pdf")).to_have_count(0)

    # A second version of the report, then the first one restored.
    second = tmp_path / "v2" / "compte-rendu.txt"
    second.parent.mkdir()
    second.write_bytes(b"Compte rendu, version corrigee.\n")
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(str(second))
    expect(row(page, "compte-rendu.txt")).to_contain_text("32 o", timeout=30_000)
    row(page, "compte-rendu.txt").get_by_role("button", name="Versions de compte-rendu.txt").click()
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(2, timeout=30_000)
    shot(page, "05-versions")
    page.get_by_role("button", name="Restaurer la version 1").click()
    expect(
        page.get_by_role("status").filter(has_text="La version 1 de « compte-rendu.txt »")
    ).to_be_visible()
    expect(versions).to_have_count(3)

    # Delete to the trash, and back.
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, "ordonnance-2026.pdf").get_by_role(
        "button", name="Supprimer ordonnance-2026.pdf"
    ).click()
    expect(page.get_by_role("status").filter(has_text="est dans la corbeille")).to_be_visible()
    expect(row(page, "ordonnance-2026.pdf")).to_have_count(0)
    page.get_by_role("link", name="Corbeille").click()
    expect(page.get_by_role("heading", name="Corbeille de imagerie")).to_be_visible()
    shot(page, "06-trash")
    page.get_by_role("button", name="Restaurer ordonnance-2026.pdf").click()
    expect(page.get_by_text("La corbeille est vide.")).to_be_visible()
    page.goto("/spaces/imagerie/Comptes%20rendus/")
    expect(row(page, "ordonnance-2026.pdf")).to_be_visible()

    # Previews: text and images in the page, a PDF in a new tab, shown in place.
    image = tmp_path / "radio.png"
    image.write_bytes(png(64, 48))
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(str(image))
    expect(row(page, "radio.png")).to_be_visible(timeout=30_000)
    row(page, "radio.png").get_by_role("button", name="Aperçu de radio.png").click()
    dialog = page.get_by_role("dialog", name="radio.png")
    shown = dialog.get_by_role("img", name="Aperçu de radio.png")
    expect(shown).to_be_visible()
    assert shown.evaluate("img => img.complete && img.naturalWidth") == 64
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    row(page, "compte-rendu.txt").get_by_role("button", name="Aperçu de compte-rendu.txt").click()
    dialog = page.get_by_role("dialog", name="compte-rendu.txt")
    expect(dialog.locator("pre")).to_have_text("Compte rendu: examen sans particularite.\n")
    shot(page, "06a-preview")
    dialog.get_by_role("button", name="Fermer").click()
    pdf_link = row(page, "ordonnance-2026.pdf").get_by_role(
        "link", name="Aperçu de ordonnance-2026.pdf (nouvel onglet)"
    )
    href = pdf_link.get_attribute("href")
    assert href is not None
    assert href.endswith("?inline=true")
    assert pdf_link.get_attribute("target") == "_blank"
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-disposition"].startswith("inline;")
    assert answer.body() == made["ordonnance.pdf"].read_bytes()

    # A tablet in portrait: everything fits the width, nothing scrolls sideways.
    page.set_viewport_size({"width": 768, "height": 1024})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "06b-folder-tablet")
    page.set_viewport_size({"width": 1280, "height": 720})

    # A whole folder, with a sub-folder: the tree is made, then filled.
    tree = tmp_path / "Examens"
    (tree / "2026").mkdir(parents=True)
    (tree / "bilan.txt").write_bytes(b"bilan\n")
    (tree / "2026" / "irm.txt").write_bytes(b"irm\n")
    expect(page.get_by_role("button", name="choisissez un dossier")).to_be_visible()
    page.locator("input.uppy-Dashboard-input[webkitdirectory]").set_input_files(str(tree))
    expect(row(page, "Examens")).to_be_visible(timeout=30_000)
    row(page, "Examens").get_by_role("link", name="Examens").click()
    expect(row(page, "bilan.txt")).to_be_visible(timeout=30_000)
    row(page, "2026").get_by_role("link", name="2026").click()
    expect(row(page, "irm.txt")).to_be_visible()
    page.goto("/spaces/imagerie/Comptes%20rendus/")

    # A refused upload keeps the server's message beside its name; the others go on.
    page.goto("/spaces/petit/")
    over = tmp_path / "trop-gros.bin"
    over.write_bytes(os.urandom(2 * MIB))
    small = tmp_path / "petit.txt"
    small.write_bytes(b"tient dans le quota\n")
    page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(
        [str(over), str(small)]
    )
    refused = page.locator(".refused")
    expect(refused).to_contain_text("trop-gros.bin", timeout=30_000)
    expect(refused).to_contain_text("quota")
    expect(row(page, "petit.txt")).to_be_visible(timeout=30_000)
    shot(page, "07-refused-upload")

    # A manager gives, changes and removes a role on the space.
    page.get_by_role("link", name="Membres").click()
    expect(page.get_by_role("heading", name="Membres de petit")).to_be_visible()
    expect(page.get_by_role("combobox", name="Rôle de alice")).to_have_value("manager")
    page.get_by_label("Nom", exact=True).fill("admin")
    page.get_by_label("Rôle", exact=True).select_option("reader")
    page.get_by_role("button", name="Donner").click()
    expect(page.get_by_role("status")).to_have_text("admin est maintenant Lecteur.")
    page.get_by_role("combobox", name="Rôle de admin").select_option("contributor")
    expect(page.get_by_role("status")).to_have_text("admin est maintenant Contributeur.")
    shot(page, "07b-members")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Retirer admin").click()
    expect(page.get_by_role("status")).to_have_text("admin n’a plus de rôle sur cet espace.")
    expect(page.get_by_role("combobox", name="Rôle de admin")).to_have_count(0)

    # My spaces, then English: the choice outlives a reload.
    page.get_by_role("link", name="Mes espaces").first.click()
    expect(page.get_by_role("heading", name="Mes espaces")).to_be_visible()
    expect(page.get_by_text("Gestionnaire").first).to_be_visible()
    shot(page, "08-spaces")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    # Server messages follow: a wrong device code answers in English.
    page.goto("/device")
    page.get_by_label("Code shown by the program").fill("BCDF-GHJK")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()
    alert = page.get_by_role("alert").inner_text()
    assert "code" in alert.lower()

    # A program's sign-in (RFC 8628), approved in the browser.
    started = httpx.post(
        f"{server.url}/api/v1/device/authorize",
        data={"client_name": "scanner du service", "scope": "files:read"},
    ).json()
    page.goto("/device")
    page.get_by_label("Code shown by the program").fill(started["user_code"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("scanner du service")).to_be_visible()
    shot(page, "09-device")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("the program is signed in")
    token = httpx.post(
        f"{server.url}/api/v1/device/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["access_token"].startswith("egd_")

    # My account lists the program's token; revoking it stops the program at once.
    secret = token.json()["access_token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{server.url}/api/v1/me", headers=bearer).status_code == 200
    page.locator("header").get_by_role("link", name="alice").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    expect(page.get_by_text("Authenticator app set up.")).to_be_visible()
    # My sessions: this browser's, marked, which cannot end itself from here.
    expect(page.get_by_role("heading", name="My sessions")).to_be_visible()
    sessions = page.locator("#my-sessions tbody tr")
    expect(sessions.filter(has_text="(this one)")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke scanner du service").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.get_by_text("You have no API token.")).to_be_visible()
    shot(page, "11-me")
    assert httpx.get(f"{server.url}/api/v1/me", headers=bearer).status_code == 401

    # Sign out: the pages ask to sign in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/spaces/imagerie/")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    assert page.csp_violations == []


@pytest.mark.parametrize("server", [{"session_idle_minutes": "1"}], indirect=True)
def test_the_idle_lock_keeps_the_page(server: LiveServer, page: Any) -> None:
    """The server locks a session idle for a minute; the next action brings the lock
    screen over the page, the password unlocks it and the action goes through."""
    from playwright.sync_api import expect

    page.goto("/spaces/imagerie/")
    sign_in_first_time(page)
    expect(page.get_by_text("Ce dossier est vide.")).to_be_visible()
    page.get_by_label("Nouveau dossier").fill("Radiologie")
    page.wait_for_timeout(62_000)  # one idle minute, and a little more
    page.get_by_role("button", name="Créer").click()
    dialog = page.get_by_role("dialog", name="Session verrouillée")
    expect(dialog).to_be_visible()
    shot(page, "10-lock")
    # The page under it is kept as it was, and out of reach until unlocked.
    expect(page.locator("main")).to_have_attribute("inert", "")
    expect(page.get_by_label("Nouveau dossier")).to_have_value("Radiologie")
    dialog.get_by_label("Mot de passe").fill("not the password")
    dialog.get_by_role("button", name="Déverrouiller").click()
    expect(dialog.get_by_role("alert")).to_be_visible()
    dialog.get_by_label("Mot de passe").fill(PASSWORD)
    dialog.get_by_role("button", name="Déverrouiller").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("main")).not_to_have_attribute("inert", "")
    # The call that met the lock was made again: the folder exists, the page never left.
    expect(
        page.get_by_role("status").filter(has_text="Dossier « Radiologie » créé.")
    ).to_be_visible()
    expect(row(page, "Radiologie")).to_be_visible()
    expect(page).to_have_url(f"{server.url}/spaces/imagerie/")
    assert page.csp_violations == []
