"""`egide audit forward --once` against a real TCP syslog listener on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from egide.core.db import Database
from tests.cli.conftest import Cli
from tests.services.audit.helpers import stored_leaves
from tests.services.audit.syslog_listener import Collector


@pytest.fixture
def collector() -> Iterator[Collector]:
    listener = Collector("tcp")
    yield listener
    listener.stop()


def test_forward_once_sends_what_is_pending_then_only_what_is_new(
    cli: Cli,
    alice: str,
    tmp_path: Path,
    db: Database,
    *,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EGIDE_AUDIT_SYSLOG_URL", collector.url)
    monkeypatch.setenv("EGIDE_AUDIT_SYSLOG_APP_NAME", "egide-cli")
    (tmp_path / "note.txt").write_text("compte rendu")
    cli.ok("put", "note.txt", "cardio/a.txt", "-u", alice)
    first = cli.json("audit", "forward", "--once")
    leaves = stored_leaves(db)
    assert first == {"sent": len(leaves), "next_seq": len(leaves), "collector": collector.url}
    assert [(item.seq, item.leaf) for item in collector.received()] == leaves
    assert {item.app_name for item in collector.received()} == {"egide-cli"}
    cli.ok("put", "note.txt", "cardio/b.txt", "-u", alice)
    second = cli.ok("audit", "forward", "--once").stdout
    now = stored_leaves(db)
    assert f"{len(now) - len(leaves)} audit entries sent to {collector.url}" in second
    assert [(item.seq, item.leaf) for item in collector.received()] == now, "none twice"


def test_forward_without_a_collector_or_with_a_down_one_fails_clearly(
    cli: Cli, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "set EGIDE_AUDIT_SYSLOG_URL" in cli.fails(2, "audit", "forward", "--once")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EGIDE_AUDIT_SYSLOG_URL", f"tcp://127.0.0.1:{port}")
    message = cli.fails(13, "audit", "forward", "--once")
    assert f"The syslog collector tcp://127.0.0.1:{port} cannot be reached" in message
    assert "Entries from 0 on are kept" in message
