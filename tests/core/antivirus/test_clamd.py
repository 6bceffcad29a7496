"""The clamd client against a real clamd (tests/clamd.py), and its failure modes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from egide.core.antivirus.clamd import (
    Address,
    ClamdClient,
    ClamdUnavailable,
    Outcome,
    Verdict,
    database_version,
    parse_answer,
)
from tests.clamd import EICAR, MARKER, ClamdServer, free_port


@pytest.fixture(scope="module")
def clamd() -> Iterator[ClamdServer]:
    server = ClamdServer(stream_max=1 << 20)  # clamd's StreamMaxLength: 1 MiB
    try:
        yield server.start()
    finally:
        server.close()


def test_ping_version_and_verdicts(clamd: ClamdServer) -> None:
    client = ClamdClient(clamd.address)
    assert client.ping()
    assert client.version().startswith("ClamAV ")
    assert client.scan_bytes(b"rien a signaler") == Verdict(Outcome.CLEAN)
    assert client.scan_bytes(EICAR) == Verdict(Outcome.INFECTED, "Test.Eicar.UNOFFICIAL")
    infected = client.scan_bytes(b"\0" * 5000 + MARKER + b"\0" * 5000)
    assert infected == Verdict(Outcome.INFECTED, "Egide.Test.Marker.UNOFFICIAL")


def test_clamd_s_own_size_limit_is_too_large_never_clean(clamd: ClamdServer) -> None:
    client = ClamdClient(clamd.address)
    with client.instream() as scan:
        for _ in range(3):
            scan.feed(b"a" * (1 << 20))  # clamd stops reading after its StreamMaxLength
        assert scan.finish().outcome is Outcome.TOO_LARGE


def test_an_address_nobody_listens_on_is_unavailable_at_once() -> None:
    client = ClamdClient(f"tcp://127.0.0.1:{free_port()}", connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(ClamdUnavailable, match="cannot connect"):
        client.ping()
    with pytest.raises(ClamdUnavailable):
        client.instream()
    assert time.monotonic() - started < 2


def test_a_daemon_that_never_answers_times_out() -> None:
    """A listener that accepts and stays silent (a hung clamd): bounded by the timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        client = ClamdClient(f"tcp://127.0.0.1:{port}", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ClamdUnavailable, match="timed out"):
            client.ping()
        assert time.monotonic() - started < 2
        thread.join()
        for conn in accepted:
            conn.close()


def test_a_clamd_stopped_mid_stream_is_unavailable(clamd: ClamdServer) -> None:
    client = ClamdClient(clamd.address)
    scan = client.instream()
    scan.feed(b"x" * 1000)
    clamd.stop()

    def feed_then_finish() -> None:
        for _ in range(64):
            scan.feed(b"x" * 65536)
        scan.finish()

    try:
        with pytest.raises(ClamdUnavailable):
            feed_then_finish()
    finally:
        scan.close()
        clamd.start()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:3310", Address("tcp", "127.0.0.1", 3310)),
        ("tcp://[::1]:3310", Address("tcp", "::1", 3310)),
        ("unix:///run/clamav/clamd.ctl", Address("unix", "/run/clamav/clamd.ctl")),
        ("/run/clamav/clamd.ctl", Address("unix", "/run/clamav/clamd.ctl")),
    ],
)
def test_addresses(text: str, expected: Address) -> None:
    assert Address.parse(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:3310", "tcp://host", "tcp://:3310", "http://x:1"])
def test_bad_addresses_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"tcp://HOST:PORT"):
        Address.parse(text)


def test_answers() -> None:
    assert parse_answer("stream: OK") == Verdict(Outcome.CLEAN)
    assert parse_answer("stream: Win.Test.EICAR_HDB-1 FOUND") == Verdict(
        Outcome.INFECTED, "Win.Test.EICAR_HDB-1"
    )
    assert parse_answer("INSTREAM size limit exceeded. ERROR").outcome is Outcome.TOO_LARGE
    limit = parse_answer("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND")
    assert limit.outcome is Outcome.TOO_LARGE
    with pytest.raises(ClamdUnavailable):
        parse_answer("Error processing command. ERROR")
    assert database_version("ClamAV 1.4.6/27480/Mon Nov 30 08:20:00 2026") == "27480"
    assert database_version("ClamAV 1.4.6") == "ClamAV 1.4.6"


def test_a_missing_clamd_fails_with_the_command_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tests.clamd

    monkeypatch.setattr(tests.clamd, "CLAMD", Path("/nonexistent/clamd"))
    with pytest.raises(tests.clamd.ClamdMissing, match="apt-get install"):
        ClamdServer()
