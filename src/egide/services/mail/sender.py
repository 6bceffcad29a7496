"""Sending the outbox over SMTP: claim a batch, send it on one connection, record each result.

The guarantees (docs/mail.md):

- **Nothing is lost.** A row leaves the queue only when the server accepted
  it (`sent_at`) or refused it for good (`failed_at`, a 5xx answer to its
  recipient or its content). A server that is down, a timeout, a 4xx
  answer, a refused log-in or sender: the row gets `last_error` (the SMTP
  code or the kind of error, never content) and waits, with an exponential
  back-off (`BACKOFF`: one minute, doubled at each attempt, at most one
  hour). Mail is off while `smtp_host` is unset: rows wait.
- **Not sent twice.** A worker claims a batch in one short transaction
  (`claimed_until` = now + lease), on PostgreSQL with `FOR UPDATE SKIP
  LOCKED` (two workers take disjoint rows), on SQLite under the database's
  write lock (BEGIN IMMEDIATE). Each message's result is committed as soon
  as the server answered. A worker that dies after claiming leaves rows
  that another takes once the lease is over; nothing had been sent. The one
  unavoidable window is between the server's 250 and the `sent_at` commit:
  a crash there sends the message again after the lease, with the same
  Message-ID (`<key@host-of-public_url>`) so a mail client can drop the
  copy. A worker never starts a message within `margin` of its lease's end,
  so a slow batch cannot overlap another worker's claim.
- **Bounded.** `batch` rows per connection, `max_batches` per pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from sqlalchemy import Select, or_, select, update

from egide.core.clock import Clock, SystemClock
from egide.core.db import Database
from egide.core.db.models import OutboxMail
from egide.core.errors import InvalidInput
from egide.services.access.policy import Principal
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import ERROR, AuditRecorder
from egide.services.mail import message

if TYPE_CHECKING:
    from egide.core.config import Settings

log = logging.getLogger("egide.mail")

#: Rows per batch: one SMTP connection, one claim transaction.
BATCH: Final = 50
#: Batches per `send_pending` pass at most.
MAX_BATCHES: Final = 20
#: The retry delay after the first failure; doubled at each next one, up to the cap.
BACKOFF: Final = (dt.timedelta(minutes=1), dt.timedelta(hours=1))
#: A batch's claim lasts at least this long (and at least 10 SMTP timeouts).
MIN_LEASE: Final = dt.timedelta(minutes=10)
_DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}


class ClearTextCredentials(InvalidInput):
    code = "mail-clear-text-credentials"

    def __init__(self) -> None:
        super().__init__(
            "EGIDE_SMTP_USERNAME is set with EGIDE_SMTP_SECURITY=none: the password would cross "
            "the network in clear text. Use starttls or tls, or a relay on this host.",
            field="smtp_security",
        )


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: the `smtp_*` settings, checked."""

    host: str
    port: int
    security: str
    sender: Address
    public_url: str
    timeout: float = 30.0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The configuration, or None when `smtp_host` is unset (mail waits)."""
        if not settings.smtp_host:
            return None
        host = settings.smtp_host.strip("[]")
        if (
            settings.smtp_username
            and settings.smtp_security == "none"
            and host not in {"localhost", "127.0.0.1", "::1"}
        ):
            raise ClearTextCredentials()
        public_url = settings.resolved_public_url
        return cls(
            host=host,
            port=settings.smtp_port or _DEFAULT_PORTS[settings.smtp_security],
            security=settings.smtp_security,
            sender=message.parse_sender(settings.smtp_from or message.default_sender(public_url)),
            public_url=public_url,
            timeout=float(settings.smtp_timeout_seconds),
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            ca_file=settings.smtp_ca_file,
        )

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked, against `ca_file` or the system's authorities."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    @property
    def local_hostname(self) -> str:
        """The EHLO name: the host of `public_url` when it is a domain name."""
        host = urlsplit(self.public_url).hostname or ""
        return host if "." in host and not host.replace(".", "").isdigit() else "localhost"


@dataclass(frozen=True)
class Claimed:
    """A row taken by this worker: what sending it needs (read in the claim transaction)."""

    id: str
    idempotency_key: str
    user_id: str | None
    recipient: str
    kind: str
    subject: str
    body_text: str
    body_html: str | None
    language: str | None
    created_at: dt.datetime
    attempts: int
    claimed_until: dt.datetime


@dataclass
class SendReport:
    """What one pass did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    #: The last connection or server error of the pass (no content), if any.
    error: str | None = None

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.deferred += other.deferred
        self.failed += other.failed
        self.error = other.error or self.error


