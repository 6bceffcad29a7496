"""Erasing a person's audit contexts on request (GDPR, issue 4 item 2).

The leaf of an event holds ids only; what identifies a person beyond them
(client address, user agent, paths they opened, names they typed) is in the
event's sealed context. A DPO answering an erasure request removes those
records for one person's events, all of them or up to a date; the leaves
keep their `context_hash`, now meaningless, so the log stays verifiable.
The erasure is an audit event of its own (`audit.erase`), written in the
same transaction, and the DPO alone may do it (`audit.erase` in the policy).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from egide.core.db.models import AuditContext, AuditEvent
from egide.core.errors import EgideError
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.service import AuditService


@dataclass(frozen=True)
class ErasureResult:
    user_id: str
    until: dt.datetime | None
    contexts_erased: int


class ContextEraser:
    """`erase_person`, with what `records_denials` needs (`db`, `audit`)."""

    def __init__(self, service: AuditService) -> None:
        self.service = service
        self.db = service.db
        self.audit = service.recorder

    @records_denials
    def erase_person(
        self, actor: Principal, user_id: str, *, until: dt.datetime | None = None
    ) -> ErasureResult:
        """Erase the contexts of the events of `user_id` (as the person acting), before `until`."""
        try:
            authorize(actor, Action.AUDIT_ERASE)
        except EgideError as exc:
            exc.denied(AuditAction.AUDIT_ERASE, {"user": user_id})
            raise
        events = select(AuditEvent.id).where(AuditEvent.user_id == user_id)
        if until is not None:
            events = events.where(AuditEvent.created_at < until)
        with self.db.write() as session:
            erased = session.execute(
                delete(AuditContext).where(AuditContext.event_id.in_(events))
            ).rowcount  # type: ignore[attr-defined]
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.AUDIT_ERASE,
                target={"user": user_id},
                details={
                    "contexts_erased": int(erased),
                    "until": None if until is None else until.isoformat(),
                },
            )
        return ErasureResult(user_id, until, int(erased))
