"""Roll-backs (issue 8, item 3): an incident undone, a space put back at an instant.

Real services, a real detector on real AES output; the roll-back is checked
byte for byte (SHA-256), and for idempotence, conflicts, dry runs, scopes,
permissions and resumption after a crash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db.models import AuditEvent, NodeHistory, Space, TrashItem, Version
from egide.core.db.models.ransomware import RansomwareIncident
from egide.core.errors import EgideError, Forbidden, InvalidInput, NotFound
from egide.services.access.policy import GlobalRole, Principal
from egide.services.ransomware import rollback
from egide.services.ransomware.errors import IncidentNotFound, PrincipalContained
from egide.services.ransomware.rollback import RollbackReport
from egide.services.registry import Services
from tests.core.ransomware.samples import SAMPLES, aes_ctr
from tests.vault_fixtures import SYSTEM, MakeUser

SLUG = "cardio"
NAMES = sorted(SAMPLES)


@pytest.fixture
def vault_settings(settings: Settings) -> Settings:
    # Higher thresholds let the attack mix overwrites, deletes and renames.
    return settings.with_overrides(
        segment_size=4096, ransomware_short_threshold=5.0, ransomware_long_threshold=5.0
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def bob(svc: Services, alice: Principal, make_user: MakeUser) -> Principal:
    principal = make_user("bob")
    svc.spaces.grant(SYSTEM, SLUG, "", "user:bob", "contributor")
    return principal


@pytest.fixture
def reader(svc: Services, alice: Principal, make_user: MakeUser) -> Principal:
    """Who looks at the results (a reader of the space)."""
    principal = make_user("rita")
    svc.spaces.grant(SYSTEM, SLUG, "", "user:rita", "reader")
    return principal


@pytest.fixture
def files(
    svc: Services, alice: Principal, reader: Principal, clock: ManualClock
) -> dict[str, bytes]:
    """Real documents written by alice, then time passes."""
    global READER  # noqa: PLW0603 - the helpers below read as the space's reader
    READER = reader
    svc.nodes.mkdir(alice, SLUG, "dossiers")
    written = {}
    for name in NAMES:
        svc.files.write(alice, SLUG, f"dossiers/{name}", [SAMPLES[name]])
        written[f"/dossiers/{name}"] = SAMPLES[name]
    clock.advance(minutes=5)
    return written


READER = SYSTEM


def _content(svc: Services, path: str) -> bytes:
    return b"".join(svc.files.open(READER, SLUG, path).iter_bytes())


def _attack(
    svc: Services, actor: Principal, clock: ManualClock, steps: list[Callable[[], object]]
) -> int:
    for done, step in enumerate(steps):
        clock.advance(seconds=1)
        try:
            step()
        except PrincipalContained:
            return done
    raise AssertionError("never contained")


@pytest.fixture
def incident(
    svc: Services, alice: Principal, bob: Principal, files: dict[str, bytes], clock: ManualClock
) -> str:
    """alice's session encrypts, deletes and renames until contained; then bob saves
    one of the files she encrypted. The incident's id."""
    victim = dataclasses.replace(alice, session_id="infected")
    f = [f"dossiers/{n}" for n in NAMES]

    def enc(path: str) -> Callable[[], object]:
        return lambda: svc.files.write(victim, SLUG, path, [aes_ctr(SAMPLES[path[9:]])])

    steps: list[Callable[[], object]] = [
        enc(f[0]),
        lambda: svc.nodes.delete(victim, SLUG, f[1]),
        enc(f[2]),
        lambda: svc.nodes.move(victim, SLUG, f[0], f[0] + ".locked"),
        lambda: svc.nodes.move(victim, SLUG, f[3], f[3] + ".k3ypt0"),
        enc(f[4]),
        enc(f[5]),
        enc(f[6]),
    ]
    assert _attack(svc, victim, clock, steps) == 5
    clock.advance(minutes=1)
    svc.files.write(bob, SLUG, f[2], [b"bob's own report, written after the attack"])
    with svc.db.read() as session:
        return session.scalars(select(RansomwareIncident.id)).one()


