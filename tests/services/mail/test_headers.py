"""Mail headers cannot be injected through names, subjects or addresses (issue 7, bad input)."""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address

import pytest

from egide.core.db.models import OutboxMail
from egide.services.mail import message
from egide.services.mail.errors import InvalidMailAddress, InvalidMailHeader, InvalidMailSender
from egide.services.registry import Services
from tests.services.mail.helpers import rows
from tests.services.mail.smtp_server import SmtpServer

BAD_ADDRESSES = [
    "victim@chu.example\r\nBcc: spy@evil.example",
    "victim@chu.example\nBcc: spy@evil.example",
    "victim@chu.example\rBcc: spy@evil.example",
    "victim@chu.example, spy@evil.example",
    "victim@chu.example;spy@evil.example",
    "Victim <victim@chu.example>",
    "<victim@chu.example>",
    '"victim"@chu.example',
    "victim@chu.example (comment)",
    "victim @chu.example",
    "victim@chu.example\x00",
    "victim@@chu.example",
    "victim@localhost",
    "victim@-chu.example",
    "victim@chu..example",
    "@chu.example",
    "victim@",
    "",
    "é@chu.example",
    "a" * 65 + "@chu.example",
    "victim@" + "a" * 250 + ".example",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_addresses_are_one_bare_address_or_refused(address: str) -> None:
    with pytest.raises(InvalidMailAddress):
        message.check_address(address)


@pytest.mark.parametrize(
    "address", ["dr.martin@chu.example", "a+tag@sub.chu-exemple.fr", "x_y-z@h.example.org"]
)
def test_good_addresses_pass(address: str) -> None:
    assert message.check_address(address) == address


@pytest.mark.parametrize(
    "subject", ["Hello\r\nBcc: spy@evil.example", "Hello\nX-Injected: 1", "a\x00b", "a\u2028b"]
)
def test_subjects_with_line_breaks_are_refused(subject: str) -> None:
    with pytest.raises(InvalidMailHeader):
        message.check_header_text(subject, field="subject")


@pytest.mark.parametrize(
    "sender",
    [
        "Égide <egide@x.example>\r\nBcc: spy@evil.example",
        "a@x.example, b@x.example",
        "not an address",
        "Égide\n <egide@x.example>",
    ],
)
def test_bad_senders_are_refused(sender: str) -> None:
    with pytest.raises(InvalidMailSender):
        message.parse_sender(sender)


def test_display_names_are_encoded_not_spliced() -> None:
    sender = message.parse_sender('"Égide, CHU: \\"Urgences\\"" <egide@chu.example>')
    built = message.build(
        sender=sender,
        recipient="dr.martin@chu.example",
        subject="Résultat: prêt; <b>ok</b> =?utf-8?q?X-Injected:_1?=",
        body_text="Bcc: spy@evil.example\r\n\r\ncorps\n",
        body_html=None,
        msgid="<k@chu.example>",
        date=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        language="fr",
    )
    raw = built.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in b" \t"]
    assert sorted(names) == sorted(
        [
            b"From",
            b"To",
            b"Subject",
            b"Date",
            b"Message-ID",
            b"Auto-Submitted",
            b"Content-Type",
            b"Content-Transfer-Encoding",
            b"MIME-Version",
            b"Content-Language",
        ]
    )
    assert b"Bcc" not in head


def test_the_email_package_refuses_a_line_break_in_any_header() -> None:
    with pytest.raises((ValueError, InvalidMailAddress, InvalidMailHeader)):
        message.build(
            sender=Address("Égide", "egide", "chu.example"),
            recipient="dr@chu.example",
            subject="ok\r\nBcc: spy@evil.example",
            body_text="",
            body_html=None,
            msgid="<k@chu.example>",
            date=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
            language=None,
        )


@pytest.mark.db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", "victim@chu.example\r\nBcc: spy@evil.example"),
        ("recipient", "victim@chu.example, spy@evil.example"),
        ("subject", "Bonjour\r\nBcc: spy@evil.example"),
    ],
)
def test_enqueue_refuses_injection(svc: Services, field: str, value: str) -> None:
    values = {
        "idempotency_key": "k",
        "recipient": "victim@chu.example",
        "kind": "test",
        "subject": "Bonjour",
        "body_text": "corps",
    }
    values[field] = value
    with pytest.raises((InvalidMailAddress, InvalidMailHeader)), svc.db.write() as session:
        svc.mail.outbox.enqueue(session, **values)
    assert rows(svc) == []


@pytest.mark.db
def test_a_forged_row_is_never_sent(svc: Services, smtp: SmtpServer) -> None:
    """A row written around `Outbox.enqueue` (by hand, an older version) is refused by the
    sender too: kept as failed, nothing reaches the server."""
    with svc.db.write() as session:
        session.add(
            OutboxMail(
                idempotency_key="forged",
                recipient="victim@chu.example\r\nBcc: spy@evil.example",
                kind="test",
                subject="Bonjour",
                body_text="corps",
                next_attempt_at=svc.mail.clock.now(),
                created_at=svc.mail.clock.now(),
            )
        )
        session.add(
            OutboxMail(
                idempotency_key="forged2",
                recipient="victim@chu.example",
                kind="test",
                subject="Bonjour\r\nBcc: spy@evil.example",
                body_text="corps",
                next_attempt_at=svc.mail.clock.now(),
                created_at=svc.mail.clock.now(),
            )
        )
    report = svc.mail.send_pending()
    assert (report.sent, report.failed) == (0, 2)
    assert smtp.received == []
    assert all(r.failed_at is not None for r in rows(svc))


@pytest.mark.db
def test_what_arrives_has_one_recipient_and_the_subject_intact(
    svc: Services, smtp: SmtpServer
) -> None:
    with svc.db.write() as session:
        svc.mail.outbox.enqueue(
            session,
            idempotency_key="k",
            recipient="victim@chu.example",
            kind="test",
            subject="Résultat: « prêt »; Bcc: spy@evil.example",
            body_text="Bcc: spy@evil.example\n",
        )
    assert svc.mail.send_pending().sent == 1
    (got,) = smtp.received
    assert got.rcpt_tos == ["victim@chu.example"]
    assert got.message.get_all("Bcc") is None
    assert got.message.get_all("To") == ["victim@chu.example"]
    assert got.message["Subject"] == "Résultat: « prêt »; Bcc: spy@evil.example"
