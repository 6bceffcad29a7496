"""MailService: what administrators and the doors do with mail (status, a test
message, the language of a user's mail, one sending pass)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from egide.core.clock import Clock, SystemClock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import OutboxMail
from egide.core.errors import InvalidInput
from egide.services.access.policy import Action, Principal, authorize
from egide.services.accounts.errors import UserNotFound
from egide.services.accounts.records import find_user
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mail import templates
from egide.services.mail.alerts import LoginAlerts
from egide.services.mail.message import check_address
from egide.services.mail.outbox import Outbox
from egide.services.mail.sender import MailSender, SendReport


@dataclass(frozen=True)
class MailStatus:
    """The outbox at a glance (`egide mail status`, monitoring)."""

    configured: bool
    pending: int
    sent: int
    failed: int
    #: When the oldest message still waiting was written; None: none waits.
    oldest_pending_at: dt.datetime | None
    #: Seconds that oldest message has waited.
    oldest_pending_seconds: int | None
    #: The error of the most recently tried message still waiting (no content).
    last_error: str | None


class MailService:
    def __init__(
        self,
        db: Database,
        sender: MailSender,
        *,
        outbox: Outbox | None = None,
        alerts: LoginAlerts | None = None,
        language: str = "fr",
        public_url: str = "",
        timezone: str = "Europe/Paris",
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.clock = clock or SystemClock()
        self.outbox = outbox or Outbox(self.clock)
        self.alerts = alerts
        self.language = language
        self.public_url = public_url
        self.timezone = timezone
        self.audit = audit or AuditRecorder(self.clock)

    @records_denials
    def status(self, actor: Principal) -> MailStatus:
        """Counts of the outbox, the oldest waiting message's age and the last error."""
        authorize(actor, Action.MAINTENANCE)
        waiting = (OutboxMail.sent_at.is_(None), OutboxMail.failed_at.is_(None))
        with self.db.read() as session:
            pending = session.scalar(select(func.count()).where(*waiting)) or 0
            sent = session.scalar(select(func.count()).where(OutboxMail.sent_at.is_not(None)))
            failed = session.scalar(select(func.count()).where(OutboxMail.failed_at.is_not(None)))
            oldest = session.scalar(select(func.min(OutboxMail.created_at)).where(*waiting))
            last_error = session.scalar(
                select(OutboxMail.last_error)
                .where(*waiting, OutboxMail.last_error != "")
                .order_by(OutboxMail.next_attempt_at.desc())
                .limit(1)
            )
        now = self.clock.now()
        return MailStatus(
            configured=self.sender.config is not None,
            pending=pending,
            sent=sent or 0,
            failed=failed or 0,
            oldest_pending_at=oldest,
            oldest_pending_seconds=None if oldest is None else int((now - oldest).total_seconds()),
            last_error=last_error,
        )

    @records_denials
    def send_test(self, actor: Principal, address: str, *, language: str | None = None) -> str:
        """Enqueue a test message to `address`; returns its outbox id. Sent by the worker
        (or `egide mail send-pending`), like any other."""
        authorize(actor, Action.MAINTENANCE)
        recipient = check_address(address)
        lang = language if language in templates.LANGUAGES else self.language
        text = templates.render(
            "test",
            lang,
            url=self.public_url,
            time=templates.format_time(self.clock.now(), lang, self.timezone),
        )
        key = f"test.{new_id()}"
        with self.db.write() as session:
            self.outbox.enqueue(
                session,
                idempotency_key=key,
                recipient=recipient,
                kind="test",
                subject=text.subject,
                body_text=text.body_text,
                language=lang,
            )
            mail_id = session.scalars(
                select(OutboxMail.id).where(OutboxMail.idempotency_key == key)
            ).one()
            self.audit.record(
                session, actor=actor, action=AuditAction.MAIL_TEST, target={"mail": mail_id}
            )
        return mail_id

    @records_denials
    def set_language(self, actor: Principal, username: str, language: str | None) -> None:
        """The language of a user's mail: "fr", "en", or None (the `language` setting).
        Administrators for anyone; a user for themself."""
        if language is not None and language not in templates.LANGUAGES:
            raise InvalidInput(
                "Unknown language {language}: choose fr or en.",
                field="language",
                language=language,
            )
        with self.db.write() as session:
            user = find_user(session, username)
            if user is None or user.id != actor.user_id:
                authorize(actor, Action.USER_MANAGE)
            if user is None:
                raise UserNotFound(username)
            user.language = language
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.USER_LANGUAGE,
                target={"user": user.id},
                details={"language": language},
            )

    def send_pending(self) -> SendReport:
        """One sending pass (`egide mail send-pending`, the worker): what is due now."""
        return self.sender.send_pending()
