"""Recording events: with the action's transaction, or alone when it was refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egide.core.audit import leaves
from egide.core.audit.errors import InvalidEvent
from egide.core.clock import ManualClock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import AuditContext, AuditEvent
from egide.core.errors import IntegrityError
from egide.services.access.policy import Action, Principal, PrincipalKind
from egide.services.audit import ALLOWED, DENIED, ContextSealer, record, record_denied
from egide.services.audit.recorder import AuditRecorder

CONTEXT = {"path": "/cardio/Dupont Jean.pdf", "ip": "10.0.0.7", "purpose": "consultation"}


class ActionFailed(Exception):
    pass


def failed_action(db: Database, doctor: Principal, sealer: ContextSealer | None = None) -> None:
    """An action that records its event, then fails before its transaction commits."""
    with db.write() as session:
        record(
            session,
            actor=doctor,
            action=Action.FILE_WRITE,
            target={"space": "s", "node": "n"},
            outcome=ALLOWED,
            details={},
            context=None if sealer is None else CONTEXT,
            sealer=sealer,
        )
        raise ActionFailed


def count(db: Database, model: type[AuditEvent] | type[AuditContext]) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_event_recorded_in_a_transaction_that_rolls_back_leaves_nothing(
    db: Database, doctor: Principal, sealer: ContextSealer
) -> None:
    with pytest.raises(ActionFailed):
        failed_action(db, doctor, sealer)
    assert count(db, AuditEvent) == 0
    assert count(db, AuditContext) == 0


def test_an_event_commits_with_its_action_and_its_context_is_sealed(
    db: Database, doctor: Principal, sealer: ContextSealer, clock: ManualClock
) -> None:
    with db.write() as session:
        event_id = AuditRecorder(clock, sealer).record(
            session,
            actor=doctor,
            action=Action.FILE_READ,
            target={"space": "s", "node": "n", "version": "v"},
            outcome=ALLOWED,
            details={"range": [0, 10]},
            context=CONTEXT,
        )
    with db.read() as session:
        event = session.get_one(AuditEvent, event_id)
        context = session.get_one(AuditContext, event_id)
    assert (event.actor_kind, event.actor_id) == ("user", doctor.user_id)
    assert event.action == "file.read"
    assert event.created_at == clock.now()
    assert event.seq is None
    # No personal data in the row that becomes the leaf; the context is sealed beside it.
    for text in ("Dupont", "10.0.0.7", "consultation"):
        assert text not in event.target + event.details
        assert text.encode() not in context.sealed
    assert event.context_hash == leaves.context_hash(context.salt, CONTEXT)
    assert context.key_id == "m1"
    assert sealer.open(context.key_id, event_id, context.sealed) == CONTEXT
    # Bound to its event: moved to another event, it does not open.
    with pytest.raises(IntegrityError):
        sealer.open(context.key_id, new_id(), context.sealed)


def test_a_denied_attempt_commits_alone_although_the_action_did_not(
    db: Database, doctor: Principal
) -> None:
    with pytest.raises(ActionFailed):
        failed_action(db, doctor)
    event_id = record_denied(
        db, actor=doctor, action=Action.FILE_WRITE, target={"space": "s"}, details={}
    )
    with db.read() as session:
        events = session.scalars(select(AuditEvent)).all()
    assert [(e.id, e.outcome) for e in events] == [(event_id, DENIED)]


def test_a_token_and_the_system_are_named_by_their_own_ids(db: Database) -> None:
    user_id, token_id = new_id(), new_id()
    by_token = Principal(
        kind=PrincipalKind.USER, user_id=user_id, username="bot", token_id=token_id
    )
    with db.write() as session:
        first = record(
            session, actor=by_token, action="file.read", target={}, outcome=ALLOWED, details={}
        )
        second = record(
            session,
            actor=Principal.system(),
            action=Action.KEY_ROTATE,
            target={},
            outcome=ALLOWED,
            details={},
        )
    with db.read() as session:
        assert session.get_one(AuditEvent, first).actor_kind == "token"
        assert session.get_one(AuditEvent, first).actor_id == token_id
        assert session.get_one(AuditEvent, second).actor_kind == "system"
        assert session.get_one(AuditEvent, second).actor_id is None


@pytest.mark.parametrize(
    "case",
    [
        ({"node": 12}, ALLOWED, {}, None),  # a target holds ids (text) only
        ({"node": "n"}, "maybe", {}, None),  # not an outcome of FORMATS.md
        ({"node": "n"}, ALLOWED, {"ratio": float("nan")}, None),  # not JSON
        ({"node": "n"}, ALLOWED, {}, {"ip": "10.0.0.7"}),  # a context with no key to seal it
    ],
)
def test_an_event_the_sequencer_could_not_serialise_is_refused_at_once(
    db: Database,
    doctor: Principal,
    case: tuple[dict[str, object], str, dict[str, object], dict[str, object] | None],
) -> None:
    target, outcome, details, context = case
    with pytest.raises(InvalidEvent), db.write() as session:
        record(
            session,
            actor=doctor,
            action="file.read",
            target=target,  # type: ignore[arg-type]
            outcome=outcome,
            details=details,
            context=context,
        )
    assert count(db, AuditEvent) == 0


def test_record_denied_refuses_an_allowed_outcome(db: Database, doctor: Principal) -> None:
    with pytest.raises(InvalidEvent):
        record_denied(db, actor=doctor, action="file.read", target={}, details={}, outcome=ALLOWED)
    assert count(db, AuditEvent) == 0
