"""Antivirus on the write path and rescans, with a real clamd (issue 8, item 5).

Each test gets its own clamd (tests/clamd.py: a tiny signature database
built at test time, the EICAR file and a body signature), and a vault whose
uploads it scans. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from egide.core.db.models import AuditEvent, Content, OutboxMail
from egide.core.errors import NotFound
from egide.services.access.policy import GlobalRole, Principal
from egide.services.antivirus.errors import (
    FileAwaitingScan,
    FileInfected,
    FileQuarantined,
    ScannerUnavailable,
    TooLargeToScan,
)
from egide.services.antivirus.service import AntivirusWorker
from egide.services.registry import Services
from tests.clamd import CLAM_EXE, EICAR, MARKER, ClamdServer
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

CLEAN = b"Compte rendu de consultation, cardiologie.\n" * 100


@pytest.fixture
def bob(svc: Services, alice: Principal, make_user: MakeUser) -> Principal:
    """Another contributor of `cardio` (alice's colleague)."""
    principal = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "contributor")
    return principal


def _read(svc: Services, actor: Principal, path: str) -> bytes:
    return b"".join(svc.files.open(actor, "cardio", path).iter_bytes())


def _events(svc: Services, action: str) -> list[AuditEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _contents(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Content)) or 0


def _blobs(svc: Services) -> list[str]:
    root = svc.settings.resolved_blob_dir
    return [p.name for p in root.rglob("*") if p.is_file()]


def test_a_clean_file_is_stored_clean(svc: Services, alice: Principal, bob: Principal) -> None:
    info = svc.files.write(alice, "cardio", "cr.txt", [CLEAN])
    assert info.scan == "clean"
    assert [v.scan for v in svc.files.versions(alice, "cardio", "cr.txt")] == ["clean"]
    assert _read(svc, bob, "cr.txt") == CLEAN
    with svc.db.read() as session:
        content = session.scalars(select(Content)).one()
        assert content.scanned_at is not None
        assert content.scan_db_version  # clamd's VERSION, recorded for rescans


def test_eicar_is_refused_nothing_stored_and_recorded(svc: Services, alice: Principal) -> None:
    blobs_before = _blobs(svc)
    with pytest.raises(FileInfected) as caught:
        svc.files.write(alice, "cardio", "ordonnance.pdf", [EICAR])
    assert caught.value.signature == "Test.Eicar.UNOFFICIAL"
    assert "Test.Eicar.UNOFFICIAL" in str(caught.value)
    with pytest.raises(NotFound):
        svc.nodes.stat(alice, "cardio", "ordonnance.pdf")
    assert _contents(svc) == 0
    assert _blobs(svc) == blobs_before  # the blob was never published
    [event] = _events(svc, "antivirus.infected")
    assert json.loads(event.details) == {"signature": "Test.Eicar.UNOFFICIAL", "stored": False}
    assert "ordonnance" not in event.target + event.details


def test_a_body_signature_split_across_chunks_is_caught(svc: Services, alice: Principal) -> None:
    data = os.urandom(3 << 20)
    middle = len(data) // 2
    infected = data[:middle] + MARKER + data[middle:]
    # Chunks cut through the signature: clamd sees the stream whole.
    cut = middle + len(MARKER) // 2
    chunks = [infected[:cut], infected[cut : cut + 7], infected[cut + 7 :]]
    with pytest.raises(FileInfected) as caught:
        svc.files.write(alice, "cardio", "scanner.dcm", chunks)
    assert caught.value.signature == "Egide.Test.Marker.UNOFFICIAL"
    # The same bytes without the marker pass.
    assert svc.files.write(alice, "cardio", "scanner.dcm", [data]).scan == "clean"


def test_a_threat_inside_an_archive_is_caught(svc: Services, alice: Principal) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", CLEAN)
        archive.writestr("tool.exe", CLAM_EXE.read_bytes())
    with pytest.raises(FileInfected) as caught:
        svc.files.write(alice, "cardio", "envoi.zip", [buffer.getvalue()])
    assert caught.value.signature == "Test.ClamExe.UNOFFICIAL"


