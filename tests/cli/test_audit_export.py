"""`egide audit export` and `egide audit archive`, with the standalone verifier on the result."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from egide.core.db import Database
from egide.core.db.models import AuditEvent
from tests.cli.conftest import Cli, said
from tests.services.audit.bundles import run_verifier


@pytest.fixture
def logged(cli: Cli, alice: str, tmp_path: Path) -> None:
    """Three audited writes."""
    (tmp_path / "note.txt").write_text("compte rendu")
    for name in ("a", "b", "c"):
        cli.ok("put", "note.txt", f"cardio/{name}.txt", "-u", alice)


def test_export_writes_a_bundle_the_script_verifies(cli: Cli, logged: None, tmp_path: Path) -> None:
    vkey = cli.ok("audit", "key").stdout.strip()
    result = cli.ok("audit", "export", "--out", str(tmp_path / "bundle"))
    assert said(result).startswith("Exported entries 0 to ")
    assert run_verifier(tmp_path / "bundle", "--vkey", vkey).returncode == 0
    data = cli.json("audit", "export", "--out", str(tmp_path / "second"))
    assert data["first_seq"] == 0
    assert data["entries"] == data["end_seq"] == data["checkpoint_size"]
    assert data["archived_end"] == 0
    # The first export is in the second one, as an entry of its own.
    actions = [
        json.loads(line)["action"]
        for line in (tmp_path / "second" / "entries.jsonl").read_text().splitlines()
    ]
    assert "audit.export" in actions
    assert run_verifier(tmp_path / "second", "--vkey", vkey).returncode == 0


def test_export_refuses_an_earlier_bundle_and_bad_times(
    cli: Cli, logged: None, tmp_path: Path
) -> None:
    cli.ok("audit", "export", "--out", str(tmp_path / "bundle"))
    message = cli.fails(6, "audit", "export", "--out", str(tmp_path / "bundle"))
    assert "is not empty" in message
    message = cli.fails(2, "audit", "export", "--out", str(tmp_path / "x"), "--since", "hier")
    assert "--since takes an RFC 3339 time" in message
    today = dt.datetime.now(dt.UTC).date()
    message = cli.fails(
        5, "audit", "export", "--out", str(tmp_path / "y"), "--until", str(today.replace(year=2000))
    )
    assert "No entry of the live audit log falls in this window" in message
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "y").exists()


def test_archive_says_when_nothing_is_old_enough(cli: Cli, logged: None) -> None:
    assert "Nothing to archive: no live entry is older than" in said(cli.ok("audit", "archive"))
    assert cli.json("audit", "archive", "--dry-run")["entries"] == 0


def test_archive_moves_old_entries_out(
    cli: Cli, logged: None, tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("audit", "checkpoint")  # sequences the writes
    # The command line runs on the system clock: age the first two events instead.
    with db.write() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.seq < 2)
            .values(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    monkeypatch.setenv("EGIDE_AUDIT_ARCHIVE_DIR", str(tmp_path / "archive"))
    plan = cli.json("audit", "archive", "--dry-run")
    assert (plan["first_seq"], plan["end_seq"], plan["dry_run"]) == (0, 2, True)
    assert not (tmp_path / "archive").exists()
    result = cli.ok("audit", "archive")
    assert said(result).startswith("Archived entries 0 to 1 (2, older than")
    bundle = tmp_path / "archive" / "000000000000-000000000001"
    assert run_verifier(bundle, "--vkey", cli.ok("audit", "key").stdout.strip()).returncode == 0
    verified = cli.json("audit", "verify")
    assert (verified["clean"], verified["archived"]) == (True, 2)
    assert "(the first 2 archived, checked by their leaf hashes)" in said(cli.ok("audit", "verify"))
    data = cli.json("audit", "export", "--out", str(tmp_path / "live"))
    assert (data["first_seq"], data["archived_end"]) == (2, 2)
