"""Large uploads get their verdict after the answer (ADR 29), with a real clamd.

Over `antivirus_wait_max_bytes`, an upload that may be held is committed
*pending* (its uploader only) once its stream has ended, and the verdict of
that same scan, read by a thread of the antivirus service, releases or
quarantines it. Uploads that may not be held (external links, the `refuse`
policy) still wait for their verdict and are refused when infected.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from egide.core.antivirus.clamd import ClamdClient, Outcome
from egide.core.db.models import AuditEvent, Content, OutboxMail, User
from egide.services.access.policy import GlobalRole, Principal
from egide.services.antivirus.errors import FileAwaitingScan, FileInfected, FileQuarantined
from egide.services.antivirus.scanner import PendingVerdict, Scanner
from egide.services.registry import Services
from tests.clamd import MARKER, ClamdServer, build_database
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

#: Uploads over this many bytes are answered before their verdict, in these tests.
WAIT_MAX = 64 * 1024
#: Larger than WAIT_MAX.
BODY = os.urandom(256 * 1024)

Held = list[tuple[Principal, str, PendingVerdict]]


@pytest.fixture
def scanner(svc: Services) -> Scanner:
    assert svc.files.scanner is not None
    svc.files.scanner.wait_max_bytes = WAIT_MAX
    return svc.files.scanner


@pytest.fixture
def bob(svc: Services, alice: Principal, make_user: MakeUser) -> Principal:
    principal = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "contributor")
    return principal


@pytest.fixture
def held(svc: Services, scanner: Scanner) -> Held:
    """Verdicts handed over by the write path, kept here until the test settles them."""
    taken: Held = []
    svc.files.settle = lambda actor, version_id, pending: taken.append((actor, version_id, pending))
    return taken


def _read(svc: Services, actor: Principal, path: str) -> bytes:
    return b"".join(svc.files.open(actor, "cardio", path).iter_bytes())


def _settle(svc: Services, held: Held) -> None:
    for args in held:
        svc.antivirus.settle_later(*args)
    held.clear()
    assert svc.antivirus.drain(60)


def _content(svc: Services) -> Content:
    with svc.db.read() as session:
        return session.scalars(select(Content)).one()


def test_a_large_clean_upload_is_held_for_others_until_its_verdict(
    svc: Services, alice: Principal, bob: Principal, held: Held
) -> None:
    info = svc.files.write(alice, "cardio", "irm.dcm", [BODY[:1000], BODY[1000:]])
    assert info.scan == "pending"
    assert len(held) == 1
    assert _read(svc, alice, "irm.dcm") == BODY  # its uploader reads it at once
    with pytest.raises(FileAwaitingScan):
        _read(svc, bob, "irm.dcm")
    _settle(svc, held)
    assert _read(svc, bob, "irm.dcm") == BODY
    content = _content(svc)
    assert (content.scan_status, content.scan_signature) == ("clean", None)
    assert content.scan_db_version
    assert content.scanned_at is not None


def test_a_large_infected_upload_is_quarantined_audited_and_alerted(
    svc: Services, alice: Principal, bob: Principal, held: Held
) -> None:
    svc.accounts.create_user(
        SYSTEM, "rssi", password=PASSWORD, email="rssi@chu.example", roles=[GlobalRole.SECURITY]
    )
    with svc.db.write() as session:
        uploader = session.get(User, alice.user_id)
        assert uploader is not None
        uploader.email = "alice@chu.example"
    middle = len(BODY) // 2
    info = svc.files.write(
        alice, "cardio", "dupont-scanner.dcm", [BODY[:middle], MARKER, BODY[middle:]]
    )
    assert info.scan == "pending"
    _settle(svc, held)
    for actor in (alice, bob):  # nobody, its uploader included
        with pytest.raises(FileQuarantined) as caught:
            _read(svc, actor, "dupont-scanner.dcm")
        assert "Egide.Test.Marker.UNOFFICIAL" in str(caught.value)
    with svc.db.read() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "antivirus.infected")
        )
        [mail] = session.scalars(select(OutboxMail).where(OutboxMail.kind == "antivirus-infected"))
    assert event.actor_id == alice.user_id  # the uploader, not the system
    assert json.loads(event.target)["version"] == info.id
    assert json.loads(event.details) == {
        "signature": "Egide.Test.Marker.UNOFFICIAL",
        "stored": True,
    }
    assert "dupont" not in event.target + event.details + mail.subject + mail.body_text
    assert mail.recipient == "rssi@chu.example"
    # Its uploader, whose client saw the upload succeed, is told too (no file name).
    with svc.db.read() as session:
        [told] = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "antivirus-infected-upload")
        )
    assert (told.user_id, told.recipient) == (alice.user_id, "alice@chu.example")
    assert "Egide.Test.Marker.UNOFFICIAL" in told.body_text
    assert "dupont" not in told.subject + told.body_text


def test_the_service_settles_on_its_own(svc: Services, alice: Principal, scanner: Scanner) -> None:
    info = svc.files.write(alice, "cardio", "video.mp4", [BODY])
    assert info.scan == "pending"
    assert svc.antivirus.drain(60)
    assert _content(svc).scan_status == "clean"


def test_a_verdict_never_read_leaves_it_to_the_rescans(
    svc: Services, alice: Principal, bob: Principal, held: Held
) -> None:
    svc.files.write(alice, "cardio", "irm.dcm", [BODY])
    [(_, _, pending)] = held
    pending.close()  # the process stopped before clamd answered
    _settle(svc, [(alice, held[0][1], pending)])
    assert _content(svc).scan_status == "pending"
    with pytest.raises(FileAwaitingScan):
        _read(svc, bob, "irm.dcm")
    assert svc.antivirus.rescan_due().clean == 1
    assert _read(svc, bob, "irm.dcm") == BODY


def test_a_newer_verdict_is_not_overwritten(
    svc: Services, clamd: ClamdServer, alice: Principal, held: Held
) -> None:
    payload = b"new-family-payload-2026-" * 10
    svc.files.write(alice, "cardio", "irm.dcm", [BODY, payload])
    # A signature update reaches clamd (RELOAD: the scan in flight keeps its engine)
    # and a rescan judges the held file before its own verdict is read.
    build_database(clamd.db_dir, {"Egide.Test.NewFamily": payload})
    client = ClamdClient(clamd.address)
    assert client.reload()
    deadline = time.monotonic() + 30
    while client.scan_bytes(payload).outcome is not Outcome.INFECTED:
        assert time.monotonic() < deadline, "clamd did not reload its database"
        time.sleep(0.1)
    assert svc.antivirus.rescan_due().infected == 1
    _settle(svc, held)  # the older engine's "clean" arrives last
    content = _content(svc)
    assert (content.scan_status, content.scan_signature) == (
        "infected",
        "Egide.Test.NewFamily.UNOFFICIAL",
    )


def test_uploads_that_may_not_be_held_still_wait(
    svc: Services, alice: Principal, scanner: Scanner, held: Held
) -> None:
    with pytest.raises(FileInfected):  # through a link
        svc.files.write(replace(alice, link_id="link-1"), "cardio", "depot.bin", [BODY, MARKER])
    scanner.refuse_when_unreachable = True
    with pytest.raises(FileInfected):
        svc.files.write(alice, "cardio", "irm.dcm", [BODY, MARKER])
    assert svc.files.write(alice, "cardio", "irm.dcm", [BODY]).scan == "clean"
    assert held == []


def test_a_failed_commit_abandons_the_scan(svc: Services, alice: Principal, held: Held) -> None:
    first = svc.files.write(alice, "cardio", "irm.dcm", [b"v1"])
    with pytest.raises(Exception, match="changed"):
        svc.files.write(alice, "cardio", "irm.dcm", [BODY], if_match="not-" + first.id)
    assert held == []  # nothing handed over: the scan was closed with the upload


def test_a_large_upload_over_the_scan_limit_stays_held_as_too_large(
    svc: Services, alice: Principal, bob: Principal, scanner: Scanner, held: Held
) -> None:
    scanner.max_bytes = 128 * 1024  # clamd gets the first 128 KiB of the 256 KiB
    assert svc.files.write(alice, "cardio", "irm.dcm", [BODY]).scan == "pending"
    _settle(svc, held)
    assert _content(svc).scan_status == "too_large"  # never "clean"
    with pytest.raises(FileAwaitingScan, match="too large"):
        _read(svc, bob, "irm.dcm")
    assert _read(svc, alice, "irm.dcm") == BODY
