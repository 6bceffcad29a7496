"""Access reports through the real services: who accessed what, one person's activity,
refusals, out-of-hours access (issue 4, item 7)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditContext, AuditEvent
from egide.core.errors import EgideError, ErrorKind
from egide.services.access.policy import GlobalRole, Principal, Scope
from egide.services.audit import reports as reports_module
from egide.services.audit.context import Purpose, RequestContext, request_context
from egide.services.audit.reports import AccessReports, InvalidReportPeriod, ReportRow
from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM

FOLDER = "patients/dupont"
REPORT = "patients/dupont/cr.txt"
#: Monday 2 March 2026, 09:00 UTC: 10:00 in Paris (UTC+1 until the end of March).
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
#: When carol reads the report for care (see `ward`).
CARE_TIME = START + dt.timedelta(minutes=2, seconds=4)
SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
CARE = RequestContext(
    client_address="10.1.2.3", user_agent="Firefox", purpose=Purpose.CARE, channel="session"
)


@dataclass
class Ward:
    """The scenario's people and items (ids), and the events worth naming."""

    alice: Principal  # contributor of the space
    carol: Principal  # reader of the folder patients/dupont
    bob: Principal  # no role anywhere
    dana: Principal  # DPO
    token_id: str
    folder: str
    report: str
    old: str  # patients/dupont/old.txt, now in the trash
    other: str  # autre.txt, outside the folder
    space: str


def user(svc: Services, name: str, display: str, *roles: GlobalRole) -> Principal:
    info = svc.accounts.create_user(
        SYSTEM, name, password=PASSWORD, display_name=display, roles=list(roles)
    )
    return svc.accounts.principal_for(info.id)


@pytest.fixture
def ward(svc: Services, clock: ManualClock) -> Ward:
    """A morning on the ward, then a late read; every step through the real services,
    a second apart (events of one instant are ordered by their random ids)."""
    assert clock.now() == START
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    alice = user(svc, "alice", "Alice Martin")
    carol = user(svc, "carol", "Carole Petit")
    bob = user(svc, "bob", "Bob Durand")
    dana = user(svc, "dana", "Dana Leroy", GlobalRole.DPO)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    folder = svc.nodes.mkdir(alice, "cardio", FOLDER, parents=True).id
    clock.advance(minutes=1)
    report = svc.files.write(alice, "cardio", REPORT, [b"compte rendu"]).node_id
    clock.advance(seconds=1)
    other = svc.files.write(alice, "cardio", "autre.txt", [b"autre"]).node_id
    clock.advance(seconds=1)
    old = svc.files.write(alice, "cardio", "patients/dupont/old.txt", [b"ancien"]).node_id
    clock.advance(seconds=1)
    svc.nodes.delete(alice, "cardio", "patients/dupont/old.txt")
    clock.advance(seconds=1)
    svc.spaces.grant(SYSTEM, "cardio", FOLDER, "user:carol", "reader")
    clock.advance(minutes=1)
    with request_context(CARE):
        svc.files.open(carol, "cardio", REPORT)
    clock.advance(seconds=1)
    with pytest.raises(EgideError):
        svc.files.open(bob, "cardio", REPORT)
    clock.advance(seconds=1)
    svc.nodes.copy(alice, "cardio", REPORT, "copie.txt")
    clock.advance(seconds=1)
    info, secret = svc.accounts.create_token(carol, "poste", [Scope.FILES_READ])
    clock.advance(seconds=1)
    svc.files.open(svc.accounts.authenticate_token(secret), "cardio", REPORT)
    # 21:02 UTC is 22:02 in Paris: after the working hours.
    clock.advance(hours=12)
    svc.files.open(carol, "cardio", REPORT)
    clock.advance(hours=10)
    space = svc.spaces.get(SYSTEM, "cardio").id
    return Ward(alice, carol, bob, dana, info.id, folder, report, old, other, space)


@pytest.fixture
def reports(svc: Services) -> AccessReports:
    return AccessReports.for_services(svc)


def summary(rows: list[ReportRow]) -> list[tuple[str, str, str | None, str | None]]:
    return [(r.action, r.outcome, r.username, r.node_id) for r in rows]


