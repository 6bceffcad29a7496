"""Antivirus through a running `egide serve` and a real clamd (issue 8, item 5).

The real tuspy client and plain PUTs: the EICAR file and a custom body
signature are refused with 422 naming the signature, whatever the door; a
clean 64 MiB file streams through the scan with the server's memory bounded
(clamd gets the chunks as they are encrypted, nothing is buffered whole).
`egide serve` warns when no clamd is configured. Heavy: subprocesses.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.clamd import EICAR, MARKER, ClamdServer
from tests.e2e.test_http_streaming import MIB, PeakRss, body, egide
from tests.e2e.test_tus_resume import PASSWORD, Server, bearer_token

pytestmark = pytest.mark.heavy

SIZE = 64 * MIB
#: The server's resident memory while it takes 64 MiB: a few chunks, not the file.
RSS_LIMIT = 300 * MIB


@pytest.fixture
def clamd() -> Iterator[ClamdServer]:
    server = ClamdServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def server(tmp_path: Path, clamd: ClamdServer) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv.env["EGIDE_CLAMD_ADDRESS"] = clamd.address
    srv.env["EGIDE_ANTIVIRUS_RESCAN_INTERVAL_SECONDS"] = "5"
    egide(srv.env, "init", "--admin", "admin", "--admin-password-stdin", stdin=PASSWORD + "\n")
    egide(srv.env, "user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    egide(srv.env, "space", "create", "imagerie", "--manager", "alice")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _tus(url: str, token: str, data: bytes, name: str) -> None:
    with io.BytesIO(data) as stream:
        TusClient(f"{url}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"}).uploader(
            file_stream=stream,
            chunk_size=64 * 1024,
            metadata={"space": "imagerie", "path": name},
            store_url=False,
        ).upload()


def test_infected_files_are_refused_over_tus_and_put(server: Server) -> None:
    token = bearer_token(server.url)
    infected = b"\x7fDICM" + b"\0" * 200_000 + MARKER + b"\0" * 50_000
    for data, signature in ((EICAR, "Test.Eicar"), (infected, "Egide.Test.Marker")):
        with pytest.raises(TusCommunicationError) as caught:
            _tus(server.url, token, data, "infected.bin")
        assert caught.value.status_code == 422
        assert signature in str(caught.value.response_content)
        put = httpx.put(
            f"{server.url}/api/v1/spaces/imagerie/content/infected.bin",
            content=data,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert put.status_code == 422
        assert put.json()["type"] == "urn:egide:problem:file-infected"
        assert f"{signature}.UNOFFICIAL" in put.json()["detail"]
    listing = httpx.get(
        f"{server.url}/api/v1/spaces/imagerie/versions/infected.bin",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listing.status_code == 404  # nothing of it became visible
    _tus(server.url, token, b"clean report" * 1000, "clean.txt")
    versions = httpx.get(
        f"{server.url}/api/v1/spaces/imagerie/versions/clean.txt",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert [v["scan"] for v in versions] == ["clean"]


def test_a_big_upload_is_scanned_in_bounded_memory(server: Server) -> None:
    token = bearer_token(server.url)
    assert server.proc is not None
    sent = hashlib.sha256()

    def upload() -> Iterator[bytes]:
        for chunk in body(SIZE):
            sent.update(chunk)
            yield chunk

    with PeakRss(server.proc.pid) as rss:
        put = httpx.put(
            f"{server.url}/api/v1/spaces/imagerie/content/serie.dcm",
            content=upload(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert put.status_code == 201, put.text
        # Over antivirus_wait_max_bytes: answered once stored, its verdict follows (ADR 29).
        assert put.json()["scan"] == "pending"
        assert wait_for_scan(server.url, token, "serie.dcm") == "clean"
    assert put.json()["sha256"] == sent.hexdigest()
    assert rss.peak < RSS_LIMIT, f"peak RSS {rss.peak / MIB:.0f} MiB"


def wait_for_scan(url: str, token: str, name: str) -> str:
    """The scan state of a file's current version once it is no longer pending
    (or still pending after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        versions = httpx.get(
            f"{url}/api/v1/spaces/imagerie/versions/{name}",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        if versions[0]["scan"] != "pending" or time.monotonic() > deadline:
            return str(versions[0]["scan"])
        time.sleep(0.05)


def test_the_server_s_worker_releases_a_held_file_once_clamd_is_back(
    server: Server, clamd: ClamdServer
) -> None:
    token = bearer_token(server.url)
    auth = {"Authorization": f"Bearer {token}"}
    clamd.stop()
    put = httpx.put(
        f"{server.url}/api/v1/spaces/imagerie/content/cr.txt", content=b"RAS", headers=auth
    )
    assert put.status_code == 201, put.text
    assert put.json()["scan"] == "pending"
    clamd.start()
    assert wait_for_scan(server.url, token, "cr.txt") == "clean", "not released by the worker"


def test_serve_warns_when_scanning_is_off(tmp_path: Path) -> None:
    srv = Server(tmp_path)
    srv.env.pop("EGIDE_CLAMD_ADDRESS", None)
    egide(srv.env, "init", "--admin", "admin", "--admin-password-stdin", stdin=PASSWORD + "\n")
    srv.start()
    srv.stop()
    assert "antivirus scanning is off" in srv.log_path.read_text()
