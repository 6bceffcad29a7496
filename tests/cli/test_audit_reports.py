"""`egide audit report KIND`: access reports at the command line, as the local system."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from egide.services.audit.reports import COLUMNS
from tests.cli.conftest import Cli, said


def period() -> list[str]:
    """A window around now: the CLI's clock is the system's."""
    now = dt.datetime.now(dt.UTC)
    since = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ["--since", since, "--until", (now + dt.timedelta(days=1)).date().isoformat()]


@pytest.fixture
def ward(cli: Cli, alice: str, bob: str, tmp_path: Path) -> Cli:
    """alice writes a report and reads it back; bob, with no role, is refused it."""
    (tmp_path / "cr.txt").write_text("compte rendu")
    cli.ok("mkdir", "cardio/patients", "-u", alice)
    cli.ok("put", "cr.txt", "cardio/patients/cr.txt", "-u", alice)
    cli.ok("put", "cr.txt", "cardio/autre.txt", "-u", alice)
    cli.ok("get", "cardio/patients/cr.txt", "-", "-u", alice)
    cli.fails(5, "get", "cardio/patients/cr.txt", "-", "-u", bob)
    return cli


def test_json_lists_who_accessed_a_folder(ward: Cli) -> None:
    args = ["audit", "report", "access", *period(), "--space", "cardio", "--path", "patients"]
    body = json.loads(ward.ok(*args, "--format", "json").stdout)
    assert body["kind"] == "access"
    rows = body["rows"]
    assert [(r["action"], r["outcome"], r["username"]) for r in rows] == [
        ("file.write", "allowed", "alice"),
        ("file.read", "allowed", "alice"),
        ("file.read", "denied", "bob"),
    ]
    assert rows[0]["path"] == "/patients/cr.txt"
    assert rows[0]["role"] == "contributor"
    assert all(r["seq"] is not None for r in rows)


def test_the_table_is_for_reading(ward: Cli) -> None:
    result = ward.ok("audit", "report", "denied", *period())
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "time",
        "action",
        "outcome",
        "person",
        "role",
        "purpose",
        "address",
        "path",
    ]
    assert "file.read" in lines[1]
    assert "bob" in lines[1]
    assert lines[-1] == "1 rows."


def test_csv_to_a_new_file_parses_back(ward: Cli, tmp_path: Path) -> None:
    out = tmp_path / "rapport.csv"
    args = ["audit", "report", "activity", *period(), "--user", "alice", "--format", "csv"]
    result = ward.ok(*args, "--out", str(out))
    assert "Report written to" in said(result)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(table[0]) == COLUMNS
    actions = [dict(zip(COLUMNS, line, strict=True))["action"] for line in table[1:]]
    assert actions == ["folder.create", "file.write", "file.write", "file.read"]
    # An earlier report is never overwritten.
    message = ward.fails(6, *args, "--out", str(out))
    assert "already exists" in message
    assert out.read_bytes() == data


def test_the_report_is_recorded_as_the_system(ward: Cli) -> None:
    ward.ok("audit", "report", "denied", *period(), "--format", "json")
    mine = json.loads(
        ward.ok(
            "audit", "report", "activity", *period(), "--user", "alice", "--format", "json"
        ).stdout
    )
    assert "audit.report" not in {r["action"] for r in mine["rows"]}
    entries = ward.ok("audit", "verify", "--json")
    assert json.loads(entries.stdout)["clean"] is True


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["access", "--since", "2026-03-02", "--until", "2026-03-01"], 2, "period is empty"),
        (["access", "--since", "2025-01-01", "--until", "2026-03-01"], 2, "at most 366 days"),
        (["access", "--since", "hier", "--until", "2026-03-01"], 2, "--since takes"),
        (["access", "--since", "2026-03-01", "--until", "2026-03-02"], 2, "Say what"),
        (
            ["activity", "--since", "2026-03-01", "--until", "2026-03-02", "--user", "zoe"],
            5,
            "No user named zoe",
        ),
    ],
)
def test_bad_input_says_what_to_do(ward: Cli, args: list[str], code: int, says: str) -> None:
    assert says in ward.fails(code, "audit", "report", *args)