class _ServerDown(Exception):
    """The connection or the session broke: the rest of the batch waits."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt (1, 2, ...)."""
    first, cap = BACKOFF
    return min(cap, first * (1 << min(max(attempts - 1, 0), 20)))


def _describe(exc: BaseException) -> str:
    """An error for `last_error` and the log: its SMTP code or its kind, never the text
    (a server may echo the address or the content)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return "recipient refused: SMTP " + ",".join(str(c) for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: SMTP {exc.smtp_code}"
    return f"{type(exc).__name__}"


def _starttls(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    """Upgrade to TLS, or refuse to go on in clear text when the server cannot."""
    if not smtp.has_extn("starttls"):
        raise smtplib.SMTPNotSupportedError("STARTTLS not offered")
    smtp.starttls(context=config.tls_context())
    smtp.ehlo()


class MailSender:
    """Claims due rows of `mail_outbox` and sends them over SMTP."""

    def __init__(
        self,
        db: Database,
        config: SmtpConfig | None,
        *,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
        batch: int = BATCH,
        lease: dt.timedelta | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)
        self.batch = batch
        timeout = dt.timedelta(seconds=config.timeout if config else 30.0)
        self.lease = lease or max(MIN_LEASE, 10 * timeout)
        #: No message is begun this close to the end of its lease.
        self.margin = min(self.lease / 2, 4 * timeout)

    # Claiming -------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Take up to `limit` due rows for this worker until now + lease (one short
        transaction): not sent, not failed, due, and not held by another worker."""
        now = self.clock.now()
        until = now + self.lease
        with self.db.write() as session:
            rows = list(session.scalars(self._due(now, limit or self.batch)))
            for row in rows:
                row.claimed_until = until
            return [
                Claimed(
                    id=r.id,
                    idempotency_key=r.idempotency_key,
                    user_id=r.user_id,
                    recipient=r.recipient,
                    kind=r.kind,
                    subject=r.subject,
                    body_text=r.body_text,
                    body_html=r.body_html,
                    language=r.language,
                    created_at=r.created_at,
                    attempts=r.attempts,
                    claimed_until=until,
                )
                for r in rows
            ]

    def _due(self, now: dt.datetime, limit: int) -> Select[OutboxMail]:
        """The rows a claim takes, locked: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so a
        concurrent claim passes over them instead of taking them too (or waiting); SQLite
        runs one write transaction at a time (BEGIN IMMEDIATE)."""
        query = (
            select(OutboxMail)
            .where(
                OutboxMail.sent_at.is_(None),
                OutboxMail.failed_at.is_(None),
                OutboxMail.next_attempt_at <= now,
                or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until <= now),
            )
            .order_by(OutboxMail.next_attempt_at, OutboxMail.created_at, OutboxMail.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        return query

    # Sending --------------------------------------------------------------------

    def send_pending(self, *, max_batches: int = MAX_BATCHES) -> SendReport:
        """Send what is due, batch after batch, until none is left, the server fails, or
        `max_batches`. Mail off (no `smtp_host`): sends nothing, every row waits."""
        report = SendReport()
        if self.config is None:
            return report
        for _ in range(max_batches):
            rows = self.claim()
            if not rows:
                break
            done = self.send_batch(rows)
            report.add(done)
            if done.error is not None:
                break  # the server is down or refusing us: the next pass, after the back-off
        return report

    def send_batch(self, rows: Sequence[Claimed]) -> SendReport:
        """Send claimed rows on one connection; every row ends sent, failed or deferred."""
        report = SendReport()
        if self.config is None or not rows:
            return report
        config = self.config
        pending = list(rows)
        try:
            smtp = self._connect(config)
        except (OSError, smtplib.SMTPException) as exc:
            reason = _describe(exc)
            self._log_down("cannot connect to the SMTP server", reason, len(pending))
            report.deferred += self._defer(pending, reason)
            report.error = reason
            return report
        try:
            while pending:
                row = pending[0]
                if self.clock.now() >= row.claimed_until - self.margin:
                    # Too close to the end of the claim: another worker may take it soon.
                    self._release(pending)
                    break
                outcome = self._send_one(smtp, config, row)
                pending.pop(0)
                if outcome == "sent":
                    report.sent += 1
                elif outcome == "failed":
                    report.failed += 1
                else:
                    report.deferred += 1
        except _ServerDown as down:
            self._log_down("the SMTP server stopped answering", down.reason, len(pending))
            report.deferred += self._defer(pending, down.reason)
            report.error = down.reason
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return report

    def _connect(self, config: SmtpConfig) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=config.local_hostname,
                timeout=config.timeout,
                context=config.tls_context(),
            )
        else:
            smtp = smtplib.SMTP(
                config.host,
                config.port,
                local_hostname=config.local_hostname,
                timeout=config.timeout,
            )
        try:
            smtp.ehlo()
            if config.security == "starttls":
                _starttls(smtp, config)
            if config.username:
                smtp.login(config.username, config.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send_one(self, smtp: smtplib.SMTP, config: SmtpConfig, row: Claimed) -> str:
        """Send one row and commit its result: "sent", "failed" or "deferred".
        Raises _ServerDown when the connection broke (this row not sent)."""
        try:
            built = message.build(
                sender=config.sender,
                recipient=row.recipient,
                subject=row.subject,
                body_text=row.body_text,
                body_html=row.body_html,
                msgid=message.message_id(row.idempotency_key, config.public_url),
                date=row.created_at,
                language=row.language,
            )
        except (InvalidInput, ValueError):
            # A row not written by `Outbox.enqueue` (or by an older version) whose address or
            # subject could carry a header: never sent, kept for the administrator.
            return self._refused(row, "invalid address or header", permanent=True)
        try:
            smtp.send_message(built, from_addr=config.sender.addr_spec, to_addrs=[row.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(500 <= c < 600 for c in codes)
            return self._refused(row, _describe(exc), permanent=permanent)
        except smtplib.SMTPDataError as exc:
            return self._refused(row, _describe(exc), permanent=500 <= exc.smtp_code < 600)
        except smtplib.SMTPSenderRefused as exc:
            # Our own sender refused: a setting to fix, the same for every message.
            raise _ServerDown(_describe(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _ServerDown(_describe(exc)) from exc
        # The server accepted it: from here to the commit is the duplicate window.
        self._mark_sent(row)
        return "sent"

    def _mark_sent(self, row: Claimed) -> None:
        with self.db.write() as session:
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == row.id, OutboxMail.sent_at.is_(None))
                .values(
                    sent_at=self.clock.now(),
                    claimed_until=None,
                    attempts=OutboxMail.attempts + 1,
                    last_error="",
                )
            )

    def _refused(self, row: Claimed, reason: str, *, permanent: bool) -> str:
        now = self.clock.now()
        with self.db.write() as session:
            if not permanent:
                session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id == row.id)
                    .values(
                        claimed_until=None,
                        attempts=row.attempts + 1,
                        next_attempt_at=now + backoff(row.attempts + 1),
                        last_error=reason[:500],
                    )
                )
                return "deferred"
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == row.id)
                .values(
                    claimed_until=None,
                    attempts=row.attempts + 1,
                    failed_at=now,
                    last_error=reason[:500],
                )
            )
            self.audit.record(
                session,
                actor=Principal.system(),
                action=AuditAction.MAIL_FAILED,
                target={"mail": row.id, "user": row.user_id},
                outcome=ERROR,
                details={"kind": row.kind, "reason": reason[:100]},
            )
        log.warning(
            "mail refused for good",
            extra={"egide": {"mail": row.id, "kind": row.kind, "reason": reason}},
        )
        return "failed"

    def _defer(self, rows: Sequence[Claimed], reason: str) -> int:
        """Put rows back with their back-off: not sent, tried once more."""
        now = self.clock.now()
        with self.db.write() as session:
            for row in rows:
                session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id == row.id, OutboxMail.sent_at.is_(None))
                    .values(
                        claimed_until=None,
                        attempts=row.attempts + 1,
                        next_attempt_at=now + backoff(row.attempts + 1),
                        last_error=reason[:500],
                    )
                )
        return len(rows)

    def _release(self, rows: Sequence[Claimed]) -> None:
        """Give rows back untried: due at once for the next claim."""
        with self.db.write() as session:
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_([r.id for r in rows]), OutboxMail.sent_at.is_(None))
                .values(claimed_until=None)
            )

    @staticmethod
    def _log_down(what: str, reason: str, waiting: int) -> None:
        log.warning(what, extra={"egide": {"reason": reason, "waiting": waiting}})
