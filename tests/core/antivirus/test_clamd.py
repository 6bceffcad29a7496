"""The clamd client against a real clamd (tests/clamd.py), and its failure modes."""

from __future__ import annotations

import contextlib
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
    QueuedFeed,
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


@contextlib.contextmanager
def silent_peer() -> Iterator[str]:
    """The address of a listener that accepts and then neither reads nor answers
    (a hung clamd); its connections are closed at the end."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        try:
            yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            thread.join(5)
            for conn in accepted:
                conn.close()


def test_a_daemon_that_never_answers_times_out() -> None:
    """A listener that accepts and stays silent (a hung clamd): bounded by the timeout."""
    with silent_peer() as address:
        client = ClamdClient(address, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ClamdUnavailable, match="timed out"):
            client.ping()
        assert time.monotonic() - started < 2


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


def test_a_verdict_read_later_from_another_thread(clamd: ClamdServer) -> None:
    scan = ClamdClient(clamd.address).instream()
    scan.feed(b"\0" * 5000 + MARKER)
    scan.end()  # clamd scans now; the answer waits in the socket
    verdicts: list[Verdict] = []
    thread = threading.Thread(target=lambda: verdicts.append(scan.verdict()))
    thread.start()
    thread.join(10)
    assert verdicts == [Verdict(Outcome.INFECTED, "Egide.Test.Marker.UNOFFICIAL")]
    with pytest.raises(ClamdUnavailable, match="closed"):
        scan.verdict()  # one verdict per conversation


def test_a_queued_feed_sends_everything_in_order(clamd: ClamdServer) -> None:
    scan = ClamdClient(clamd.address).instream()
    feed = QueuedFeed(scan, budget=4096)  # a small budget: put waits for the thread
    body = b"\0" * 100_000 + MARKER + b"\0" * 100_000
    for start in range(0, len(body), 1000):  # the marker cut across chunks
        feed.put(body[start : start + 1000])
    feed.drain()
    assert scan.fed == len(body)
    assert scan.finish() == Verdict(Outcome.INFECTED, "Egide.Test.Marker.UNOFFICIAL")


def test_a_queued_feed_raises_what_its_thread_met(clamd: ClamdServer) -> None:
    scan = ClamdClient(clamd.address).instream()
    feed = QueuedFeed(scan, budget=1 << 16)
    feed.put(b"x" * 1000)
    clamd.stop()

    def put_then_drain() -> None:  # it surfaces at a later put, or at the end
        for _ in range(256):
            feed.put(b"x" * 65536)
        feed.drain()

    try:
        with pytest.raises(ClamdUnavailable):
            put_then_drain()
    finally:
        feed.close()
        clamd.start()


def test_closing_a_queued_feed_ends_a_send_blocked_on_a_silent_peer() -> None:
    """A peer that accepts and never reads: the feed's thread blocks in its send;
    `close` (the upload abandoned) ends it at once instead of at the timeout."""
    with silent_peer() as address:
        scan = ClamdClient(address, timeout=30).instream()
        feed = QueuedFeed(scan, budget=1 << 20)
        sent: list[int] = []

        def produce() -> None:  # the write path, 64 MiB: far more than socket buffers
            with contextlib.suppress(ClamdUnavailable):
                for _ in range(64):
                    feed.put(b"x" * (1 << 20))
                    sent.append(1)

        producer = threading.Thread(target=produce)
        producer.start()
        progress = -1
        while len(sent) != progress:  # until the producer is stuck
            progress = len(sent)
            time.sleep(0.5)
        assert len(sent) < 64
        started = time.monotonic()
        feed.close()
        producer.join(5)
        assert not producer.is_alive()
        assert time.monotonic() - started < 5
        with pytest.raises(ClamdUnavailable, match="closed"):
            feed.put(b"late")


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