def test_clamd_down_holds_internal_uploads_for_their_uploader_until_a_rescan(
    svc: Services, clamd: ClamdServer, alice: Principal, bob: Principal
) -> None:
    clamd.stop()
    info = svc.files.write(alice, "cardio", "cr.txt", [CLEAN])
    assert info.scan == "pending"
    assert _read(svc, alice, "cr.txt") == CLEAN  # the uploader reads her own file
    with pytest.raises(FileAwaitingScan) as caught:
        _read(svc, bob, "cr.txt")
    assert caught.value.code == "file-awaiting-scan"
    # A restore shares the content: still held, even for the one who restored it.
    svc.files.write(alice, "cardio", "cr.txt", [CLEAN + b"v2"])
    restored = svc.files.restore_version(bob, "cardio", "cr.txt", info.id)
    assert (restored.created_by, restored.scan) == (bob.user_id, "pending")
    with pytest.raises(FileAwaitingScan):
        _read(svc, bob, "cr.txt")
    with pytest.raises(ScannerUnavailable):
        svc.antivirus.rescan(SYSTEM, held_only=True)  # still down: says so
    clamd.start()
    report = svc.antivirus.rescan(SYSTEM, held_only=True)
    assert (report.scanned, report.clean, report.infected, report.held) == (2, 2, 0, 0)
    assert _read(svc, bob, "cr.txt") == CLEAN
    assert {v.scan for v in svc.files.versions(bob, "cardio", "cr.txt")} == {"clean"}
    assert len(_events(svc, "antivirus.rescan")) == 1


def test_clamd_down_refuses_uploads_through_a_link(
    svc: Services, clamd: ClamdServer, alice: Principal
) -> None:
    outsider = replace(alice, link_id="link-1")
    assert svc.files.write(outsider, "cardio", "ok.txt", [CLEAN]).scan == "clean"
    clamd.stop()
    with pytest.raises(ScannerUnavailable) as caught:
        svc.files.write(outsider, "cardio", "depot.txt", [CLEAN])
    assert caught.value.kind == "unavailable"
    with pytest.raises(NotFound):
        svc.nodes.stat(alice, "cardio", "depot.txt")


def test_refuse_setting_refuses_internal_uploads_too(
    svc: Services, clamd: ClamdServer, alice: Principal
) -> None:
    assert svc.files.scanner is not None
    svc.files.scanner.refuse_when_unreachable = True
    clamd.stop()
    with pytest.raises(ScannerUnavailable):
        svc.files.write(alice, "cardio", "cr.txt", [CLEAN])
    assert _contents(svc) == 0


