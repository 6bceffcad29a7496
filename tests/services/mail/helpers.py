"""Shared steps of the mail tests."""

from __future__ import annotations

from sqlalchemy import select

from egide.core.db.models import OutboxMail
from egide.services.registry import Services


def enqueue(svc: Services, n: int = 1, *, prefix: str = "m", recipient: str = "") -> list[str]:
    """`n` messages in the outbox, one transaction; their keys."""
    keys = [f"{prefix}.{i}" for i in range(n)]
    with svc.db.write() as session:
        for i, key in enumerate(keys):
            svc.mail.outbox.enqueue(
                session,
                idempotency_key=key,
                recipient=recipient or f"dr.{i}@chu.example",
                kind="test",
                subject=f"Message {i}",
                body_text=f"Corps du message {i}.\n",
                language="fr",
            )
    return keys


def rows(svc: Services) -> list[OutboxMail]:
    with svc.db.read() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.idempotency_key)))


def row(svc: Services, key: str) -> OutboxMail:
    with svc.db.read() as session:
        return session.scalars(select(OutboxMail).where(OutboxMail.idempotency_key == key)).one()