def test_who_accessed_a_file(reports: AccessReports, ward: Ward) -> None:
    result = reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio", path=REPORT)
    rows = list(result.rows)
    w = ward
    assert summary(rows) == [
        ("file.write", "allowed", "alice", w.report),
        ("file.read", "allowed", "carol", w.report),
        ("file.read", "denied", "bob", w.report),
        ("node.copy", "allowed", "alice", rows[3].node_id),  # the copy, made from the file
        ("file.read", "allowed", "carol", w.report),  # through her API token
        ("file.read", "allowed", "carol", w.report),  # late in the evening
    ]
    assert rows[3].node_id not in {w.report, None}
    assert [r.time for r in rows] == sorted(r.time for r in rows)
    assert all(r.seq is not None for r in rows), "the sequencer ran first"
    care = rows[1]
    assert care.display_name == "Carole Petit"
    assert care.user_id == w.carol.user_id
    assert (care.actor_kind, care.actor_id) == ("user", w.carol.user_id)
    assert care.purpose == "care"
    assert care.client_address == "10.1.2.3"
    assert care.role == "reader"
    assert care.path == "/patients/dupont/cr.txt"
    assert care.space_id == w.space
    assert care.version_id is not None
    assert care.time.endswith("Z")
    assert dt.datetime.fromisoformat(care.time) == CARE_TIME
    # The service-level read had no door: no purpose, no address, but the path and role.
    late = rows[5]
    assert (late.purpose, late.client_address, late.path) == (None, None, "/patients/dupont/cr.txt")
    token = rows[4]
    assert (token.actor_kind, token.actor_id, token.user_id) == (
        "token",
        w.token_id,
        w.carol.user_id,
    )
    assert rows[2].details == {"reason": "not-found"}
    assert (result.space_id, result.node_id, result.user_id) == (w.space, w.report, None)


def test_who_accessed_a_folder_counts_its_subtree_and_its_trash(
    reports: AccessReports, ward: Ward
) -> None:
    rows = list(
        reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio", path=FOLDER).rows
    )
    w = ward
    assert [(r.action, r.username, r.node_id) for r in rows] == [
        ("file.write", "alice", w.report),
        ("file.write", "alice", w.old),
        ("node.delete", "alice", w.old),  # old.txt sits in the trash, still below the folder
        ("grant.add", None, w.folder),  # given by the system (the command line)
        ("file.read", "carol", w.report),
        ("file.read", "bob", w.report),
        ("node.copy", "alice", rows[6].node_id),
        ("file.read", "carol", w.report),
        ("file.read", "carol", w.report),
    ]
    assert rows[3].actor_kind == "system"
    assert w.other not in {r.node_id for r in rows}
    # The trashed file by its id, which no path reaches any more.
    trashed = reports.access_to(w.dana, since=SINCE, until=UNTIL, node=w.old)
    assert [r.action for r in trashed.rows] == ["file.write", "node.delete"]