def test_incident_restore_puts_every_byte_back_and_keeps_others_work(
    svc: Services, files: dict[str, bytes], incident: str, clock: ManualClock
) -> None:
    clock.advance(minutes=10)
    report = svc.rollback.restore_incident(SYSTEM, incident)
    assert (report.restored, report.undeleted, report.renamed_back) == (1, 1, 2)
    [conflict] = report.conflicts
    assert conflict.reason == "changed-since"
    names = {n.path for n in svc.nodes.list_folder(READER, SLUG, "dossiers")}
    assert names == set(files)
    for path, data in files.items():
        if path == f"/dossiers/{NAMES[2]}":
            assert _content(svc, path) == b"bob's own report, written after the attack"
        else:
            assert _sha(_content(svc, path)) == _sha(data), path
    # Nothing destroyed: the encrypted version is still there, so the roll-back
    # can itself be undone.
    versions = svc.files.versions(READER, SLUG, f"dossiers/{NAMES[0]}")
    assert [v.number for v in versions] == [3, 2, 1]
    assert versions[0].restored_from == versions[2].id
    with svc.db.read() as session:
        row = session.get(RansomwareIncident, incident)
        assert row is not None
        assert row.restored_at == clock.now()
        assert row.status == "open"  # restoring does not release the user
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "ransomware.incident.restore")
        ).all()
        assert events
        assert all(incident in e.target and "dossiers" not in e.details for e in events)


def test_incident_restore_twice_changes_nothing_the_second_time(
    svc: Services, incident: str, clock: ManualClock
) -> None:
    first = svc.rollback.restore_incident(SYSTEM, incident)
    assert first.changed == 4
    with svc.db.read() as session:
        before = session.scalar(select(func.count()).select_from(Version))
        history = session.scalar(select(func.count()).select_from(NodeHistory))
    clock.advance(minutes=1)
    second = svc.rollback.restore_incident(SYSTEM, incident)
    assert second.changed == 0
    assert second.skipped == 3  # f0 (content and name), f1, f3; f2 stays a conflict
    assert [c.reason for c in second.conflicts] == ["changed-since"]
    with svc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Version)) == before
        assert session.scalar(select(func.count()).select_from(NodeHistory)) == history


def test_incident_dry_run_counts_without_changing(
    svc: Services, files: dict[str, bytes], incident: str
) -> None:
    dry = svc.rollback.restore_incident(SYSTEM, incident, dry_run=True)
    assert (dry.restored, dry.undeleted, dry.renamed_back) == (1, 1, 2)
    assert dry.dry_run
    with svc.db.read() as session:
        row = session.get(RansomwareIncident, incident)
        assert row is not None
        assert row.restored_at is None
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "ransomware.incident.restore")
        ).all()
    real = svc.rollback.restore_incident(SYSTEM, incident)
    assert real.counts() == dry.counts()


def test_incident_restore_needs_incident_manage(
    svc: Services, incident: str, bob: Principal, make_user: MakeUser
) -> None:
    with pytest.raises(Forbidden):
        svc.rollback.restore_incident(bob, incident)
    with pytest.raises(IncidentNotFound):
        svc.rollback.restore_incident(SYSTEM, "no-such-incident")
    officer = make_user("sophie", GlobalRole.SECURITY)
    assert svc.rollback.restore_incident(officer, incident).changed == 4


def test_a_crash_mid_way_leaves_committed_batches_and_a_rerun_finishes(
    svc: Services,
    files: dict[str, bytes],
    incident: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rollback, "BATCH", 2)
    calls = {"n": 0}
    real_apply = rollback._Step.apply

    def crashing(self: rollback._Step, *args: object, **kwargs: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("power cut")
        return real_apply(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback._Step, "apply", crashing)
    with pytest.raises(RuntimeError):
        svc.rollback.restore_incident(SYSTEM, incident)
    monkeypatch.setattr(rollback._Step, "apply", real_apply)
    with svc.db.read() as session:
        # The first batch (2 items) committed with its audit event.
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "ransomware.incident.restore")
        ).all()
    rest = svc.rollback.restore_incident(SYSTEM, incident)
    assert rest.changed < 4
    for path, data in files.items():
        if path != f"/dossiers/{NAMES[2]}":
            assert _sha(_content(svc, path)) == _sha(data), path
    assert svc.rollback.restore_incident(SYSTEM, incident).changed == 0


# Point in time -------------------------------------------------------------


