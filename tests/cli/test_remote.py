"""Remote mode: `egide login`, then the file commands with `--remote`, over real HTTP.

The server is the real application served by uvicorn in a thread on
127.0.0.1, behind a small ASGI wrapper that records each request's method,
path and body size, so a test can tell what went over the wire (a HEAD, only
the missing bytes of a resumed upload). The CLI runs in-process with
XDG_CONFIG_HOME under tmp_path. Issue 3, item 6.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from egide.cli.remote import tus
from egide.cli.remote.config import Remote, Remotes, render
from egide.core.config import Settings
from egide.services.registry import Services, build_services, initialise
from egide.web.app import create_app
from tests.cli.conftest import Cli, mode_of, said
from tests.e2e.test_http_streaming import free_port
from tests.vault_fixtures import SYSTEM

PASSWORD = "violet tramway harbour 1987"
MIB = 1 << 20


@dataclass
class Recorded:
    method: str
    path: str
    body: int = 0


@dataclass
class Recorder:
    """An ASGI wrapper that notes every HTTP request and the body bytes it received."""

    app: Any
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = Recorded(scope["method"], scope["path"])
        self.requests.append(record)

        async def counting() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                record.body += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)

    def to(self, prefix: str, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (method is None or r.method == method)
        ]


@dataclass
class Live:
    url: str
    svc: Services
    recorder: Recorder


@pytest.fixture
def server(settings: Settings, insecure_fast_argon2: argon2.PasswordHasher) -> Iterator[Live]:
    initialise(settings)
    svc = build_services(settings, hasher=insecure_fast_argon2)
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    recorder = Recorder(create_app(svc))
    port = free_port()
    config = uvicorn.Config(
        recorder,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", svc, recorder)
    finally:
        uv.should_exit = True
        thread.join(timeout=15)
        svc.close()


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config"


@pytest.fixture
def egide(tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for name in list(os.environ):
        if name.startswith("EGIDE_") and name != "EGIDE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    # The client's local data directory is never used in remote mode.
    monkeypatch.setenv("EGIDE_DATA_DIR", str(tmp_path / "no-local-vault"))
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("LANGUAGE", "en")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield Cli(CliRunner(), tmp_path / "no-local-vault")
    assert not (tmp_path / "no-local-vault").exists(), "remote mode touched a local vault"


def login(egide: Cli, server: Live, *extra: str) -> Result:
    return egide.ok(
        "login", server.url, "--username", "alice", "--password-stdin", *extra,
        stdin=PASSWORD + "\n",
    )  # fmt: skip


def remotes_file(config_home: Path) -> dict[str, Any]:
    return tomllib.loads((config_home / "egide" / "remotes.toml").read_text())


def token_of(config_home: Path, name: str = "default") -> str:
    token: str = remotes_file(config_home)["remotes"][name]["token"]
    return token


def api(server: Live, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        timeout=30,
    )


def data(size: int, seed: int = 0) -> bytes:
    """`size` bytes that differ in every MiB (so a misplaced chunk cannot go unnoticed)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    out = bytearray()
    index = 0
    while len(out) < size:
        out += index.to_bytes(8, "big") + block[8:]
        index += 1
    return bytes(out[:size])


@pytest.fixture
def logged_in(egide: Cli, server: Live, config_home: Path) -> str:
    login(egide, server)
    return token_of(config_home)


# Login and logout ----------------------------------------------------------------------


def test_login_stores_a_working_token_in_a_private_file(
    egide: Cli, server: Live, config_home: Path
) -> None:
    result = login(egide, server)
    path = config_home / "egide" / "remotes.toml"
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    stored = remotes_file(config_home)
    assert stored["default"] == "default"
    entry = stored["remotes"]["default"]
    assert entry["url"] == server.url
    assert entry["username"] == "alice"
    assert entry["token"].startswith("egd_")
    assert entry["token"] not in result.output
    assert PASSWORD not in result.output
    assert "Logged in" in said(result)
    # No temporary file left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["remotes.toml"]
    with api(server, entry["token"]) as client:
        me = client.get("/api/v1/me").json()
    assert me["username"] == "alice"
    assert me["via"] == "token"
    assert me["scopes"] == ["files:read", "files:write"]
    # The web session used to create the token was ended.
    assert server.recorder.to("/api/v1/session", "DELETE")
    listed = server.svc.accounts.list_tokens(server.svc.accounts.principal_for_username("alice"))
    assert [t.id for t in listed] == [entry["token_id"]]