def test_who_accessed_a_space(reports: AccessReports, ward: Ward) -> None:
    rows = list(reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio").rows)
    actions = [r.action for r in rows]
    assert actions == [
        "grant.add",  # alice, contributor of the space
        "file.write",
        "file.write",
        "file.write",
        "node.delete",
        "grant.add",
        "file.read",
        "file.read",
        "node.copy",
        "file.read",
        "file.read",
    ]
    assert ward.other in {r.node_id for r in rows}
    assert "folder.create" not in actions, "creating a folder reads nothing"


def test_the_period_bounds_are_half_open(reports: AccessReports, ward: Ward) -> None:
    care_time = CARE_TIME
    rows = reports.access_to(
        ward.dana,
        since=care_time,
        until=care_time + dt.timedelta(hours=1),
        space="cardio",
        path=REPORT,
    ).rows
    assert [r.username for r in rows] == ["carol", "bob", "alice", "carol"]
    before = reports.access_to(
        ward.dana, since=SINCE, until=care_time, space="cardio", path=REPORT
    ).rows
    assert [r.action for r in before] == ["file.write"]


def test_what_one_person_did(reports: AccessReports, ward: Ward, svc: Services) -> None:
    rows = list(reports.activity_of(ward.dana, "carol", since=SINCE, until=UNTIL).rows)
    assert [(r.action, r.actor_kind) for r in rows] == [
        ("file.read", "user"),
        ("token.create", "user"),
        ("file.read", "token"),
        ("file.read", "user"),
    ]
    assert {r.user_id for r in rows} == {ward.carol.user_id}
    by_id = reports.activity_of(ward.dana, str(ward.carol.user_id), since=SINCE, until=UNTIL)
    assert [r.event_id for r in by_id.rows] == [r.event_id for r in rows]


def test_denied_attempts(reports: AccessReports, ward: Ward) -> None:
    rows = list(reports.denied(ward.dana, since=SINCE, until=UNTIL, space="cardio").rows)
    assert summary(rows) == [("file.read", "denied", "bob", ward.report)]
    assert list(reports.denied(ward.dana, since=SINCE, until=UNTIL, user="alice").rows) == []


def test_out_of_hours(reports: AccessReports, ward: Ward) -> None:
    result = reports.out_of_hours(ward.dana, since=SINCE, until=UNTIL, space="cardio")
    rows = list(result.rows)
    assert summary(rows) == [("file.read", "allowed", "carol", ward.report)]
    assert rows[0].time.startswith("2026-03-02T21:02:08")
    assert result.working_hours == {
        "hours": "07:00-20:00",
        "days": "mon,tue,wed,thu,fri",
        "timezone": "Europe/Paris",
    }


def test_working_hours_come_from_the_settings(svc: Services, ward: Ward) -> None:
    late = svc.settings.with_overrides(audit_working_hours="07:00-23:00")
    svc.settings = late
    rows = (
        AccessReports.for_services(svc)
        .out_of_hours(ward.dana, since=SINCE, until=UNTIL, space="cardio")
        .rows
    )
    assert list(rows) == []
    svc.settings = late.with_overrides(audit_working_days="sat-sun")
    rows = (
        AccessReports.for_services(svc)
        .out_of_hours(ward.dana, since=SINCE, until=UNTIL, space="cardio")
        .rows
    )
    assert len(list(rows)) == 9, "on a Monday, every content action is out of hours"


def test_an_erased_context_shows_empty_fields(
    reports: AccessReports, ward: Ward, svc: Services
) -> None:
    first = next(reports.activity_of(ward.dana, "carol", since=SINCE, until=UNTIL).rows)
    with svc.db.write() as session:
        session.execute(delete(AuditContext).where(AuditContext.event_id == first.event_id))
    again = next(reports.activity_of(ward.dana, "carol", since=SINCE, until=UNTIL).rows)
    assert again.event_id == first.event_id
    assert (again.role, again.purpose, again.client_address, again.path) == (None, None, None, None)
    assert (again.username, again.action, again.node_id, again.seq) == (
        "carol",
        "file.read",
        ward.report,
        first.seq,
    )


def test_a_report_is_itself_recorded(reports: AccessReports, ward: Ward, svc: Services) -> None:
    result = reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio", path=FOLDER)
    with svc.db.read() as session:
        event = session.get(AuditEvent, result.event_id)
        assert event is not None
        assert (event.action, event.outcome, event.user_id) == (
            "audit.report",
            "allowed",
            ward.dana.user_id,
        )
        assert event.node_id == ward.folder
        assert event.space_id == ward.space
        assert '"report":"access"' in event.details
        assert '"since":"2026-03-01T00:00:00.000000Z"' in event.details
        assert "dupont" not in event.details + event.target, "no path in the leaf"


def test_a_reader_without_audit_rights_is_refused_and_recorded(
    reports: AccessReports, ward: Ward, svc: Services
) -> None:
    with pytest.raises(EgideError) as refused:
        reports.denied(ward.carol, since=SINCE, until=UNTIL)
    assert refused.value.kind is ErrorKind.FORBIDDEN
    rows = list(reports.denied(ward.dana, since=SINCE, until=UNTIL + dt.timedelta(days=1)).rows)
    assert [(r.action, r.username) for r in rows] == [
        ("file.read", "bob"),
        ("audit.report", "carol"),
    ]
    assert rows[1].details == {"reason": "global-role-required", "report": "denied"}


def test_a_token_needs_the_audit_scope(reports: AccessReports, ward: Ward, svc: Services) -> None:
    _, narrow = svc.accounts.create_token(ward.dana, "sans audit", [Scope.FILES_READ])
    with pytest.raises(EgideError) as refused:
        reports.denied(svc.accounts.authenticate_token(narrow), since=SINCE, until=UNTIL)
    assert refused.value.kind is ErrorKind.FORBIDDEN
    _, wide = svc.accounts.create_token(ward.dana, "audit", [Scope.AUDIT_READ])
    rows = reports.denied(svc.accounts.authenticate_token(wide), since=SINCE, until=UNTIL).rows
    assert [r.action for r in rows] == ["file.read", "audit.report"]


def test_rows_are_read_in_batches_without_loss(
    reports: AccessReports, ward: Ward, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = [
        r.event_id
        for r in reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio").rows
    ]
    monkeypatch.setattr(reports_module, "_BATCH", 2)
    paged = [
        r.event_id
        for r in reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="cardio").rows
    ]
    assert paged == whole
    assert len(whole) == 11


def test_pending_events_are_sequenced_first(
    reports: AccessReports, ward: Ward, svc: Services
) -> None:
    with svc.db.read() as session:
        pending = session.scalars(select(AuditEvent.id).where(AuditEvent.seq.is_(None))).all()
    assert pending, "nothing ran the sequencer yet"
    rows = list(reports.activity_of(ward.dana, "alice", since=SINCE, until=UNTIL).rows)
    assert rows
    assert all(r.seq is not None for r in rows)


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        (UNTIL, SINCE, "The period is empty"),
        (SINCE, SINCE, "The period is empty"),
        (SINCE, SINCE + dt.timedelta(days=367), "at most 366 days"),
        (SINCE.replace(tzinfo=None), UNTIL, "time zone"),
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), UNTIL, "since between 1970 and 9998"),
        (SINCE, dt.datetime(9999, 12, 31, tzinfo=dt.UTC), "until between 1970 and 9998"),
    ],
)
def test_a_period_must_be_bounded(
    reports: AccessReports, ward: Ward, since: dt.datetime, until: dt.datetime, says: str
) -> None:
    with pytest.raises(InvalidReportPeriod, match=says):
        reports.denied(ward.dana, since=since, until=until)