def test_a_file_over_the_limit_is_held_as_too_large(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    assert svc.files.scanner is not None
    svc.files.scanner.max_bytes = 64 * 1024
    big = os.urandom(200 * 1024)
    assert svc.files.write(alice, "cardio", "irm.bin", [big]).scan == "too_large"
    assert _read(svc, alice, "irm.bin") == big
    with pytest.raises(FileAwaitingScan) as caught:
        _read(svc, bob, "irm.bin")
    assert "too large" in str(caught.value)
    # A threat in the part that was scanned is still a threat.
    with pytest.raises(FileInfected):
        svc.files.write(alice, "cardio", "irm2.bin", [MARKER, big])
    # Through a link: refused, never held.
    with pytest.raises(TooLargeToScan):
        svc.files.write(replace(alice, link_id="link-1"), "cardio", "depot.bin", [big])


def test_a_signature_update_finds_a_stored_file_infected(
    svc: Services, clamd: ClamdServer, alice: Principal, bob: Principal, make_user: MakeUser
) -> None:
    svc.accounts.create_user(
        SYSTEM, "rssi", password=PASSWORD, email="rssi@chu.example", roles=[GlobalRole.SECURITY]
    )
    payload = b"new-family-payload-2026-" * 10
    svc.files.write(alice, "cardio", "compte-rendu-dupont.docx", [CLEAN + payload])
    svc.files.write(alice, "cardio", "autre.txt", [CLEAN])
    clamd.restart({"Egide.Test.NewFamily": payload})
    report = svc.antivirus.rescan(SYSTEM, since_days=7)
    assert (report.scanned, report.clean, report.infected) == (2, 1, 1)
    for actor in (alice, bob):
        with pytest.raises(FileQuarantined) as caught:
            _read(svc, actor, "compte-rendu-dupont.docx")
        assert "Egide.Test.NewFamily.UNOFFICIAL" in str(caught.value)
    assert _read(svc, bob, "autre.txt") == CLEAN
    [event] = _events(svc, "antivirus.infected")
    assert json.loads(event.details)["signature"] == "Egide.Test.NewFamily.UNOFFICIAL"
    assert "dupont" not in event.target + event.details
    with svc.db.read() as session:
        [mail] = session.scalars(select(OutboxMail).where(OutboxMail.kind == "antivirus-infected"))
    assert mail.recipient == "rssi@chu.example"
    assert "Egide.Test.NewFamily" in mail.body_text
    assert "dupont" not in mail.subject + mail.body_text  # no file name in a mail
    # Scanning again finds it again but alerts once.
    svc.antivirus.rescan(SYSTEM)
    assert len(_events(svc, "antivirus.infected")) == 1


def test_the_worker_rescans_what_older_signatures_scanned(
    svc: Services, clamd: ClamdServer, alice: Principal
) -> None:
    payload = b"worker-family-payload-" * 8
    svc.files.write(alice, "cardio", "a.txt", [payload])
    worker = AntivirusWorker(svc.antivirus, interval=60)
    # Same signatures as at upload: nothing to do.
    assert svc.antivirus.rescan_due().scanned == 0
    worker.run_once()
    clamd.restart({"Egide.Test.WorkerFamily": payload})
    with svc.db.write() as session:  # scanned under an older database than clamd's now
        session.execute(update(Content).values(scan_db_version="27000"))
    worker.run_once()
    with pytest.raises(FileQuarantined):
        _read(svc, alice, "a.txt")
    assert svc.antivirus.rescan_due().scanned == 0  # infected ones are not rescanned


def test_a_big_file_streams_through_the_scan_with_bounded_memory(
    svc: Services, alice: Principal
) -> None:
    block = os.urandom(1 << 20)
    tracemalloc.start()
    try:
        info = svc.files.write(alice, "cardio", "scanner.bin", (block for _ in range(64)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == 64 << 20
    # Over antivirus_wait_max_bytes (4 MiB): answered pending, its verdict follows (ADR 29).
    assert info.scan == "pending"
    assert peak < 16 << 20, f"peak {peak / (1 << 20):.1f} MiB for a 64 MiB upload"
    assert svc.antivirus.drain(60)
    assert [v.scan for v in svc.files.versions(alice, "cardio", "scanner.bin")] == ["clean"]


def test_without_clamd_configured_files_are_unscanned_and_readable(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.files.scanner = None
    assert svc.files.write(alice, "cardio", "cr.txt", [EICAR]).scan == "unscanned"
    assert _read(svc, bob, "cr.txt") == EICAR
    # The next rescan finds it.
    assert svc.antivirus.rescan(SYSTEM).infected == 1
    with pytest.raises(FileQuarantined):
        _read(svc, bob, "cr.txt")


def test_share_links_never_serve_a_held_file(
    svc: Services, clamd: ClamdServer, alice: Principal
) -> None:
    clamd.stop()
    svc.files.write(alice, "cardio", "cr.txt", [CLEAN])
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = svc.sharing.create_link(
        alice, "cardio", "cr.txt", recipients=[], require_verification=False
    ).token
    assert svc.link_access.open(token, None).needs == ()
    with pytest.raises(FileAwaitingScan):
        svc.link_access.download(token, None, "")
    clamd.start()
    svc.antivirus.rescan(SYSTEM, held_only=True)
    assert b"".join(svc.link_access.download(token, None, "").file.iter_bytes()) == CLEAN


def test_a_file_request_upload_is_refused_while_clamd_is_down(
    svc: Services, clamd: ClamdServer, alice: Principal
) -> None:
    svc.nodes.mkdir(alice, "cardio", "inbox")
    svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = svc.sharing.create_request(
        alice, "cardio", "inbox", recipients=[], require_verification=False
    ).token
    with pytest.raises(FileInfected):
        svc.link_access.receive(token, None, "resultat.pdf", [EICAR], len(EICAR))
    clamd.stop()
    with pytest.raises(ScannerUnavailable):
        svc.link_access.receive(token, None, "resultat.pdf", [CLEAN], len(CLEAN))
    assert svc.nodes.list_folder(alice, "cardio", "inbox") == []


def test_an_empty_file_is_scanned_clean(svc: Services, alice: Principal) -> None:
    assert svc.files.write(alice, "cardio", "vide.txt", []).scan == "clean"


def test_an_infected_new_version_leaves_the_current_one(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    first = svc.files.write(alice, "cardio", "cr.txt", [CLEAN])
    with pytest.raises(FileInfected):
        svc.files.write(alice, "cardio", "cr.txt", [CLEAN, MARKER], if_match=first.id)
    assert svc.nodes.stat(bob, "cardio", "cr.txt").version_id == first.id
    assert _read(svc, bob, "cr.txt") == CLEAN
    [event] = _events(svc, "antivirus.infected")
    assert json.loads(event.target)["node"] is not None
