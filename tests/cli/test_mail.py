"""`egide mail send-pending | status | test` and `egide user language`, against a real
SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from egide.core.db import Database
from egide.core.db.models import User
from tests.cli.conftest import Cli
from tests.services.mail.smtp_server import SmtpServer


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    monkeypatch.setenv("EGIDE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("EGIDE_SMTP_PORT", str(server.port))
    monkeypatch.setenv("EGIDE_SMTP_SECURITY", "none")
    monkeypatch.setenv("EGIDE_SMTP_FROM", "Égide <egide@chu.example>")
    monkeypatch.setenv("EGIDE_SMTP_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("EGIDE_PUBLIC_URL", "https://egide.chu.example")
    yield server
    server.stop()


def test_test_status_send_pending(cli: Cli, recovery_code: str, smtp: SmtpServer) -> None:
    assert cli.json("mail", "status")["pending"] == 0
    queued = cli.json("mail", "test", "dr.martin@chu.example", "--language", "en")
    status = cli.json("mail", "status")
    assert (status["configured"], status["pending"], status["sent"]) == (True, 1, 0)
    assert status["oldest_pending_seconds"] >= 0
    assert cli.json("mail", "send-pending") == {
        "sent": 1,
        "deferred": 0,
        "failed": 0,
        "error": None,
    }
    (got,) = smtp.received
    assert got.message["Subject"] == "Égide: test message"
    assert queued["id"]
    assert got.message["Message-ID"].startswith("<test.")
    assert got.message["Message-ID"].endswith("@egide.chu.example>")
    status = cli.json("mail", "status")
    assert (status["pending"], status["sent"], status["oldest_pending_seconds"]) == (0, 1, None)
    assert "Pending: 0" in cli.ok("mail", "status").output


def test_send_pending_while_the_server_is_down(
    cli: Cli, recovery_code: str, smtp: SmtpServer
) -> None:
    cli.ok("mail", "test", "dr.martin@chu.example")
    smtp.stop()
    result = cli("mail", "send-pending")
    assert result.exit_code == 13, result.output
    assert "0 sent, 1 deferred" in result.output
    status = cli.json("mail", "status")
    assert status["pending"] == 1
    assert status["last_error"] == "ConnectionRefusedError"


def test_send_pending_without_a_server(cli: Cli, recovery_code: str) -> None:
    cli.ok("mail", "test", "dr.martin@chu.example")
    said = cli.fails(13, "mail", "send-pending")
    assert "EGIDE_SMTP_HOST" in said
    assert cli.json("mail", "status")["configured"] is False


@pytest.mark.parametrize(
    "address", ["dr@chu.example\r\nBcc: spy@evil.example", "a@chu.example,b@chu.example"]
)
def test_test_refuses_a_bad_address(cli: Cli, recovery_code: str, address: str) -> None:
    assert "not valid" in cli.fails(2, "mail", "test", address)
    assert cli.json("mail", "status")["pending"] == 0


def test_user_language(cli: Cli, alice: str, database_url: str) -> None:
    cli.ok("user", "language", "alice", "en")
    db = Database(database_url)
    try:
        with db.read() as session:
            assert (
                session.scalars(select(User.language).where(User.username == "alice")).one() == "en"
            )
        cli.ok("user", "language", "alice", "default")
        with db.read() as session:
            assert (
                session.scalars(select(User.language).where(User.username == "alice")).one() is None
            )
    finally:
        db.dispose()
    assert "fr or en" in cli.fails(2, "user", "language", "alice", "de")
    cli.fails(5, "user", "language", "nobody", "fr")
