"""A resumable upload with the real tuspy client through a running `egide serve`.

Issue 3, item 4: an upload interrupted by a server crash (SIGKILL) resumes
after a restart on the same data directory, from the offset the server
kept, and the completed file is byte-identical. Heavy: subprocesses, 64 MiB.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from tests.e2e.signin import sign_in
from tests.e2e.test_http_streaming import egide, free_port

pytestmark = pytest.mark.heavy

PASSWORD = "violet tramway harbour 1987"
MIB = 1 << 20
SIZE = 64 * MIB
CHUNK = 4 * MIB


class Server:
    """`egide serve` on a fixed port and data directory, which can be killed and restarted."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {**os.environ, "EGIDE_DATA_DIR": str(tmp_path / "data")}
        self.env.pop("EGIDE_DATABASE_URL", None)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

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

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.proc = None

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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    egide(srv.env, "init", "--admin", "admin", "--admin-password-stdin", stdin=PASSWORD + "\n")
    egide(srv.env, "user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    egide(srv.env, "space", "create", "imagerie", "--manager", "alice")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def bearer_token(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as client:
        csrf = sign_in(client, "alice", PASSWORD)
        created = client.post(
            "/api/v1/tokens",
            json={"name": "tus", "scopes": ["files:read", "files:write"]},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
        secret: str = created.json()["secret"]
        return secret


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def downloaded_sha256(url: str, token: str, path: str) -> str:
    digest = hashlib.sha256()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{url}/api/v1/spaces/imagerie/content/{path}", headers=headers, timeout=120
    ) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def tus_offset(upload_url: str, token: str) -> int:
    head = httpx.head(
        upload_url, headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
    )
    assert head.status_code == 200
    return int(head.headers["upload-offset"])


def test_an_upload_resumes_after_the_server_is_killed(server: Server, tmp_path: Path) -> None:
    token = bearer_token(server.url)
    source = tmp_path / "serie.bin"
    expected = random_file(source, SIZE)
    auth = {"Authorization": f"Bearer {token}"}
    # tuspy leaves files it opens itself unclosed: hand it streams we close.
    with source.open("rb") as stream:
        first = TusClient(f"{server.url}/api/v1/uploads", headers=auth).uploader(
            file_stream=stream,
            chunk_size=CHUNK,
            metadata={"space": "imagerie", "path": "serie.bin"},
            store_url=False,
        )
        first.upload(stop_at=24 * MIB)
    upload_url = str(first.url)
    assert tus_offset(upload_url, token) == 24 * MIB

    server.kill()
    server.start()

    with source.open("rb") as again:
        resumed = TusClient(f"{server.url}/api/v1/uploads", headers=auth).uploader(
            file_stream=again, chunk_size=CHUNK, url=upload_url, store_url=False
        )
        assert resumed.offset == 24 * MIB
        resumed.upload()
    assert tus_offset(upload_url, token) == SIZE
    assert downloaded_sha256(server.url, token, "serie.bin") == expected


def test_an_upload_with_checksums(server: Server, tmp_path: Path) -> None:
    token = bearer_token(server.url)
    source = tmp_path / "checked.bin"
    expected = random_file(source, 8 * MIB)
    with source.open("rb") as stream:
        uploader = TusClient(
            f"{server.url}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"}
        ).uploader(
            file_stream=stream,
            chunk_size=3 * MIB,
            metadata={"space": "imagerie", "filename": "checked.bin"},
            upload_checksum=True,
            store_url=False,
        )
        uploader.upload()
    assert tus_offset(str(uploader.url), token) == 8 * MIB
    assert downloaded_sha256(server.url, token, "checked.bin") == expected


def test_a_client_that_disconnects_mid_body_keeps_what_was_sent(
    server: Server, tmp_path: Path
) -> None:
    token = bearer_token(server.url)
    source = tmp_path / "cut.bin"
    expected = random_file(source, 2 * MIB)
    data = source.read_bytes()
    with source.open("rb") as stream:
        uploader = TusClient(
            f"{server.url}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"}
        ).uploader(
            file_stream=stream,
            chunk_size=MIB,
            metadata={"space": "imagerie", "path": "cut.bin"},
            store_url=False,
        )
        uploader.set_url(uploader.create_url())
    upload_url = str(uploader.url)
    path = upload_url.removeprefix(server.url)
    sent = 700 * 1024
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {token}\r\nUpload-Offset: 0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head.encode() + data[:sent])
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while tus_offset(upload_url, token) != sent and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tus_offset(upload_url, token) == sent
    with source.open("rb") as stream:
        resumed = TusClient(
            f"{server.url}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"}
        ).uploader(file_stream=stream, chunk_size=MIB, url=upload_url, store_url=False)
        resumed.upload()
    assert downloaded_sha256(server.url, token, "cut.bin") == expected