def test_a_second_remote_keeps_the_first_as_default(
    egide: Cli, server: Live, config_home: Path, tmp_path: Path
) -> None:
    login(egide, server)
    login(egide, server, "--remote-name", "backup", "--name", "nightly")
    stored = remotes_file(config_home)
    assert stored["default"] == "default"
    assert set(stored["remotes"]) == {"default", "backup"}
    assert stored["remotes"]["backup"]["token"] != stored["remotes"]["default"]["token"]
    names = {
        t.name
        for t in server.svc.accounts.list_tokens(
            server.svc.accounts.principal_for_username("alice")
        )
    }
    assert "nightly" in names
    (tmp_path / "a.txt").write_bytes(b"via backup")
    egide.ok("put", str(tmp_path / "a.txt"), "cardio/a.txt", "--remote", "backup")
    egide.ok("logout", "--remote", "backup")
    assert set(remotes_file(config_home)["remotes"]) == {"default"}


def test_logging_in_again_revokes_the_replaced_token(
    egide: Cli, server: Live, config_home: Path, logged_in: str
) -> None:
    login(egide, server)
    renewed = token_of(config_home)
    assert renewed != logged_in
    with api(server, logged_in) as client:
        assert client.get("/api/v1/me").status_code == 401
    with api(server, renewed) as client:
        assert client.get("/api/v1/me").status_code == 200


def test_login_with_a_wrong_password_stores_nothing(
    egide: Cli, server: Live, config_home: Path
) -> None:
    message = egide.fails(
        3, "login", server.url, "--username", "alice", "--password-stdin", stdin="wrong one\n"
    )
    assert "wrong one" not in message
    assert not (config_home / "egide" / "remotes.toml").exists()


def test_login_needs_a_terminal_or_password_stdin(egide: Cli, server: Live) -> None:
    # --password: without it, the login is approved in the browser (test_remote_device.py).
    message = egide.fails(2, "login", server.url, "--password", "--username", "alice", stdin="")
    assert "--password-stdin" in message