@pytest.fixture
def rewound(
    svc: Services, alice: Principal, files: dict[str, bytes], clock: ManualClock
) -> dt.datetime:
    """After the instant returned: an overwrite, a rename, a move, a folder deleted,
    new files and a new folder, a file deleted then re-created under its name."""
    svc.nodes.mkdir(alice, SLUG, "dossiers/sub")
    svc.files.write(alice, SLUG, "dossiers/sub/inside.txt", [b"inside"])
    clock.advance(minutes=1)
    at = clock.now()
    clock.advance(minutes=1)
    f = [f"dossiers/{n}" for n in NAMES]
    svc.files.write(alice, SLUG, f[0], [b"overwritten"])
    svc.nodes.move(alice, SLUG, f[1], f[1] + ".renamed")
    svc.nodes.move(alice, SLUG, f[2], "moved-out")
    svc.nodes.delete(alice, SLUG, "dossiers/sub")
    svc.nodes.delete(alice, SLUG, f[3])
    svc.files.write(alice, SLUG, f[3], [b"a new file under the old name"])
    svc.files.write(alice, SLUG, "dossiers/new.txt", [b"new"])
    svc.nodes.mkdir(alice, SLUG, "new-folder/deeper", parents=True)
    svc.files.write(alice, SLUG, "new-folder/deeper/x.txt", [b"x"])
    clock.advance(minutes=1)
    return at


def _tree(svc: Services) -> dict[str, str]:
    """Every live file of the space: path -> SHA-256."""
    out: dict[str, str] = {}

    def walk(path: str) -> None:
        for item in svc.nodes.list_folder(READER, SLUG, path):
            if item.kind == "folder":
                walk(item.path)
            else:
                out[item.path] = item.sha256 or ""

    walk("")
    return out


def test_point_in_time_restore_puts_the_space_back(
    svc: Services, alice: Principal, files: dict[str, bytes], rewound: dt.datetime
) -> None:
    report = svc.rollback.restore_at(SYSTEM, SLUG, rewound)
    expected = {p: _sha(d) for p, d in files.items()}
    expected["/dossiers/sub/inside.txt"] = _sha(b"inside")
    assert _tree(svc) == expected
    # f0 content; f1, f2 moved back; sub and the original f3 out of the trash;
    # the new f3, new.txt and new-folder (with what it holds) to the trash.
    assert report.restored == 1
    assert report.renamed_back == 2
    assert report.undeleted == 2
    assert report.trashed == 3
    assert report.conflicts == []
    with svc.db.read() as session:
        space = session.scalars(select(Space).where(Space.slug == SLUG)).one()
        assert space.used_bytes == sum(len(d) for d in files.values()) + len(b"inside")
        trashed = session.scalar(select(func.count()).select_from(TrashItem))
        assert trashed == 3
    # Again: nothing left to do.
    again = svc.rollback.restore_at(SYSTEM, SLUG, rewound)
    assert again.changed == 0
    assert again.conflicts == []
    assert _tree(svc) == expected


def test_point_in_time_restore_can_itself_be_undone(
    svc: Services, files: dict[str, bytes], rewound: dt.datetime, clock: ManualClock
) -> None:
    before = _tree(svc)
    middle = clock.now()
    clock.advance(minutes=1)
    svc.rollback.restore_at(SYSTEM, SLUG, rewound)
    clock.advance(minutes=1)
    svc.rollback.restore_at(SYSTEM, SLUG, middle)
    assert _tree(svc) == before


def test_point_in_time_of_a_folder_leaves_the_rest(
    svc: Services, files: dict[str, bytes], rewound: dt.datetime
) -> None:
    report = svc.rollback.restore_at(SYSTEM, SLUG, rewound, path="dossiers")
    tree = _tree(svc)
    assert "/new-folder/deeper/x.txt" in tree  # outside the folder: kept
    assert f"/dossiers/{NAMES[2]}" in tree  # its place then was in the folder
    assert tree[f"/dossiers/{NAMES[0]}"] == _sha(files[f"/dossiers/{NAMES[0]}"])
    assert "/dossiers/new.txt" not in tree
    assert report.conflicts == []


def test_point_in_time_dry_run_changes_nothing(
    svc: Services, files: dict[str, bytes], rewound: dt.datetime
) -> None:
    before = _tree(svc)
    dry = svc.rollback.restore_at(SYSTEM, SLUG, rewound, dry_run=True)
    assert _tree(svc) == before
    assert dry.changed > 0
    real = svc.rollback.restore_at(SYSTEM, SLUG, rewound)
    assert real.counts() == dry.counts()


