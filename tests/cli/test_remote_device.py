"""`egide login URL` by the device authorization flow (RFC 8628), end to end (issue 5, item 3).

The real `egide` command runs in a subprocess against the live server of
tests/cli/test_remote.py (uvicorn on 127.0.0.1), under the default MFA
policy; the test reads the code the command shows, signs alice in over HTTP
as a browser would (password, then her authenticator's code) and approves or
denies the code through the API. The device service's clock is the real one
plus an offset a test may move (to reach the expiry without waiting 10
minutes).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from egide.cli.remote.client import RemoteClient
from egide.cli.remote.device import device_login
from egide.core.config import Settings
from egide.core.db.models import AuditEvent
from tests.cli import test_remote, test_remote_mfa
from tests.cli.test_remote import PASSWORD, Live, api, remotes_file

pytestmark = pytest.mark.db

server = test_remote.server
totp = test_remote_mfa.totp
USER_CODE = re.compile(r"\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b")
EGIDE = str(Path(sys.executable).with_name("egide"))
#: Bounds on every wait, so a broken flow fails instead of hanging.
WAIT = 60.0


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The defaults, MFA policy included (the suite's fixture turns it off)."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@dataclass
class ShiftedClock:
    """The real time plus `offset`: the server's view of time, movable forward."""

    offset: dt.timedelta = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@pytest.fixture
def device_clock(server: Live) -> ShiftedClock:
    clock = ShiftedClock()
    server.svc.device.clock = clock
    # One-second polls keep the tests short; the flow is the same at 5.
    server.svc.device.interval = 1
    return clock


