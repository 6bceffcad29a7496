"""The web interface's serving (issue 6): index.html on the app's routes, hashed
assets with a long cache, a clear 503 without a build, the security headers on
every response, and a French and an English entry for every message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from egide.web import ui
from egide.web.security_headers import (
    API_CONTENT_SECURITY_POLICY,
    CONTENT_SECURITY_POLICY,
    SecurityHeadersMiddleware,
)

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

EXPECTED_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
#: What is not a page (the API, contents, health, metrics) may load and run nothing.
API_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def expected(path: str) -> dict[str, str]:
    page = not path.startswith(("/api/", "/healthz", "/readyz", "/metrics"))
    return EXPECTED_HEADERS if page else {**EXPECTED_HEADERS, "content-security-policy": API_CSP}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A small build as Vite lays it out: index.html naming one hashed script."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><script type="module" src="/assets/index-ab12.js">'
        '</script></head><body><div id="app"></div></body></html>',
        encoding="utf-8",
    )
    (tmp_path / "assets" / "index-ab12.js").write_text("console.log('égide');\n")
    return tmp_path


def _client(dist: Path) -> TestClient:
    app = FastAPI()
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/api/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    ui.install(app, dist)
    return TestClient(app)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/me",
        "/device",
        "/spaces",
        "/spaces/cardio/",
        "/spaces/cardio/a/b%20c/",
        "/trash/cardio",
        "/members/cardio",
        "/login?next=%2Fspaces%2Fcardio%2F",
    ],
)
def test_app_routes_answer_index(dist: Path, path: str) -> None:
    response = _client(dist).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_assets_are_served_with_a_long_cache(dist: Path) -> None:
    client = _client(dist)
    response = client.get("/assets/index-ab12.js")
    assert response.status_code == 200
    assert "égide" in response.text
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/javascript")
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/assets/missing.js").json() == client.get("/nothing-here").json()
    assert client.get("/assets/../index.html").status_code == 404


def test_unknown_paths_and_the_api_are_untouched(dist: Path) -> None:
    client = _client(dist)
    assert client.get("/api/v1/ping").json() == {"pong": "yes"}
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/nothing-here").status_code == 404
    assert client.post("/login").status_code == 405


def test_missing_build_answers_a_clear_503(tmp_path: Path) -> None:
    client = _client(tmp_path / "no-build")
    response = client.get("/spaces/cardio/")
    assert response.status_code == 503
    assert "make run" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert client.get("/assets/index.js").status_code == 404
    assert client.get("/api/v1/ping").status_code == 200


def test_security_headers_on_every_response(dist: Path) -> None:
    client = _client(dist)
    for response in (
        client.get("/"),
        client.get("/assets/index-ab12.js"),
        client.get("/api/v1/ping"),
        client.get("/nothing-here"),
    ):
        for name, value in expected(response.url.path).items():
            assert response.headers[name] == value, (response.url, name)
    assert EXPECTED_HEADERS["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert API_CSP == API_CONTENT_SECURITY_POLICY


def test_the_application_serves_the_ui_with_its_headers(app_client: TestClient) -> None:
    """create_app wires both: the headers replace the API's defaults everywhere."""
    for path in ("/", "/login", "/healthz", "/api/v1/me", "/api/v1/openapi.json", "/metrics"):
        response = app_client.get(path)
        assert response.status_code in {200, 401, 503}, path
        for name, value in expected(path).items():
            assert response.headers[name] == value, (path, name)
        assert len(response.headers.get_list("content-security-policy")) == 1
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/api/v1/me").headers["content-type"] == "application/problem+json"
    schema = app_client.get("/api/v1/openapi.json").json()
    assert "/login" not in schema["paths"]
    assert "/" not in schema["paths"]


# ---- the message catalogues ------------------------------------------------------------

_T_CALL = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
_PO_ENTRY = re.compile(r'^msgid "((?:[^"\\]|\\.)*)"\nmsgstr "((?:[^"\\]|\\.)*)"$', re.MULTILINE)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _catalogue(lang: str) -> dict[str, str]:
    text = (FRONTEND / "locale" / f"{lang}.po").read_text(encoding="utf-8")
    return {_unescape(k): _unescape(v) for k, v in _PO_ENTRY.findall(text) if k}


def _msgids() -> set[str]:
    found: set[str] = set()
    for source in (FRONTEND / "src").rglob("*.js"):
        if "generated" in source.parts:
            continue
        found.update(_unescape(m) for m in _T_CALL.findall(source.read_text(encoding="utf-8")))
    return found


def test_every_message_has_a_french_and_an_english_entry() -> None:
    msgids = _msgids()
    assert len(msgids) > 50  # the scan found the sources
    for lang in ("fr", "en"):
        catalogue = _catalogue(lang)
        missing = sorted(m for m in msgids if not catalogue.get(m, "").strip())
        assert not missing, f"{lang}.po lacks: {missing}"


def test_placeholders_survive_translation() -> None:
    french = _catalogue("fr")
    for msgid, msgstr in french.items():
        assert set(re.findall(r"\{\w+\}", msgid)) == set(re.findall(r"\{\w+\}", msgstr)), msgid


def test_the_french_catalogue_is_french() -> None:
    """A copy of the English text is not a translation."""
    french = _catalogue("fr")
    same = [m for m, s in french.items() if m == s and len(m) > 12]
    assert not same, same


# ---- previews: `?inline=true` for safe types only ------------------------------------


@pytest.mark.parametrize(
    ("name", "inline"),
    [
        ("ordonnance.pdf", True),
        ("radio.png", True),
        ("photo.JPG", True),
        ("compte-rendu.txt", True),
        ("page.html", False),  # would run script from our origin
        ("schema.svg", False),  # SVG holds script too
        ("archive.zip", False),
    ],
)
def test_inline_is_granted_to_safe_types_only(
    alice_client: TestClient, name: str, *, inline: bool
) -> None:
    base = "/api/v1/spaces/cardio/content"
    assert alice_client.put(f"{base}/{name}", content=b"some bytes").status_code == 201
    preview = alice_client.get(f"{base}/{name}", params={"inline": "true"})
    assert preview.status_code == 200
    assert preview.content == b"some bytes"
    expected = "inline" if inline else "attachment"
    assert preview.headers["content-disposition"].startswith(f"{expected}; filename=")
    assert preview.headers["cache-control"] == "private, no-store"
    plain = alice_client.get(f"{base}/{name}")
    assert plain.headers["content-disposition"].startswith("attachment; filename=")
