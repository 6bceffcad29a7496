"""The SMTP worker against a real server (aiosmtpd on 127.0.0.1): delivery, TLS, AUTH,
refusals, outages and crashes (issue 7 item 6)."""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent
from egide.services.mail.errors import InvalidMailSender
from egide.services.mail.sender import (
    Claimed,
    ClearTextCredentials,
    MailSender,
    SmtpConfig,
    backoff,
)
from egide.services.registry import Services
from tests.mail_fixtures import PUBLIC_URL
from tests.services.mail.helpers import enqueue, row, rows
from tests.services.mail.smtp_server import Certificate, SmtpServer
from tests.vault_fixtures import SYSTEM

pytestmark = pytest.mark.db


def _config(server: SmtpServer, security: str, **extra: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": security,
        "sender": Address("Égide", "egide", "hopital.example"),
        "public_url": PUBLIC_URL,
        "timeout": 5.0,
    }
    values.update(extra)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def test_delivers_with_headers_message_id_and_body(svc: Services, smtp: SmtpServer) -> None:
    (key,) = enqueue(svc)
    report = svc.mail.send_pending()
    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    (got,) = smtp.received
    assert got.mail_from == "egide@hopital.example"
    assert got.rcpt_tos == ["dr.0@chu.example"]
    msg = got.message
    assert msg["To"] == "dr.0@chu.example"
    assert msg["From"].addresses[0].display_name == "Égide"
    assert msg["From"].addresses[0].addr_spec == "egide@hopital.example"
    assert msg["Subject"] == "Message 0"
    assert msg["Message-ID"] == f"<{key}@egide.hopital.example>"
    assert msg["Content-Language"] == "fr"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == row(svc, key).created_at
    assert msg.get_content().replace("\r\n", "\n") == "Corps du message 0.\n"
    sent = row(svc, key)
    assert sent.sent_at is not None
    assert sent.claimed_until is None
    assert sent.attempts == 1
    # Sent once: a second pass has nothing to do.
    assert svc.mail.send_pending().sent == 0
    assert len(smtp.received) == 1