@dataclass
class Running:
    """`egide login` in a subprocess, its standard error read line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def said(self) -> str:
        return " ".join("".join(self.lines).split())

    def code(self) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = USER_CODE.search("".join(self.lines))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"egide login showed no code: {self.said}")

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT)


@pytest.fixture
def login(tmp_path: Path, server: Live, device_clock: ShiftedClock) -> Iterator[Any]:
    started: list[Running] = []

    def run(*extra: str) -> Running:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EGIDE_")}
        env |= {
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "EGIDE_DATA_DIR": str(tmp_path / "no-local-vault"),
            "LANGUAGE": "en",
            "COLUMNS": "200",
        }
        process = subprocess.Popen(
            [EGIDE, "login", server.url, "--name", "poste-12", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        running = Running(process)
        assert process.stdout is not None
        running.reader = threading.Thread(target=running.read, args=(process.stdout,))
        running.reader.start()
        started.append(running)
        return running

    yield run
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait(timeout=WAIT)
        if running.reader is not None:
            running.reader.join(timeout=WAIT)
        if running.process.stdout is not None:
            running.process.stdout.close()
    assert not (tmp_path / "no-local-vault").exists(), "remote mode touched a local vault"


@contextmanager
def browser(server: Live, second_factor: str, username: str = "alice") -> Iterator[httpx.Client]:
    """A signed-in web session that gave `second_factor` (a recovery code: each test
    signs in several times within one TOTP step), as the approval page has."""
    with httpx.Client(base_url=server.url, headers={"Accept-Language": "en"}, timeout=30) as web:
        yield _signed_in(web, second_factor, username)


def _signed_in(client: httpx.Client, second_factor: str, username: str) -> httpx.Client:
    signed = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    verified = client.post(
        "/api/v1/session/mfa", json={"code": second_factor}, headers=_session(signed)
    )
    assert verified.status_code == 200, verified.text
    client.headers.update(_session(verified))
    return client


def _session(response: httpx.Response) -> dict[str, str]:
    # By hand, as the CLI does: a Secure cookie would not go back to http://127.0.0.1.
    cookies = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    return {"X-CSRF-Token": response.json()["csrf_token"], "Cookie": cookies}


def decide(web: httpx.Client, code: str, *, approve: bool) -> httpx.Response:
    return web.post("/api/v1/device/approve", json={"user_code": code, "approve": approve})


def events(server: Live, action: str) -> list[AuditEvent]:
    with server.svc.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_login_approved_in_the_browser_stores_a_working_token(
    login: Any, server: Live, tmp_path: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    running = login()
    code = running.code()
    assert "Ouvrez" in running.said
    assert f"Open {server.svc.settings.resolved_public_url}/device" in running.said
    with browser(server, totp[1].pop()) as web:
        shown = web.post("/api/v1/device/lookup", json={"user_code": code.lower()})
        assert shown.status_code == 200, shown.text
        assert shown.json()["client_name"] == "poste-12"
        assert decide(web, code, approve=True).status_code == 200
    assert running.wait() == 0, running.said
    assert "Logged in" in running.said
    assert "as alice" in running.said
    path = tmp_path / "xdg-config" / "egide" / "remotes.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = remotes_file(tmp_path / "xdg-config")["remotes"]["default"]
    assert stored["username"] == "alice"
    assert stored["token"] not in running.said
    with api(server, stored["token"]) as client:
        assert client.get("/api/v1/spaces").status_code == 200
    # The token was made by the path of POST /tokens, from the approving session.
    (created,) = events(server, "token.create")
    assert json.loads(created.target)["token"] == stored["token_id"]
    assert json.loads(created.target)["session"]
    assert [e.outcome for e in events(server, "device.approve")] == ["allowed"]

    # A second login replaces the token and revokes the first, as with --password.
    again = login()
    code = again.code()
    with browser(server, totp[1].pop()) as web:
        assert decide(web, code, approve=True).status_code == 200
    assert again.wait() == 0, again.said
    with api(server, stored["token"]) as client:
        assert client.get("/api/v1/spaces").status_code == 401


def test_a_login_denied_in_the_browser_stores_nothing(
    login: Any, server: Live, tmp_path: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    running = login()
    code = running.code()
    with browser(server, totp[1].pop()) as web:
        assert decide(web, code, approve=False).status_code == 200
    assert running.wait() == 4, running.said
    assert "denied in the browser" in running.said
    assert not (tmp_path / "xdg-config" / "egide" / "remotes.toml").exists()


def test_an_expired_code_stops_the_login(
    login: Any, server: Live, tmp_path: Path, device_clock: ShiftedClock
) -> None:
    running = login()
    running.code()
    device_clock.offset = dt.timedelta(minutes=11)
    assert running.wait() == 3, running.said
    assert "The code expired before it was approved" in running.said
    assert not (tmp_path / "xdg-config" / "egide" / "remotes.toml").exists()


def test_ctrl_c_stops_the_login_cleanly(login: Any, tmp_path: Path) -> None:
    running = login()
    running.code()
    running.process.send_signal(signal.SIGINT)
    assert running.wait() == 130, running.said
    assert "Interrupted: no token was stored." in running.said
    assert "Traceback" not in running.said
    assert not (tmp_path / "xdg-config" / "egide" / "remotes.toml").exists()


def test_the_wrong_user_approving_is_refused(
    login: Any, server: Live, tmp_path: Path, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    running = login("--username", "bob")
    code = running.code()
    with browser(server, totp[1].pop()) as web:
        assert decide(web, code, approve=True).status_code == 200
    assert running.wait() == 4, running.said
    assert "approved by alice, not bob" in running.said
    assert not (tmp_path / "xdg-config" / "egide" / "remotes.toml").exists()
    alice = server.svc.accounts.principal_for_username("alice")
    (token,) = server.svc.accounts.list_tokens(alice)
    assert token.revoked_at is not None


def test_slow_down_is_honoured(
    server: Live, device_clock: ShiftedClock, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    """The polling loop itself, in this process, on the live server: time passes on the
    server's clock as the loop sleeps, except once, so one poll comes too fast."""
    sleeps: list[float] = []
    code: list[str] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) != 2:
            device_clock.offset += dt.timedelta(seconds=seconds)
        if len(sleeps) == 3:
            with browser(server, totp[1].pop()) as web:
                assert decide(web, code[0], approve=True).status_code == 200

    def shown(grant: dict[str, Any]) -> None:
        code.append(str(grant["user_code"]))

    with RemoteClient(server.url) as client:
        answer = device_login(
            client,
            client_name="poste-12",
            scopes=("files:read",),
            days=7,
            sleep=sleep,
            show=shown,
        )
    assert sleeps == [1, 1, 6]
    assert answer["scope"] == "files:read"
    assert answer["access_token"].startswith("egd_")
