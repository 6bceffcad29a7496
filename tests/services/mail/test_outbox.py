"""The outbox: written in the event's transaction, idempotent, validated (issue 7 item 6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.models import Group, OutboxMail
from egide.services.mail.outbox import InvalidIdempotencyKey
from egide.services.registry import Services
from tests.services.mail.helpers import enqueue, rows
from tests.services.mail.smtp_server import SmtpServer

pytestmark = pytest.mark.db


def _enqueue(svc: Services, session: Session, key: str = "event.1", **extra: str) -> bool:
    values = {
        "idempotency_key": key,
        "recipient": "dr.martin@chu.example",
        "kind": "test",
        "subject": "Sujet",
        "body_text": "Corps\n",
    }
    values.update(extra)
    return svc.mail.outbox.enqueue(session, **values)


def test_the_same_idempotency_key_twice_is_one_mail(svc: Services, smtp: SmtpServer) -> None:
    with svc.db.write() as session:
        assert _enqueue(svc, session) is True
        assert _enqueue(svc, session) is False  # no error, nothing added
    with svc.db.write() as session:
        assert _enqueue(svc, session, subject="Autre sujet") is False
    assert len(rows(svc)) == 1
    assert svc.mail.send_pending().sent == 1
    with svc.db.write() as session:
        assert _enqueue(svc, session) is False  # even once sent
    assert svc.mail.send_pending().sent == 0
    assert len(smtp.received) == 1


class _Boom(Exception):
    pass


def _event_that_fails(svc: Services) -> None:
    """An event (a new group) and its mail, in one transaction that then fails."""
    with svc.db.write() as session:
        session.add(Group(name="neuro"))
        _enqueue(svc, session)
        raise _Boom


def test_a_rolled_back_event_leaves_no_mail(svc: Services, smtp: SmtpServer) -> None:
    with pytest.raises(_Boom):
        _event_that_fails(svc)
    with svc.db.read() as session:
        assert session.scalars(select(OutboxMail)).all() == []
        assert session.scalars(select(Group).where(Group.name == "neuro")).all() == []
    assert svc.mail.send_pending().sent == 0
    assert smtp.received == []


def test_a_committed_event_has_its_mail(svc: Services) -> None:
    with svc.db.write() as session:
        session.add(Group(name="neuro"))
        _enqueue(svc, session)
    assert [r.recipient for r in rows(svc)] == ["dr.martin@chu.example"]


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 201, "line\nbreak"])
def test_idempotency_keys_are_checked(svc: Services, key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey), svc.db.write() as session:
        _enqueue(svc, session, key=key)


def test_enqueue_normalises_the_domain(svc: Services) -> None:
    enqueue(svc, recipient="Dr.Martin@CHU.Exemple.fr")
    assert rows(svc)[0].recipient == "Dr.Martin@chu.exemple.fr"
    with svc.db.write() as session:
        _enqueue(svc, session, key="idn", recipient="medecin@hôpital.fr")
    assert {r.recipient for r in rows(svc)} >= {"medecin@" + "hôpital.fr".encode("idna").decode()}