@pytest.mark.usefixtures("files")
def test_point_in_time_restore_is_for_managers_and_admins(
    svc: Services,
    alice: Principal,
    bob: Principal,
    make_user: MakeUser,
    rewound: dt.datetime,
) -> None:
    with pytest.raises(Forbidden):
        svc.rollback.restore_at(alice, SLUG, rewound)  # a contributor
    outsider = make_user("carol")
    with pytest.raises(NotFound):
        svc.rollback.restore_at(outsider, SLUG, rewound)
    svc.spaces.grant(SYSTEM, SLUG, "dossiers", "user:bob", "manager")
    with pytest.raises(Forbidden):
        svc.rollback.restore_at(bob, SLUG, rewound)  # the space: not his
    assert svc.rollback.restore_at(bob, SLUG, rewound, path="dossiers").changed > 0
    admin = make_user("root", GlobalRole.ADMIN)
    assert svc.rollback.restore_at(admin, SLUG, rewound).conflicts == []
    with pytest.raises(InvalidInput):
        svc.rollback.restore_at(admin, SLUG, rewound + dt.timedelta(days=1))
    with pytest.raises(InvalidInput):
        svc.rollback.restore_at(admin, SLUG, dt.datetime(2026, 3, 2, 9, 0))  # noqa: DTZ001


def test_a_contained_user_cannot_restore_at_an_instant(
    svc: Services, incident: str, alice: Principal
) -> None:
    svc.spaces.grant(SYSTEM, SLUG, "", "user:alice", "manager")
    alice = svc.accounts.principal_for(alice.user_id or "")
    with pytest.raises(PrincipalContained):
        svc.rollback.restore_at(alice, SLUG, dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))


def test_history_names_are_sealed_and_survive_a_key_rotation(
    svc: Services, files: dict[str, bytes], rewound: dt.datetime
) -> None:
    with svc.db.read() as session:
        blobs = [r.name_enc for r in session.scalars(select(NodeHistory))]
    assert blobs
    assert not any(NAMES[1].encode() in b for b in blobs)
    svc.rotation.rotate_space(SYSTEM, SLUG)
    report = svc.rollback.restore_at(SYSTEM, SLUG, rewound)
    assert report.renamed_back == 2
    assert report.conflicts == []


def test_report_counts_are_plain_numbers() -> None:
    report = RollbackReport(restored=1)
    assert rollback.report_dict(report, with_trashed=False) == {
        "restored": 1,
        "undeleted": 0,
        "renamed_back": 0,
        "skipped": 0,
        "conflicts": [],
    }
    assert isinstance(EgideError, type)


def test_incident_restore_brings_back_a_deleted_folder_with_what_it_held(
    svc: Services, alice: Principal, files: dict[str, bytes], clock: ManualClock
) -> None:
    svc.nodes.mkdir(alice, SLUG, "dossiers/sub")
    svc.files.write(alice, SLUG, "dossiers/sub/inside.txt", [b"inside"])
    clock.advance(minutes=5)
    victim = dataclasses.replace(alice, session_id="infected")
    f = [f"dossiers/{n}" for n in NAMES]

    def enc(path: str) -> Callable[[], object]:
        return lambda: svc.files.write(victim, SLUG, path, [aes_ctr(SAMPLES[path[9:]])])

    steps: list[Callable[[], object]] = [
        enc(f[0]),
        lambda: svc.nodes.delete(victim, SLUG, "dossiers/sub"),
        enc(f[1]),
        lambda: svc.nodes.move(victim, SLUG, f[2], f[2] + ".locked"),
        lambda: svc.nodes.move(victim, SLUG, f[3], f[3] + ".locked"),
        enc(f[4]),
        enc(f[5]),
    ]
    _attack(svc, victim, clock, steps)
    [incident] = svc.incidents.list(SYSTEM)
    report = svc.rollback.restore_incident(SYSTEM, incident.id)
    assert report.undeleted == 1
    assert report.conflicts == []
    assert _content(svc, "dossiers/sub/inside.txt") == b"inside"
    for path, data in files.items():
        assert _sha(_content(svc, path)) == _sha(data), path
