"""A live `egide serve` and Debian's Chromium for the browser tests (issue 6).

Never `playwright install`: the browser is the system's /usr/bin/chromium
(.ci/run installs it with apt when missing); a test module skips when it is
absent on a developer's machine, never in CI.

The steps the browser tests share live here too: a page in French, the
watch on CSP reports, signing in on the log-in page, an API session beside
the browser's, a screenshot.
"""

# The French pages use the typographic apostrophe (U+2019), and the sign-in reads them.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest

from tests.e2e.test_http_streaming import egide
from tests.e2e.test_tus_resume import Server

PASSWORD = "violet tramway harbour 1987"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
UI_INDEX = (
    Path(__file__).resolve().parents[2] / "src" / "egide" / "web" / "ui" / "dist" / "index.html"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class LiveServer(Server):
    """`egide serve` on a free loopback port, on its own data directory (the e2e
    tests' server), with settings and its public address in its environment;
    `with server:` runs it for the block."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        super().__init__(tmp_path)
        self.env.update({f"EGIDE_{k.upper()}": v for k, v in settings.items()})
        self.env["EGIDE_PUBLIC_URL"] = self.url

    def cli(self, *args: str, stdin: str | None = None) -> None:
        egide(self.env, *args, stdin=stdin)

    def init(self, password: str = PASSWORD) -> None:
        """`egide init` with the administrator "admin"."""
        self.cli("init", "--admin", "admin", "--admin-password-stdin", stdin=password + "\n")

    def add_user(self, username: str, password: str = PASSWORD) -> None:
        self.cli("user", "add", username, "--password-stdin", stdin=password + "\n")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @contextmanager
    def api(
        self, username: str, password: str = PASSWORD, *, timeout: float = 30
    ) -> Iterator[httpx.Client]:
        """A session through the API, beside the browser's, its CSRF token on every call."""
        with httpx.Client(base_url=self.url, timeout=timeout) as client:
            opened = client.post(
                "/api/v1/session", json={"username": username, "password": password}
            )
            assert opened.status_code == 200, opened.text
            client.headers["X-CSRF-Token"] = opened.json()["csrf_token"]
            yield client


def live_server(tmp_path: Path, **settings: str) -> LiveServer:
    """A server for a browser test (skipped without the browser), initialised
    with the administrator "admin"; not started yet."""
    require_browser_and_build()
    server = LiveServer(tmp_path, **settings)
    server.init()
    return server


def require_browser_and_build() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed; .ci/run installs it")
    if not UI_INDEX.exists():
        pytest.fail("the web interface is not built: run `make frontend`")


def launched_browser() -> Iterator[object]:
    """Chromium, headless, through Playwright's own protocol client (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Any,
    url: str,
    *,
    csp: bool = False,
    width: int = 1280,
    height: int = 720,
    **options: Any,
) -> Any:
    """A page of a new context on `url`, in French, that waits 20 s at the most;
    with `csp`, its CSP reports watched (`watch_csp`)."""
    context = browser.new_context(
        base_url=url, locale="fr-FR", viewport={"width": width, "height": height}, **options
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    if csp:
        watch_csp(page)
    return page


def watch_csp(page: Any) -> None:
    """Collects the console's CSP reports in `page.csp_violations`."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    page.csp_violations = violations


def browser_page(url: str, **options: Any) -> Iterator[Any]:
    """For a fixture: a page (`new_page`) in a browser of its own, its context closed after."""
    for browser in launched_browser():
        page = new_page(browser, url, **options)
        yield page
        page.context.close()


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """On the log-in page: the user name, the password, "Se connecter"."""
    page.get_by_label("Nom d’utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def row(page: Any, text: str, scope: Any = None) -> Any:
    """The row of a listing (in `scope`, default the page) with a cell reading `text`."""
    return (scope or page).locator("table.listing tbody tr", has=page.get_by_text(text, exact=True))
