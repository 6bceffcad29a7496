"""A 2 GiB upload and download through a running `egide serve`, in bounded memory.

Issue 3: an upload is encrypted as it arrives (no spooled body), a download
decrypts as it is sent; the server's RSS stays under 300 MiB whatever the
size. Heavy: run once, on SQLite.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.signin import sign_in

pytestmark = pytest.mark.heavy

PASSWORD = "violet tramway harbour 1987"
MIB = 1 << 20
SIZE = 2048 * MIB
RSS_LIMIT = 300 * MIB


def egide(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    command = [str(Path(sys.executable).with_name("egide")), *args]
    subprocess.run(
        command, env=env, input=stdin, text=True, check=True, capture_output=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def body(size: int) -> Iterator[bytes]:
    """`size` bytes that do not repeat at a short period (a counter in each MiB)."""
    block = bytearray(os.urandom(MIB))
    for i in range(size // MIB):
        block[:8] = i.to_bytes(8, "big")
        yield bytes(block)


class PeakRss:
    """Samples a process's resident memory until stopped; keeps the maximum."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    env = {**os.environ, "EGIDE_DATA_DIR": str(tmp_path / "data")}
    env.pop("EGIDE_DATABASE_URL", None)
    egide(env, "init", "--admin", "admin", "--admin-password-stdin", stdin=PASSWORD + "\n")
    egide(env, "user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    egide(env, "space", "create", "imagerie", "--manager", "alice")
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("egide")), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("egide serve did not become ready")
    try:
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_two_gib_up_and_down_in_bounded_memory(server: tuple[str, int]) -> None:
    url, pid = server
    with httpx.Client(base_url=url, timeout=600) as client:
        client.headers["X-CSRF-Token"] = sign_in(client, "alice", PASSWORD)
        sent = hashlib.sha256()

        def upload() -> Iterator[bytes]:
            for chunk in body(SIZE):
                sent.update(chunk)
                yield chunk

        with PeakRss(pid) as up_rss:
            put = client.put("/api/v1/spaces/imagerie/content/serie.dcm", content=upload())
        assert put.status_code == 201, put.text
        assert put.json()["size"] == SIZE
        assert put.json()["sha256"] == sent.hexdigest()
        received = hashlib.sha256()
        total = 0
        with (
            PeakRss(pid) as down_rss,
            client.stream("GET", "/api/v1/spaces/imagerie/content/serie.dcm") as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received.update(chunk)
                total += len(chunk)
        assert total == SIZE
        assert received.hexdigest() == sent.hexdigest()
    assert up_rss.peak < RSS_LIMIT, f"upload peak RSS {up_rss.peak / MIB:.0f} MiB"
    assert down_rss.peak < RSS_LIMIT, f"download peak RSS {down_rss.peak / MIB:.0f} MiB"
    print(f"peak RSS: upload {up_rss.peak / MIB:.0f} MiB, download {down_rss.peak / MIB:.0f} MiB")  # noqa: T201
