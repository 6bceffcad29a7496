"""Forwarding the audit log to real syslog listeners on 127.0.0.1 (issue 4, item 6)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from egide.core.audit import merkle
from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db import Database
from egide.services.audit import Sequencer
from egide.services.audit.forward import (
    FORWARD_LOCK,
    Collector,
    CollectorUnavailable,
    InvalidSyslogUrl,
    SyslogForwarder,
    message,
)
from egide.services.audit.worker import AuditWorker
from tests.services.audit.conftest import RecordMany
from tests.services.audit.helpers import stored_leaves
from tests.services.audit.signing import make_audit, new_provider
from tests.services.audit.syslog_listener import Collector as Listener
from tests.services.audit.syslog_listener import parse

ORIGIN = "audit.chu-exemple.fr/egide"


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    started: list[Listener] = []
    yield started
    for listener in started:
        listener.stop()


def listen(listeners: list[Listener], transport: str, port: int = 0) -> Listener:
    listener = Listener(transport, port)
    listeners.append(listener)
    return listener


def forwarder(db: Database, url: str, *, batch: int = 4) -> SyslogForwarder:
    return SyslogForwarder(
        db,
        Collector.parse(url),
        origin=ORIGIN,
        app_name="egide-test",
        hostname="vault-01",
        batch=batch,
        timeout=2.0,
    )


def logged(db: Database, clock: ManualClock, record_many: RecordMany, n: int) -> None:
    record_many(n)
    Sequencer(db, clock).run_pending()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_every_entry_arrives_once_in_order_with_its_exact_leaf(
    db: Database,
    clock: ManualClock,
    record_many: RecordMany,
    listeners: list[Listener],
    *,
    transport: str,
) -> None:
    logged(db, clock, record_many, 10)
    listener = listen(listeners, transport)
    sent = forwarder(db, listener.url).forward_pending()
    assert sent == 10
    listener.wait_for(10)
    received = listener.received()
    assert [item.seq for item in received] == list(range(10))
    for item, (seq, leaf) in zip(received, stored_leaves(db), strict=True):
        assert item.leaf == leaf  # byte for byte: a SIEM re-hashes these
        assert item.leaf_hash == merkle.leaf_hash(leaf).hex()
        assert json.loads(item.leaf)["seq"] == seq
        assert item.timestamp == json.loads(leaf)["time"]
        assert (item.pri, item.app_name, item.hostname) == (13 * 8 + 6, "egide-test", "vault-01")
        assert item.origin == ORIGIN
    assert forwarder(db, listener.url).next_seq() == 10


def test_nothing_more_to_send_sends_nothing(
    db: Database, clock: ManualClock, record_many: RecordMany, listeners: list[Listener]
) -> None:
    listener = listen(listeners, "tcp")
    assert forwarder(db, listener.url).forward_pending() == 0
    logged(db, clock, record_many, 3)
    assert forwarder(db, listener.url).forward_pending() == 3
    assert forwarder(db, listener.url).forward_pending() == 0
    assert listener.seqs() == [0, 1, 2]


def test_a_down_collector_skips_nothing_when_it_comes_back(
    db: Database, clock: ManualClock, record_many: RecordMany, listeners: list[Listener]
) -> None:
    logged(db, clock, record_many, 5)
    first = listen(listeners, "tcp")
    sending = forwarder(db, first.url)
    assert sending.forward_pending() == 5
    first.stop()
    listeners.remove(first)
    logged(db, clock, record_many, 6)
    with pytest.raises(CollectorUnavailable, match="Entries from 5 on are kept"):
        sending.forward_pending()
    assert sending.next_seq() == 5
    second = listen(listeners, "tcp", first.port)  # the same collector, back up
    assert sending.forward_pending() == 6
    assert first.seqs() + second.seqs() == list(range(11))


def test_a_collector_that_drops_the_connection_gets_the_batch_again(
    db: Database, clock: ManualClock, record_many: RecordMany, listeners: list[Listener]
) -> None:
    logged(db, clock, record_many, 4)
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()
        port = rude.getsockname()[1]
        sending = forwarder(db, f"tcp://127.0.0.1:{port}")
        # Accepted, never read, then closed with the data unread: the kernel resets it.

        def close_unread() -> None:
            conn, _ = rude.accept()
            time.sleep(0.2)
            conn.close()

        thread = threading.Thread(target=close_unread)
        thread.start()
        with pytest.raises(CollectorUnavailable):
            sending.forward_pending()
        thread.join(5)
    assert sending.next_seq() == 0, "nothing the collector did not read counts as sent"
    listener = listen(listeners, "tcp", port)
    assert sending.forward_pending() == 4
    assert listener.seqs() == [0, 1, 2, 3]


def test_a_new_forwarder_continues_from_the_durable_cursor(
    db: Database, clock: ManualClock, record_many: RecordMany, listeners: list[Listener]
) -> None:
    listener = listen(listeners, "tcp")
    logged(db, clock, record_many, 6)
    assert forwarder(db, listener.url).forward_pending() == 6
    logged(db, clock, record_many, 4)
    restarted = Database(db.url)  # another process, as after a restart
    try:
        assert forwarder(restarted, listener.url).forward_pending() == 4
    finally:
        restarted.dispose()
    assert listener.seqs() == list(range(10)), "nothing resent, nothing skipped"


def test_the_worker_forwards_after_sequencing_and_backs_off_when_the_collector_is_down(
    db: Database,
    clock: ManualClock,
    record_many: RecordMany,
    listeners: list[Listener],
    *,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    sending = forwarder(db, f"tcp://127.0.0.1:{port}")
    audit = make_audit(db, clock, new_provider(tmp_path), entries=1000)
    worker = AuditWorker(audit, forwarder=sending)
    record_many(3)
    with caplog.at_level(logging.WARNING, logger="egide.audit"):
        worker.run_once()  # must not raise: a down collector fails nothing else
    assert len(stored_leaves(db)) == 3, "sequencing went on"
    assert sending.next_seq() == 0
    assert sending.retry_in > 0
    failures = [r for r in caplog.records if r.getMessage() == "audit syslog forwarding failed"]
    assert len(failures) == 1
    logged_fields = json.dumps(failures[0].__dict__.get("egide"))
    assert "n-0" not in logged_fields, "no entry content in the log"
    listener = listen(listeners, "tcp", port)
    worker.run_once()  # still backing off: no attempt
    assert listener.messages == []
    deadline = time.monotonic() + 5
    while sending.retry_in > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.run_once()
    listener.wait_for(3)
    assert listener.seqs() == [0, 1, 2]


def test_forwarding_waits_its_turn_on_postgresql(
    db: Database, clock: ManualClock, record_many: RecordMany, listeners: list[Listener]
) -> None:
    if db.is_sqlite:
        pytest.skip("the advisory lock is PostgreSQL's; SQLite relies on compare and set")
    listener = listen(listeners, "tcp")
    logged(db, clock, record_many, 2)
    sending = forwarder(db, listener.url)
    with db.write() as other:
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FORWARD_LOCK})
        assert sending.forward_batch() == 0, "another forwarder holds the turn"
    assert sending.forward_batch() == 2
    assert listener.seqs() == [0, 1]


def test_settings_choose_the_collector(settings: Settings, db: Database) -> None:
    assert SyslogForwarder.from_settings(db, settings) is None
    tcp = SyslogForwarder.from_settings(
        db, settings.with_overrides(audit_syslog_url="tcp://[::1]:6514", audit_syslog_app_name="x")
    )
    assert tcp is not None
    assert str(tcp.collector) == "tcp://[::1]:6514"
    assert tcp.app_name == "x"
    udp = SyslogForwarder.from_settings(
        db, settings.with_overrides(audit_syslog_url="udp://siem:514")
    )
    assert udp is not None
    assert udp.collector == Collector("udp", "siem", 514)
    for bad in ("http://siem:514", "tcp://siem", "tcp://siem:0", "tcp://siem:99999"):
        with pytest.raises(InvalidSyslogUrl, match="tcp://host:port"):
            Collector.parse(bad)


def test_a_message_escapes_its_structured_data_and_keeps_the_leaf() -> None:
    leaf = b'{"outcome":"denied","seq":7,"time":"2026-03-02T09:00:00.000001Z","x":"\xc3\xa9"}'
    raw = message(7, leaf, app_name="egide", hostname="h", origin='a"b]c\\d')
    assert b'origin="a\\"b\\]c\\\\d"' in raw
    assert raw.startswith(b"<108>1 2026-03-02T09:00:00.000001Z h egide - audit [egide@32473 ")
    assert raw.endswith(b"\xef\xbb\xbf" + leaf)
    odd = message(8, b"not json", app_name="egide", hostname="h", origin="o")
    assert odd.startswith(b"<110>1 - h egide - audit ")
    assert odd.endswith(b"not json")
    assert parse(message(9, leaf, app_name="e", hostname="h", origin="o")).leaf == leaf