def test_one_connection_per_batch_and_bounded_batches(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    enqueue(svc, 7)
    sender = MailSender(svc.db, svc.mail.sender.config, clock=clock, batch=3)
    report = sender.send_pending(max_batches=2)
    assert report.sent == 6  # two batches of three, then the pass stops
    assert len({r.session for r in smtp.received}) == 2
    assert sender.send_pending().sent == 1
    assert len(set(smtp.message_ids())) == 7


def test_mail_off_without_smtp_host(svc: Services, smtp: SmtpServer, clock: ManualClock) -> None:
    enqueue(svc, 2)
    off = MailSender(svc.db, None, clock=clock)
    assert off.send_pending().sent == 0
    assert all(r.sent_at is None and r.attempts == 0 for r in rows(svc))
    assert smtp.received == []
    assert svc.mail.send_pending().sent == 2  # once configured, they leave


def test_starttls_with_the_servers_ca(
    svc: Services, clock: ManualClock, certificate: Certificate
) -> None:
    server = SmtpServer(certificate=certificate, starttls=True).start()
    try:
        enqueue(svc)
        sender = MailSender(
            svc.db, _config(server, "starttls", ca_file=certificate.cert), clock=clock
        )
        assert sender.send_pending().sent == 1
        assert server.received[0].tls
    finally:
        server.stop()


def test_starttls_refuses_an_unknown_certificate(
    svc: Services, clock: ManualClock, certificate: Certificate
) -> None:
    server = SmtpServer(certificate=certificate, starttls=True).start()
    try:
        (key,) = enqueue(svc)
        sender = MailSender(svc.db, _config(server, "starttls"), clock=clock)  # system CAs
        report = sender.send_pending()
        assert (report.sent, report.deferred) == (0, 1)
        assert server.received == []
        assert "SSL" in row(svc, key).last_error
    finally:
        server.stop()


def test_starttls_never_falls_back_to_clear_text(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    (key,) = enqueue(svc)
    sender = MailSender(svc.db, _config(smtp, "starttls"), clock=clock)
    assert sender.send_pending().deferred == 1
    assert smtp.received == []
    assert row(svc, key).last_error == "SMTPNotSupportedError"


def test_implicit_tls_and_auth(svc: Services, clock: ManualClock, certificate: Certificate) -> None:
    server = SmtpServer(
        certificate=certificate, implicit_tls=True, credentials=("egide", "s3cret mot de passe")
    ).start()
    try:
        enqueue(svc, 2)
        config = _config(
            server,
            "tls",
            ca_file=certificate.cert,
            username="egide",
            password="s3cret mot de passe",
        )
        assert MailSender(svc.db, config, clock=clock).send_pending().sent == 2
        assert all(r.tls and r.login == "egide" for r in server.received)
    finally:
        server.stop()


def test_wrong_credentials_defer_and_are_not_recorded(
    svc: Services, clock: ManualClock, certificate: Certificate
) -> None:
    server = SmtpServer(
        certificate=certificate, starttls=True, credentials=("egide", "the right one")
    ).start()
    try:
        (key,) = enqueue(svc)
        config = _config(
            server, "starttls", ca_file=certificate.cert, username="egide", password="wrong pw"
        )
        assert MailSender(svc.db, config, clock=clock).send_pending().deferred == 1
        waiting = row(svc, key)
        assert waiting.last_error == "SMTPAuthenticationError: SMTP 535"
        assert "wrong pw" not in waiting.last_error
        assert "wrong pw" not in repr(config)
        assert server.received == []
    finally:
        server.stop()


def test_permanent_refusal_fails_and_is_audited(svc: Services, smtp: SmtpServer) -> None:
    smtp.refuse.add("dr.1@chu.example")
    keys = enqueue(svc, 3)
    report = svc.mail.send_pending()
    assert (report.sent, report.failed) == (2, 1)
    failed = row(svc, keys[1])
    assert failed.failed_at is not None
    assert failed.sent_at is None
    assert failed.last_error == "recipient refused: SMTP 550"
    # Kept for the administrator, never tried again.
    assert svc.mail.send_pending().sent == 0
    assert svc.mail.status(SYSTEM).failed == 1
    with svc.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.failed")).one()
    assert failed.id in event.target
    assert "chu.example" not in event.target + event.details


def test_temporary_refusal_backs_off_then_delivers(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    smtp.defer.add("dr.0@chu.example")
    (key,) = enqueue(svc)
    assert svc.mail.send_pending().deferred == 1
    waiting = row(svc, key)
    assert waiting.last_error == "recipient refused: SMTP 451"
    assert waiting.next_attempt_at == clock.now() + backoff(1)
    smtp.defer.clear()
    assert svc.mail.send_pending().sent == 0  # not due yet
    clock.advance(seconds=backoff(1).total_seconds())
    assert svc.mail.send_pending().sent == 1
    assert len(smtp.received) == 1


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=2),
        dt.timedelta(minutes=4),
    ]
    assert backoff(7) == backoff(50) == dt.timedelta(hours=1)


def test_outage_in_the_middle_of_a_batch_loses_nothing_and_sends_nothing_twice(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    keys = enqueue(svc, 8)
    smtp.die_after = 3  # the server dies while the 4th message is being sent
    report = svc.mail.send_pending()
    assert (report.sent, report.deferred, report.failed) == (3, 5, 0)
    assert not smtp.running
    waiting = [r for r in rows(svc) if r.sent_at is None]
    assert len(waiting) == 5
    assert all(r.last_error and r.failed_at is None and r.claimed_until is None for r in waiting)
    # Still down: refused connections, the messages wait (and back off further).
    clock.advance(minutes=1)
    again = svc.mail.send_pending()
    assert (again.sent, again.deferred) == (0, 5)
    assert "ConnectionRefusedError" in row(svc, waiting[0].idempotency_key).last_error
    # Back up: each waiting message is delivered once, after its back-off.
    smtp.start()
    assert svc.mail.send_pending().sent == 0
    clock.advance(minutes=2)
    assert svc.mail.send_pending().sent == 5
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)) == 8
    assert sorted(ids) == sorted(f"<{k}@egide.hopital.example>" for k in keys)
    assert all(r.sent_at is not None for r in rows(svc))


