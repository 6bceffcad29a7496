"""Enqueueing mail: one `mail_outbox` row, written in the caller's transaction.

The event that causes a mail and the mail itself commit together or not at
all: `Outbox.enqueue` adds the row to the session the caller is writing the
event with, so a rolled-back event leaves no mail behind, and a committed one
cannot lose its mail. The row's `idempotency_key` is unique: enqueueing the
same key again is a no-op (INSERT ... ON CONFLICT DO NOTHING, which leaves a
PostgreSQL transaction usable), so a retried event cannot send twice.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from egide.core.clock import Clock, SystemClock
from egide.core.db.base import new_id
from egide.core.db.models import OutboxMail
from egide.core.errors import InvalidInput
from egide.services.mail.message import check_address, check_header_text

#: What an idempotency key may hold: printable ASCII, no space (it names the event).
_KEY: Final = re.compile(r"[!-~]{1,200}")
_KIND: Final = re.compile(r"[a-z0-9][a-z0-9.-]{0,49}")


class InvalidIdempotencyKey(InvalidInput):
    code = "mail-invalid-key"

    def __init__(self) -> None:
        super().__init__(
            "A mail's idempotency key must be 1 to 200 printable ASCII characters without "
            "spaces, naming the event that causes the mail.",
            field="idempotency_key",
        )


class Outbox:
    """Writes mail to the outbox; `MailSender` sends it."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def enqueue(
        self,
        session: Session,
        *,
        idempotency_key: str,
        recipient: str,
        kind: str,
        subject: str,
        body_text: str,
        body_html: str | None = None,
        user_id: str | None = None,
        language: str | None = None,
    ) -> bool:
        """Add a mail to `session`'s transaction; False if its key was already there.

        The recipient must be exactly one bare address and the subject one
        line (`message.check_address`, `check_header_text`): refused with
        InvalidMailAddress or InvalidMailHeader before anything is written.
        """
        if not _KEY.fullmatch(idempotency_key):
            raise InvalidIdempotencyKey()
        if not _KIND.fullmatch(kind):
            raise InvalidInput("Unknown kind of mail.", field="kind")  # pragma: no cover
        address = check_address(recipient)
        check_header_text(subject, field="subject")
        now = self.clock.now()
        dialect = session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        result = session.execute(
            insert(OutboxMail)
            .values(
                id=new_id(),
                idempotency_key=idempotency_key,
                user_id=user_id,
                recipient=address,
                kind=kind,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                language=language,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                last_error="",
            )
            .on_conflict_do_nothing(index_elements=[OutboxMail.idempotency_key])
            .returning(OutboxMail.id)
        )
        return result.first() is not None
