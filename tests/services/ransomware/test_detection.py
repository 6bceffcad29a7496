"""A simulated attack with real AES output through FileService and NodeService,
and benign workloads that must never be flagged (issue 8, items 1-2)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent, OutboxMail
from egide.core.db.models.ransomware import (
    RansomwareEvent,
    RansomwareFingerprint,
    RansomwareIncident,
)
from egide.services.access.policy import GlobalRole, Principal
from egide.services.ransomware.detector import principal_key
from egide.services.ransomware.errors import PrincipalContained
from egide.services.registry import Services
from tests.core.ransomware.samples import SAMPLES, aes_ctr, docx, jpeg, pdf, text
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

SLUG = "cardio"
NAMES = sorted(SAMPLES)


@pytest.fixture
def victim(svc: Services, alice: Principal, clock: ManualClock) -> Principal:
    """alice, acting through one session, with a folder of real documents."""
    svc.nodes.mkdir(alice, SLUG, "dossiers")
    actor = dataclasses.replace(alice, session_id="session-1")
    for i in range(4):
        for name in NAMES:
            svc.files.write(actor, SLUG, f"dossiers/{i}-{name}", [SAMPLES[name]])
    clock.advance(seconds=5)
    return actor


def _incidents(svc: Services) -> list[RansomwareIncident]:
    with svc.db.read() as session:
        return list(session.scalars(select(RansomwareIncident)))


def _files(svc: Services, actor: Principal) -> list[str]:
    return [n.path.lstrip("/") for n in svc.nodes.list_folder(actor, SLUG, "dossiers")]


def _attack(step: object, files: list[str], clock: ManualClock | None = None) -> int:
    """Run `step(path)` on each file, a second apart, until containment; return how
    many steps completed."""
    assert callable(step)
    for done, path in enumerate(files):
        if clock is not None:
            clock.advance(seconds=1)
        try:
            step(path)
        except PrincipalContained:
            return done
    raise AssertionError("never contained")


def _read(svc: Services, actor: Principal, path: str) -> bytes:
    return b"".join(svc.files.open(actor, SLUG, path).iter_bytes())


def test_encryption_in_place_is_contained_after_three_files(
    svc: Services, victim: Principal, clock: ManualClock
) -> None:
    def encrypt(path: str) -> None:
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])

    assert _attack(encrypt, _files(svc, victim), clock) == 3
    [incident] = _incidents(svc)
    assert incident.status == "open"
    assert incident.principal == "session:session-1"
    info = svc.incidents.show(SYSTEM, incident.id)
    assert [e.kind for e in info.events or []] == ["write"] * 3
    assert all("looks-encrypted" in e.signals for e in info.events or [])
    # Every door of the same user is suspended: another session, a token, reads too.
    other = dataclasses.replace(victim, session_id="session-2")
    with pytest.raises(PrincipalContained) as refused:
        svc.files.open(other, SLUG, "dossiers/3-photo.jpg")
    assert refused.value.incident_id == incident.id
    token = dataclasses.replace(victim, session_id=None, token_id="t1")
    with pytest.raises(PrincipalContained):
        svc.nodes.delete(token, SLUG, "dossiers/3-photo.jpg")


def test_encrypt_and_rename_is_contained_within_two_files(svc: Services, victim: Principal) -> None:
    def encrypt_and_rename(path: str) -> None:
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])
        svc.nodes.move(victim, SLUG, path, path + ".k3ypt0")

    assert _attack(encrypt_and_rename, _files(svc, victim)) <= 2
    assert len(_incidents(svc)) == 1


def test_encrypted_copy_then_delete_is_contained_within_three_files(
    svc: Services, victim: Principal
) -> None:
    def copy_and_delete(path: str) -> None:
        data = _read(svc, victim, path)
        svc.files.write(victim, SLUG, path + ".enc", [aes_ctr(data)])
        svc.nodes.delete(victim, SLUG, path)

    assert _attack(copy_and_delete, _files(svc, victim)) <= 3


def test_partial_encryption_is_contained_after_three_files(
    svc: Services, victim: Principal
) -> None:
    def encrypt_head(path: str) -> None:
        data = _read(svc, victim, path)
        svc.files.write(victim, SLUG, path, [aes_ctr(data[:4096]) + data[4096:]])

    assert _attack(encrypt_head, _files(svc, victim)) == 3


def test_slow_encryption_is_caught_by_the_long_window(
    svc: Services, victim: Principal, clock: ManualClock
) -> None:
    def slowly(path: str) -> None:
        clock.advance(seconds=61)
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])

    assert _attack(slowly, _files(svc, victim)) == 3


def test_ransom_notes_in_many_folders_are_contained(svc: Services, victim: Principal) -> None:
    note = b"Vos fichiers sont chiffres. Payez 2 BTC a l'adresse ...\n" * 10
    for i in range(8):
        svc.nodes.mkdir(victim, SLUG, f"dossiers/f{i}")

    def drop_note(path: str) -> None:
        svc.files.write(victim, SLUG, f"{path}/LISEZ-MOI.txt", [note])

    assert _attack(drop_note, [f"dossiers/f{i}" for i in range(8)]) == 5


def test_containment_opens_one_audited_incident_and_mails_the_admins(
    svc: Services, victim: Principal, make_user: MakeUser
) -> None:
    svc.accounts.create_user(
        SYSTEM, "rssi", password=PASSWORD, email="rssi@hopital.example", roles=[GlobalRole.SECURITY]
    )
    svc.accounts.create_user(SYSTEM, "nomail", password=PASSWORD, roles=[GlobalRole.ADMIN])

    def encrypt(path: str) -> None:
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])

    _attack(encrypt, _files(svc, victim))
    [incident] = _incidents(svc)
    with svc.db.read() as session:
        mails = list(session.scalars(select(OutboxMail)))
    assert [m.recipient for m in mails] == ["rssi@hopital.example"]
    assert incident.id in mails[0].subject
    assert incident.id in mails[0].body_text
    assert "dossiers" not in mails[0].body_text  # no name, no path
    with svc.db.read() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("ransomware.incident.open") == 1


def test_release_restores_access_and_confirm_keeps_it_closed(
    svc: Services, victim: Principal
) -> None:
    def encrypt(path: str) -> None:
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])

    _attack(encrypt, _files(svc, victim))
    [incident] = _incidents(svc)
    confirmed = svc.incidents.confirm(SYSTEM, incident.id)
    assert confirmed.status == "confirmed"
    with pytest.raises(PrincipalContained):
        _read(svc, victim, "dossiers/3-photo.jpg")
    released = svc.incidents.release(SYSTEM, incident.id)
    assert released.status == "released"
    assert _read(svc, victim, "dossiers/3-photo.jpg") == SAMPLES["photo.jpg"]
    svc.files.write(victim, SLUG, "dossiers/new.txt", [b"back to work"])


def test_windows_are_kept_per_session_then_token_then_user(alice: Principal) -> None:
    assert principal_key(Principal.system()) is None
    assert principal_key(alice) == f"user:{alice.user_id}"
    assert principal_key(dataclasses.replace(alice, token_id="t")) == "token:t"
    assert principal_key(dataclasses.replace(alice, token_id="t", session_id="s")) == "session:s"


# Benign workloads: never flagged -------------------------------------------------


def test_saving_documents_again_and_again_is_never_flagged(svc: Services, alice: Principal) -> None:
    actor = dataclasses.replace(alice, session_id="s")
    for seed in range(40):
        svc.files.write(actor, SLUG, "courrier.docx", [docx(seed)])
        svc.files.write(actor, SLUG, "ordonnance.pdf", [pdf(seed)])
        svc.files.write(actor, SLUG, "notes.txt", [text(seed)])
    assert _incidents(svc) == []


def test_uploading_200_photos_renaming_and_deleting_is_never_flagged(
    svc: Services, alice: Principal
) -> None:
    actor = dataclasses.replace(alice, session_id="s")
    svc.nodes.mkdir(actor, SLUG, "photos")
    for i in range(200):
        svc.files.write(actor, SLUG, f"photos/IMG_{i:04d}.jpg", [jpeg(3000)])
    svc.files.write(actor, SLUG, "photos/archive.zip", [docx(1)])
    svc.files.write(actor, SLUG, "photos/keys.kdbx", [os.urandom(5000)])
    svc.nodes.move(actor, SLUG, "photos", "photos 2026")
    for i in range(20):
        svc.nodes.move(actor, SLUG, f"photos 2026/IMG_{i:04d}.jpg", f"photos 2026/plage-{i}.jpg")
    svc.nodes.move(actor, SLUG, "photos 2026/plage-1.jpg", "photos 2026/plage-1.jpg.bak")
    for i in range(30, 60):
        svc.nodes.delete(actor, SLUG, f"photos 2026/IMG_{i:04d}.jpg")
    for i in range(10):
        svc.nodes.mkdir(actor, SLUG, f"d{i}")
        svc.files.write(actor, SLUG, f"d{i}/desktop.ini", [b"[.ShellClassInfo]\r\n"])
    assert _incidents(svc) == []
    with svc.db.read() as session:
        weights = list(
            session.scalars(select(RansomwareEvent.weight).where(RansomwareEvent.kind != "delete"))
        )
    assert weights
    assert max(weights) == 0.0


def test_detection_off_records_nothing(svc: Services, victim: Principal) -> None:
    detector = svc.files.detector
    assert detector is not None
    detector.config = dataclasses.replace(detector.config, enabled=False)
    for path in _files(svc, victim):
        svc.files.write(victim, SLUG, path, [aes_ctr(_read(svc, victim, path))])
    assert _incidents(svc) == []


def test_files_written_before_detection_are_sampled_once(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    detector = svc.files.detector
    assert detector is not None
    on = detector.config
    detector.config = dataclasses.replace(on, enabled=False)
    svc.nodes.mkdir(alice, SLUG, "dossiers")
    for name in NAMES:
        svc.files.write(alice, SLUG, f"dossiers/{name}", [SAMPLES[name]])
    with svc.db.read() as session:
        assert session.scalar(select(RansomwareFingerprint.content_id)) is None
    detector.config = on
    actor = dataclasses.replace(alice, session_id="s")

    def encrypt(path: str) -> None:
        svc.files.write(actor, SLUG, path, [aes_ctr(_read(svc, actor, path))])

    assert _attack(encrypt, _files(svc, actor), clock) == 3