@pytest.mark.parametrize(
    "url", ["http://egide.example.org", "http://192.0.2.7:8000/egide", "http://[2001:db8::1]"]
)
def test_plain_http_beyond_loopback_is_refused(egide: Cli, config_home: Path, url: str) -> None:
    message = egide.fails(
        2, "login", url, "--username", "alice", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert "--insecure-http" in message
    assert "unencrypted" in message
    assert not (config_home / "egide").exists()


def test_logout_revokes_the_token(
    egide: Cli, server: Live, config_home: Path, logged_in: str
) -> None:
    result = egide.ok("logout")
    assert "revoked" in said(result)
    with api(server, logged_in) as client:
        assert client.get("/api/v1/me").status_code == 401
    assert remotes_file(config_home).get("remotes", {}) == {}
    assert "log in first" in egide.fails(2, "ls", "cardio", "--remote", "default")


def test_a_refused_token_says_to_log_in_again(
    egide: Cli, server: Live, config_home: Path, logged_in: str
) -> None:
    token_id = remotes_file(config_home)["remotes"]["default"]["token_id"]
    server.svc.accounts.revoke_token(server.svc.accounts.principal_for_username("alice"), token_id)
    message = egide.fails(3, "ls", "cardio", "--remote", "default")
    assert "log in again" in message
    assert f"egide login {server.url} --remote-name default" in message
    assert logged_in not in message
    # Logging out of a token the server already refused still removes it.
    egide.ok("logout")
    assert remotes_file(config_home).get("remotes", {}) == {}


def test_a_remotes_file_readable_by_others_is_refused(
    egide: Cli, config_home: Path, logged_in: str
) -> None:
    (config_home / "egide" / "remotes.toml").chmod(0o644)
    message = egide.fails(13, "ls", "cardio", "--remote", "default")
    assert "chmod 600" in message
    assert logged_in not in message


# Files --------------------------------------------------------------------------------


def test_put_get_ls_versions_mv_rm(
    egide: Cli, server: Live, tmp_path: Path, logged_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "compte rendu.txt"
    source.write_bytes(b"first version\n")
    egide.ok("put", str(source), "cardio/compte rendu.txt", "--remote", "default")
    assert server.recorder.to("/api/v1/spaces/cardio/content/", "PUT")
    assert not server.recorder.to("/api/v1/uploads")
    source.write_bytes(b"second, longer version\n")
    stored = json.loads(
        egide.ok(
            "put", str(source), "cardio/compte rendu.txt", "--remote", "default", "--json"
        ).stdout
    )
    assert stored["number"] == 2
    assert stored["size"] == len(b"second, longer version\n")

    # EGIDE_REMOTE selects the remote, like --remote.
    monkeypatch.setenv("EGIDE_REMOTE", "default")
    egide.ok("get", "cardio/compte rendu.txt", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_bytes() == b"second, longer version\n"
    assert egide.ok("get", "cardio/compte rendu.txt", "-").stdout == "second, longer version\n"
    assert "--force" in egide.fails(6, "get", "cardio/compte rendu.txt", str(tmp_path / "copy.txt"))

    history = egide.json("versions", "cardio/compte rendu.txt")
    assert [v["number"] for v in history] == [2, 1]
    assert history[0]["id"] == stored["id"]
    old = history[1]["id"]
    egide.ok("get", "cardio/compte rendu.txt", str(tmp_path / "old.txt"), "--version", old)
    assert (tmp_path / "old.txt").read_bytes() == b"first version\n"
    table = said(egide.ok("versions", "cardio/compte rendu.txt"))
    assert stored["id"] in table
    assert old in table

    server.svc.nodes.mkdir(
        server.svc.accounts.principal_for_username("alice"), "cardio", "Dossier DUPONT"
    )
    listing = egide.json("ls", "cardio")
    assert [(i["name"], i["kind"]) for i in listing] == [
        ("Dossier DUPONT", "folder"),
        ("compte rendu.txt", "file"),
    ]
    assert listing[1]["version_id"] == stored["id"]
    shown = said(egide.ok("ls", "cardio"))
    assert "Dossier DUPONT/" in shown
    assert stored["id"] in shown

    assert "Moved." in said(
        egide.ok("mv", "cardio/compte rendu.txt", "cardio/Dossier DUPONT/cr.txt")
    )
    assert [i["name"] for i in egide.json("ls", "cardio/Dossier DUPONT")] == ["cr.txt"]
    assert "Moved to the trash" in said(egide.ok("rm", "cardio/Dossier DUPONT"))
    assert [i["name"] for i in egide.json("ls", "cardio")] == []
    trash = server.svc.nodes.trash(server.svc.accounts.principal_for_username("alice"), "cardio")
    assert [t.name for t in trash] == ["Dossier DUPONT"]
    # Every answer travelled with the token, and no output ever showed it.
    assert logged_in not in egide.ok("ls", "cardio").output


def test_put_from_standard_input(egide: Cli, server: Live, logged_in: str) -> None:
    body = data(3 * MIB + 5, seed=3)
    egide.ok("put", "-", "cardio/dump.sql", "--remote", "default", stdin=body)
    (put,) = server.recorder.to("/api/v1/spaces/cardio/content/", "PUT")
    assert put.body == len(body)
    got = egide.ok("get", "cardio/dump.sql", "-", "--remote", "default")
    assert got.stdout_bytes == body


def test_ls_follows_pages(
    egide: Cli, server: Live, logged_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = server.svc.accounts.principal_for_username("alice")
    for i in range(5):
        server.svc.nodes.mkdir(alice, "cardio", f"dossier-{i}")
    monkeypatch.setattr("egide.cli.remote.transfers.PAGE", 2)
    names = [i["name"] for i in egide.json("ls", "cardio", "--remote", "default")]
    assert names == [f"dossier-{i}" for i in range(5)]
    assert len(server.recorder.to("/api/v1/spaces/cardio/nodes/", "GET")) == 3


def test_a_server_error_is_its_detail_with_the_exit_code(
    egide: Cli, server: Live, tmp_path: Path, logged_in: str
) -> None:
    source = tmp_path / "orphan.txt"
    source.write_bytes(b"no parent")
    with api(server, logged_in) as client:
        answer = client.put("/api/v1/spaces/cardio/content/missing/orphan.txt", content=b"x")
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    message = egide.fails(6, "put", str(source), "cardio/missing/orphan.txt", "--remote", "default")
    assert message == f"Error: {' '.join(detail.split())}"
    assert "Error:" in egide.fails(5, "ls", "cardio/nowhere", "--remote", "default")
    assert "Error:" in egide.fails(5, "get", "cardio/nowhere.txt", "x.txt", "--remote", "default")
    assert not (Path.cwd() / "x.txt").exists()
    assert not list(Path.cwd().glob(".*egide-part"))


def test_conditional_puts(egide: Cli, server: Live, tmp_path: Path, logged_in: str) -> None:
    source = tmp_path / "note.txt"
    source.write_bytes(b"v1")
    first = json.loads(
        egide.ok("put", str(source), "cardio/note.txt", "--remote", "default", "--json").stdout
    )
    egide.fails(7, "put", str(source), "cardio/note.txt", "--remote", "default", "--no-overwrite")
    source.write_bytes(b"v2")
    egide.ok(
        "put", str(source), "cardio/note.txt", "--remote", "default", "--if-match", first["id"]
    )
    egide.fails(
        7, "put", str(source), "cardio/note.txt", "--remote", "default", "--if-match", first["id"]
    )


# Large files: tus ----------------------------------------------------------------------


@pytest.fixture
def small_tus(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MiB chunks from 1 MiB up, so a 5 MiB file is six PATCH requests."""
    monkeypatch.setattr(tus, "THRESHOLD", MIB)
    monkeypatch.setattr(tus, "CHUNK", MIB)


@pytest.mark.usefixtures("small_tus")
def test_a_large_file_goes_through_tus(
    egide: Cli, server: Live, tmp_path: Path, logged_in: str, config_home: Path
) -> None:
    body = data(5 * MIB + 123)
    source = tmp_path / "scan.dcm"
    source.write_bytes(body)
    version = json.loads(
        egide.ok("put", str(source), "cardio/scan.dcm", "--remote", "default", "--json").stdout
    )
    assert version["size"] == len(body)
    assert version["sha256"] == hashlib.sha256(body).hexdigest()
    patches = server.recorder.to("/api/v1/uploads/", "PATCH")
    assert [p.body for p in patches] == [MIB] * 5 + [123]
    assert not server.recorder.to("/api/v1/spaces/cardio/content/", "PUT")
    # Finished: nothing left to resume.
    assert json.loads((config_home / "egide" / "uploads.json").read_text()) == {}
    egide.ok("get", "cardio/scan.dcm", str(tmp_path / "back.dcm"), "--remote", "default")
    assert (tmp_path / "back.dcm").read_bytes() == body


@pytest.mark.usefixtures("small_tus")
def test_an_interrupted_upload_resumes_from_the_servers_offset(
    egide: Cli, server: Live, logged_in: str, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = Path.cwd()
    body = data(5 * MIB + 123, seed=1)
    source = tmp_path / "serie.bin"
    source.write_bytes(body)
    reads = 0

    def read_then_stop(handle: Any, size: int) -> bytes:
        nonlocal reads
        reads += 1
        if reads == 3:
            raise KeyboardInterrupt
        chunk: bytes = handle.read(size)
        return chunk

    monkeypatch.setattr(tus, "read_chunk", read_then_stop)
    result = egide("put", str(source), "cardio/serie.bin", "--remote", "default")
    assert result.exit_code == 130
    assert "run the same command again" in said(result)
    state_path = config_home / "egide" / "uploads.json"
    assert mode_of(state_path) == 0o600
    (entry,) = json.loads(state_path.read_text()).values()
    upload_url = entry["url"]
    assert upload_url.startswith(f"{server.url}/api/v1/uploads/")
    with api(server, logged_in) as client:
        held = client.head(upload_url, headers={"Tus-Resumable": "1.0.0"})
    assert int(held.headers["upload-offset"]) == 2 * MIB
    with api(server, logged_in) as client:
        assert client.get("/api/v1/spaces/cardio/nodes/serie.bin").status_code == 404

    monkeypatch.setattr(tus, "read_chunk", lambda handle, size: handle.read(size))
    server.recorder.requests.clear()
    result = egide.ok("put", str(source), "cardio/serie.bin", "--remote", "default")
    assert "Resumed an interrupted upload after 2.0 MiB" in said(result)
    upload_path = httpx.URL(upload_url).path
    assert [r.method for r in server.recorder.to("/api/v1/uploads")][:1] == ["HEAD"]
    assert server.recorder.to(upload_path, "HEAD")
    assert not server.recorder.to("/api/v1/uploads", "POST")
    sent = sum(r.body for r in server.recorder.to(upload_path, "PATCH"))
    assert sent == len(body) - 2 * MIB
    assert json.loads(state_path.read_text()) == {}
    egide.ok("get", "cardio/serie.bin", str(tmp_path / "back.bin"), "--remote", "default")
    assert (tmp_path / "back.bin").read_bytes() == body


@pytest.mark.usefixtures("small_tus")
def test_an_upload_the_server_forgot_starts_afresh(
    egide: Cli, server: Live, logged_in: str, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = Path.cwd()
    body = data(3 * MIB, seed=2)
    source = tmp_path / "irm.bin"
    source.write_bytes(body)

    def stop_at_once(handle: Any, size: int) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(tus, "read_chunk", stop_at_once)
    assert egide("put", str(source), "cardio/irm.bin", "--remote", "default").exit_code == 130
    (entry,) = json.loads((config_home / "egide" / "uploads.json").read_text()).values()
    with api(server, logged_in) as client:  # terminated, as if it had expired
        gone = client.delete(entry["url"], headers={"Tus-Resumable": "1.0.0"})
    assert gone.status_code == 204
    monkeypatch.setattr(tus, "read_chunk", lambda handle, size: handle.read(size))
    server.recorder.requests.clear()
    result = egide.ok("put", str(source), "cardio/irm.bin", "--remote", "default")
    assert "Resumed" not in said(result)
    assert [r.method for r in server.recorder.to("/api/v1/uploads")][:2] == ["HEAD", "POST"]
    assert sum(r.body for r in server.recorder.to("/api/v1/uploads", "PATCH")) == len(body)
    egide.ok("get", "cardio/irm.bin", str(tmp_path / "back.bin"), "--remote", "default")
    assert (tmp_path / "back.bin").read_bytes() == body


# Pieces without a server -------------------------------------------------------------


def test_the_remotes_file_round_trips_awkward_strings() -> None:
    remotes = Remotes()
    odd = 'a "quoted" back\\slash\ttab \u00e9\x7f'
    remotes.add(Remote("default", "https://h/x", odd, "id", "egd_secret"))
    remotes.add(Remote("two", "https://h2", "bob", "id2", "egd_other"))
    parsed = tomllib.loads(render(remotes))
    assert parsed["default"] == "default"
    assert parsed["remotes"]["default"]["username"] == odd
    assert parsed["remotes"]["two"]["token"] == "egd_other"
    assert "egd_secret" not in repr(remotes)
