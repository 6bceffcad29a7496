"""Every write door refuses a contained user (issue 8, items 2 and 5): not only
writes, downloads, moves and deletes, but new folders, copies, version and
trash restores, grants, resumable uploads and roll-backs; a release opens
them all again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent
from egide.core.db.models.ransomware import RansomwareIncident
from egide.services.access.policy import Principal
from egide.services.ransomware.errors import PrincipalContained
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM, MakeUser

SLUG = "cardio"


@pytest.fixture
def contained(
    svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock
) -> tuple[Principal, str, str, str]:
    """alice, manager of `cardio` and contributor of `neuro`, with a file of two
    versions and a trash item; then an incident holds her.
    (alice, incident id, first version of a.txt, trash item)"""
    svc.spaces.grant(SYSTEM, SLUG, "", "user:alice", "manager")
    svc.spaces.create(SYSTEM, "neuro", title="Neurologie")
    svc.spaces.grant(SYSTEM, "neuro", "", "user:alice", "contributor")
    make_user("bob")
    first = svc.files.write(alice, SLUG, "a.txt", [b"one"]).id
    svc.files.write(alice, SLUG, "a.txt", [b"two"])
    svc.files.write(alice, SLUG, "gone.txt", [b"x"])
    item = svc.nodes.delete(alice, SLUG, "gone.txt").id
    svc.nodes.mkdir(alice, SLUG, "dossier")
    with svc.db.write() as session:
        incident = RansomwareIncident(
            user_id=alice.user_id,
            principal=f"user:{alice.user_id}",
            status="open",
            reason="score",
            score=3.0,
            first_suspicious_at=clock.now(),
            opened_at=clock.now(),
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    return svc.accounts.principal_for(alice.user_id or ""), incident_id, first, item


def _doors(
    svc: Services, alice: Principal, version: str, item: str
) -> dict[str, Callable[[], object]]:
    return {
        "write": lambda: svc.files.write(alice, SLUG, "b.txt", [b"x"]),
        "check_writable": lambda: svc.files.check_writable(alice, SLUG, "b.txt"),
        "read": lambda: svc.files.open(alice, SLUG, "a.txt"),
        "move": lambda: svc.nodes.move(alice, SLUG, "a.txt", "c.txt"),
        "delete": lambda: svc.nodes.delete(alice, SLUG, "a.txt"),
        "mkdir": lambda: svc.nodes.mkdir(alice, SLUG, "new"),
        "copy": lambda: svc.nodes.copy(alice, SLUG, "a.txt", "copy.txt"),
        "copy to another space": lambda: svc.nodes.copy(
            alice, SLUG, "a.txt", "copy.txt", to_slug="neuro"
        ),
        "version restore": lambda: svc.files.restore_version(alice, SLUG, "a.txt", version),
        "trash restore": lambda: svc.nodes.restore(alice, SLUG, item),
        "grant": lambda: svc.spaces.grant(alice, SLUG, "", "user:bob", "reader"),
        "revoke": lambda: svc.spaces.revoke(alice, SLUG, "", "user:alice"),
        "upload": lambda: svc.uploads.create(alice, SLUG, "big.bin", 10),
        "share link": lambda: svc.sharing.create_link(
            alice, SLUG, "a.txt", recipients=["dr.martin@hopital.example"]
        ),
        "file request": lambda: svc.sharing.create_request(
            alice, SLUG, "dossier", recipients=["labo@biologie.example"]
        ),
        "point in time": lambda: svc.rollback.restore_at(
            alice, SLUG, dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        ),
    }


def _denials(svc: Services, incident: str) -> int:
    with svc.db.read() as session:
        targets = session.scalars(
            select(AuditEvent.target).where(AuditEvent.outcome == "denied")
        ).all()
    return sum(incident in t for t in targets)


@pytest.mark.parametrize(
    "door",
    [
        "write",
        "check_writable",
        "read",
        "move",
        "delete",
        "mkdir",
        "copy",
        "copy to another space",
        "version restore",
        "trash restore",
        "grant",
        "revoke",
        "upload",
        "share link",
        "file request",
        "point in time",
    ],
)
def test_every_door_refuses_a_contained_user(
    svc: Services, contained: tuple[Principal, str, str, str], door: str
) -> None:
    alice, incident, version, item = contained
    act = _doors(svc, alice, version, item)[door]
    before = _denials(svc, incident)
    with pytest.raises(PrincipalContained) as refused:
        act()
    assert refused.value.incident_id == incident
    # The refusal is recorded (a denied attempt naming the incident).
    assert _denials(svc, incident) == before + 1
    # Released: the same door opens.
    svc.incidents.release(SYSTEM, incident)
    act()
