"""A live `egide serve` and Debian's Chromium for the browser tests (issue 6).

Never `playwright install`: the browser is the system's /usr/bin/chromium
(.ci/run installs it with apt when missing); a test module skips when it is
absent on a developer's machine, never in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_http_streaming import egide, free_port

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


class LiveServer:
    """`egide serve` on a free loopback port, on its own data directory."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.env = {**os.environ, "EGIDE_DATA_DIR": str(tmp_path / "data")}
        self.env.pop("EGIDE_DATABASE_URL", None)
        self.env.update({f"EGIDE_{k.upper()}": v for k, v in settings.items()})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env["EGIDE_PUBLIC_URL"] = self.url
        self.log_path = tmp_path / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> None:
        egide(self.env, *args, stdin=stdin)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("egide")), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("egide serve did not become ready")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None


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