def test_a_worker_killed_after_its_claim_leaves_the_mail_to_another(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    enqueue(svc, 2)
    claimed = svc.mail.sender.claim()  # ... and the worker dies here, before sending
    assert len(claimed) == 2
    other = MailSender(svc.db, svc.mail.sender.config, clock=clock)
    assert other.send_pending().sent == 0  # held by the claim
    clock.advance(seconds=svc.mail.sender.lease.total_seconds())
    assert other.send_pending().sent == 2
    assert len(smtp.received) == 2


def test_a_message_is_not_started_near_the_end_of_its_lease(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    enqueue(svc, 1)
    claimed = svc.mail.sender.claim()
    clock.advance(seconds=(svc.mail.sender.lease - svc.mail.sender.margin).total_seconds())
    report = svc.mail.sender.send_batch(claimed)
    assert report.sent == 0
    assert smtp.received == []
    assert rows(svc)[0].claimed_until is None  # given back untried, due at once
    assert svc.mail.send_pending().sent == 1


def test_smtp_errors_carry_no_content(svc: Services, smtp: SmtpServer) -> None:
    smtp.defer.add("dr.0@chu.example")
    (key,) = enqueue(svc)
    svc.mail.send_pending()
    error = row(svc, key).last_error
    for content in ("Message 0", "chu.example", "Try again"):
        assert content not in error


class _Killed(BaseException):
    """The process dying (not an error the sender could catch)."""


class _DiesAfterTheServersAnswer(MailSender):
    def _mark_sent(self, row: Claimed) -> None:  # noqa: ARG002 - the overridden signature
        raise _Killed


def test_a_crash_between_the_answer_and_the_commit_resends_with_the_same_message_id(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    """The documented duplicate window (docs/mail.md): the one message in flight is sent
    again after the lease, with the same Message-ID; the rest of the batch once."""
    keys = enqueue(svc, 3)
    dying = _DiesAfterTheServersAnswer(svc.db, svc.mail.sender.config, clock=clock)
    with pytest.raises(_Killed):
        dying.send_pending()
    (in_flight,) = smtp.message_ids()  # the server has it; the commit never happened
    assert svc.mail.send_pending().sent == 0  # all three still held by the dead claim
    clock.advance(seconds=dying.lease.total_seconds())
    assert svc.mail.send_pending().sent == 3
    ids = smtp.message_ids()
    assert sorted(set(ids)) == sorted(f"<{k}@egide.hopital.example>" for k in keys)
    assert ids.count(in_flight) == 2
    assert len(ids) == 4


def test_configuration_from_settings(svc: Services) -> None:
    base = svc.settings
    config = SmtpConfig.from_settings(
        base.with_overrides(smtp_port=None, smtp_security="tls", smtp_from=None)
    )
    assert config is not None
    assert (config.port, config.sender.addr_spec) == (465, "egide@egide.hopital.example")
    assert SmtpConfig.from_settings(base.with_overrides(smtp_host=None)) is None
    with_password = base.with_overrides(
        smtp_port=None,
        smtp_security="starttls",
        smtp_username="egide",
        smtp_password="jamais affiché",
    )
    config = SmtpConfig.from_settings(with_password)
    assert config is not None
    assert config.port == 587
    assert "jamais affiché" not in repr(config)
    assert "jamais affiché" not in repr(with_password)


def test_credentials_are_never_sent_in_clear_text_over_the_network(svc: Services) -> None:
    clear = svc.settings.with_overrides(
        smtp_host="smtp.chu.example", smtp_security="none", smtp_username="egide"
    )
    with pytest.raises(ClearTextCredentials):
        SmtpConfig.from_settings(clear)
    # A relay on this host may take them.
    assert SmtpConfig.from_settings(clear.with_overrides(smtp_host="127.0.0.1")) is not None


def test_a_bad_sender_setting_is_refused(svc: Services) -> None:
    with pytest.raises(InvalidMailSender):
        SmtpConfig.from_settings(svc.settings.with_overrides(smtp_from="a@x.example, b@x.example"))