def test_a_year_is_allowed(reports: AccessReports, ward: Ward) -> None:
    rows = reports.denied(ward.dana, since=SINCE, until=SINCE + dt.timedelta(days=366)).rows
    assert len(list(rows)) == 1


@pytest.mark.parametrize(
    ("arguments", "kind", "says"),
    [
        ({"space": "nulle-part"}, ErrorKind.NOT_FOUND, "No space nulle-part"),
        ({"space": "cardio", "path": "patients/absent.txt"}, ErrorKind.NOT_FOUND, "No file"),
        ({"node": "not-an-id"}, ErrorKind.NOT_FOUND, "No file or folder with the id"),
        ({"path": REPORT}, ErrorKind.INVALID, "give the space too"),
        ({"space": "cardio", "path": REPORT, "node": "x"}, ErrorKind.INVALID, "not both"),
        ({}, ErrorKind.INVALID, "Say what the access report is about"),
        ({"space": "cardio", "user": "personne"}, ErrorKind.NOT_FOUND, "No user named"),
    ],
)
def test_an_unknown_or_missing_target_says_so(
    reports: AccessReports,
    ward: Ward,
    arguments: dict[str, str],
    kind: ErrorKind,
    says: str,
) -> None:
    with pytest.raises(EgideError, match=says) as failed:
        reports.access_to(ward.dana, since=SINCE, until=UNTIL, **arguments)
    assert failed.value.kind is kind


def test_an_item_of_another_space_is_not_found(
    reports: AccessReports, ward: Ward, svc: Services
) -> None:
    svc.spaces.create(SYSTEM, "pneumo", title="Pneumologie")
    with pytest.raises(EgideError, match="No file or folder with the id"):
        reports.access_to(ward.dana, since=SINCE, until=UNTIL, space="pneumo", node=ward.report)
