"""Erasing a person's audit contexts (GDPR request): the DPO's alone, the log still verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent
from egide.core.errors import EgideError
from egide.services.access.policy import GlobalRole, Principal
from egide.services.audit.context import RequestContext, request_context
from egide.services.audit.erasure import ContextEraser
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM, MakeUser


def _events(svc: Services, user_id: str | None, action: str) -> list[AuditEvent]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.user_id == user_id, AuditEvent.action == action)
            )
        )


@pytest.fixture
def logged(svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock) -> Principal:
    """alice writes twice, a day apart, from her workstation; bob writes once."""
    bob = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "contributor")
    with request_context(RequestContext(client_address="10.0.0.7", user_agent="Poste 12")):
        svc.files.write(alice, "cardio", "Dupont.txt", [b"a"])
        clock.advance(days=1)
        svc.files.write(alice, "cardio", "Martin.txt", [b"b"])
        svc.files.write(bob, "cardio", "Durand.txt", [b"c"])
    return bob


def test_a_dpo_erases_one_person_s_contexts_and_the_log_still_verifies(
    svc: Services, alice: Principal, logged: Principal, make_user: MakeUser, clock: ManualClock
) -> None:
    dpo = make_user("dpo", GlobalRole.DPO)
    first, second = sorted(_events(svc, alice.user_id, "file.write"), key=lambda e: e.created_at)
    result = ContextEraser(svc.audit).erase_person(dpo, alice.user_id or "", until=clock.now())
    assert result.contexts_erased == 1  # the first write only: the second is not before `until`
    assert svc.audit.open_context(first.id) is None
    assert svc.audit.open_context(second.id) is not None
    ContextEraser(svc.audit).erase_person(dpo, alice.user_id or "")
    assert svc.audit.open_context(second.id) is None
    (bobs,) = _events(svc, logged.user_id, "file.write")
    context = svc.audit.open_context(bobs.id)
    assert context is not None
    assert context["client"]["address"] == "10.0.0.7"
    assert svc.audit.verify().clean
    erasures = _events(svc, dpo.user_id, "audit.erase")
    assert [json.loads(e.details)["contexts_erased"] for e in erasures] == [1, 1]
    assert {json.loads(e.target)["user"] for e in erasures} == {alice.user_id}


@pytest.mark.parametrize("role", [None, GlobalRole.ADMIN, GlobalRole.SECURITY])
def test_nobody_but_the_dpo_may_erase_and_the_attempt_is_recorded(
    svc: Services, alice: Principal, logged: Principal, make_user: MakeUser, role: GlobalRole | None
) -> None:
    who = make_user("mallory", *([role] if role else []))
    with pytest.raises(EgideError):
        ContextEraser(svc.audit).erase_person(who, alice.user_id or "")
    (denied,) = _events(svc, who.user_id, "audit.erase")
    assert denied.outcome == "denied"
    assert json.loads(denied.target) == {"user": alice.user_id}
    (write, *_) = _events(svc, alice.user_id, "file.write")
    assert svc.audit.open_context(write.id) is not None
