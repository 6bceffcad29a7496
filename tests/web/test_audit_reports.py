"""GET /api/v1/audit/reports/{kind}: access reports over HTTP, in JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent
from egide.services.access.policy import GlobalRole, Principal, Scope
from egide.services.audit.reports import COLUMNS
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM, MakeUser

REPORTS = "/api/v1/audit/reports"
FILE = "/api/v1/spaces/cardio/content/patients/dupont/cr.txt"
PERIOD = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-04T00:00:00+01:00"}


def bearer(svc: Services, who: Principal, *scopes: Scope) -> dict[str, str]:
    _, secret = svc.accounts.create_token(who, "poste", list(scopes))
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def dpo(svc: Services, make_user: MakeUser) -> dict[str, str]:
    return bearer(svc, make_user("dana", GlobalRole.DPO), Scope.AUDIT_READ)


@pytest.fixture
def carol(svc: Services, make_user: MakeUser) -> dict[str, str]:
    """A reader of the space, through an API token."""
    return bearer(svc, make_user("carol"), Scope.FILES_READ)


@pytest.fixture
def ward(
    svc: Services,
    app_client: TestClient,
    clock: ManualClock,
    alice: Principal,
    carol: dict[str, str],
) -> TestClient:
    """alice writes the report, carol reads it for care, an intruder is refused, and
    carol reads it again late at night (22:00 in Paris): all through HTTP."""
    svc.spaces.grant(SYSTEM, "cardio", "", "user:carol", "reader")
    svc.nodes.mkdir(alice, "cardio", "patients/dupont", parents=True)
    clock.advance(minutes=1)
    written = app_client.put(FILE, content=b"cr", headers=bearer(svc, alice, Scope.FILES_WRITE))
    assert written.status_code == 201, written.text
    clock.advance(minutes=1)
    read = app_client.get(FILE, headers={**carol, "Egide-Purpose": "care"})
    assert read.status_code == 200, read.text
    clock.advance(minutes=1)
    intruder = svc.accounts.create_user(SYSTEM, "mallory", password=None)
    refused = app_client.get(
        FILE, headers=bearer(svc, svc.accounts.principal_for(intruder.id), Scope.FILES_READ)
    )
    assert refused.status_code == 404
    clock.advance(hours=12)
    late = app_client.get(FILE, headers={**carol, "Egide-Purpose": "emergency"})
    assert late.status_code == 200
    return app_client


def report(client: TestClient, kind: str, headers: dict[str, str], **params: str) -> Any:
    answer = client.get(f"{REPORTS}/{kind}", params={**PERIOD, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


def test_the_access_report_of_a_file_in_json(ward: TestClient, dpo: dict[str, str]) -> None:
    answer = report(ward, "access", dpo, space="cardio", path="patients/dupont/cr.txt")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "private, no-store"
    body = answer.json()
    assert body["kind"] == "access"
    assert body["since"] == "2026-03-01T00:00:00.000000Z"
    assert body["until"] == "2026-03-03T23:00:00.000000Z"
    rows = body["rows"]
    assert [(r["action"], r["outcome"], r["username"], r["purpose"]) for r in rows] == [
        ("file.write", "allowed", "alice", None),
        ("file.read", "allowed", "carol", "care"),
        ("file.read", "denied", "mallory", None),
        ("file.read", "allowed", "carol", "emergency"),
    ]
    care = rows[1]
    assert care["role"] == "reader"
    assert care["client_address"] == "testclient"
    assert care["path"] == "/patients/dupont/cr.txt"
    assert care["actor_kind"] == "token"
    assert care["seq"] is not None
    assert list(care) == list(COLUMNS)
    assert body["report_event_id"]


def test_csv_parses_back_to_the_json_rows(ward: TestClient, dpo: dict[str, str]) -> None:
    params = {"space": "cardio"}
    rows = report(ward, "access", dpo, **params).json()["rows"]
    answer = report(ward, "access", dpo, format="csv", **params)
    assert answer.headers["content-type"].startswith("text/csv; charset=utf-8")
    disposition = answer.headers["content-disposition"]
    assert disposition == 'attachment; filename="egide-access-20260301-20260303.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    assert b"\r\n" in answer.content
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert tuple(table[0]) == COLUMNS
    assert len(table) == len(rows) + 1
    for line, row in zip(table[1:], rows, strict=True):
        parsed = dict(zip(COLUMNS, line, strict=True))
        assert parsed["event_id"] == row["event_id"]
        assert parsed["purpose"] == (row["purpose"] or "")
        assert parsed["seq"] == str(row["seq"])
        assert parsed["time"] == row["time"]


def test_accept_text_csv_asks_for_csv(ward: TestClient, dpo: dict[str, str]) -> None:
    answer = report(ward, "denied", {**dpo, "Accept": "text/csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert [(line["action"], line["username"]) for line in lines] == [("file.read", "mallory")]
    json_first = {**dpo, "Accept": "application/json, text/csv;q=0.5"}
    assert report(ward, "denied", json_first).headers["content-type"] == "application/json"
    forced = report(ward, "denied", {**dpo, "Accept": "text/csv"}, format="json")
    assert forced.headers["content-type"] == "application/json"


def test_activity_and_out_of_hours(ward: TestClient, dpo: dict[str, str]) -> None:
    activity = report(ward, "activity", dpo, user="carol").json()["rows"]
    assert [(r["action"], r["purpose"]) for r in activity] == [
        ("token.create", None),  # her token, made before the ward's morning
        ("file.read", "care"),
        ("file.read", "emergency"),
    ]
    late = report(ward, "out-of-hours", dpo, space="cardio").json()
    assert [(r["username"], r["purpose"]) for r in late["rows"]] == [("carol", "emergency")]
    assert late["working_hours"] == {
        "hours": "07:00-20:00",
        "days": "mon,tue,wed,thu,fri",
        "timezone": "Europe/Paris",
    }


def test_a_reader_is_refused_and_the_refusal_recorded(
    ward: TestClient, carol: dict[str, str], dpo: dict[str, str], svc: Services
) -> None:
    refused = ward.get(f"{REPORTS}/access", params={**PERIOD, "space": "cardio"}, headers=carol)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    with svc.db.read() as session:
        recorded = session.execute(
            select(AuditEvent.action, AuditEvent.outcome).where(AuditEvent.action == "audit.report")
        ).all()
    assert [tuple(row) for row in recorded] == [("audit.report", "denied")]
    denied = report(ward, "denied", dpo, user="carol").json()["rows"]
    assert [(r["action"], r["details"]["report"]) for r in denied] == [("audit.report", "access")]


@pytest.mark.parametrize(
    ("kind", "params", "status", "field"),
    [
        (
            "access",
            {"since": "2026-03-04T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            400,
            "since",
        ),
        (
            "access",
            {"since": "2025-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            400,
            "until",
        ),
        ("access", {"since": "2026-03-01T00:00:00"}, 400, "since"),  # no offset
        ("access", {"until": "demain"}, 400, "until"),
        (
            "out-of-hours",
            {"since": "0001-01-01T00:00:16Z", "until": "0001-01-01T00:00:00+00:01"},
            400,
            "since",
        ),
        ("access", {}, 400, "space"),  # about nothing
        ("activity", {}, 400, "user"),
        ("access", {"space": "nulle-part"}, 404, None),
        ("tout", {"space": "cardio"}, 400, "kind"),
        ("access", {"space": "cardio", "format": "xls"}, 400, "format"),
    ],
)
def test_bad_input_is_a_problem(
    ward: TestClient,
    dpo: dict[str, str],
    *,
    kind: str,
    params: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    answer = ward.get(f"{REPORTS}/{kind}", params={**PERIOD, **params}, headers=dpo)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json().get("field") == field


def test_the_openapi_document_describes_both_outputs(app_client: TestClient) -> None:
    document = app_client.get("/api/v1/openapi.json").json()
    operation = document["paths"][REPORTS + "/{kind}"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert {"400", "401", "403", "404"} <= set(operation["responses"])
    names = {p["name"] for p in operation["parameters"] if p["in"] in {"path", "query"}}
    assert names == {"kind", "since", "until", "space", "path", "node", "user", "format"}


def test_times_are_utc_whatever_the_offset_asked(ward: TestClient, dpo: dict[str, str]) -> None:
    since = dt.datetime(2026, 3, 2, 10, 2, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    params = {"since": since.isoformat(), "until": "2026-03-02T10:00:00Z", "space": "cardio"}
    answer = ward.get(f"{REPORTS}/access", params=params, headers=dpo)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [r["purpose"] for r in rows] == ["care", None]
    assert all(r["time"].endswith("Z") for r in rows)
