"""`egide incident restore` and `egide restore --space --at` on a real data
directory (issue 8, item 3): byte for byte, dry runs, second runs, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import time

import pytest

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.access.policy import Principal
from egide.services.registry import build_services
from tests.cli.conftest import Cli
from tests.cli.test_incidents import _infect
from tests.core.ransomware.samples import SAMPLES

INVALID, NOT_FOUND = 2, 5


def _contents(cli: Cli, database_url: str) -> dict[str, str]:
    """name -> SHA-256 of every file at the root of `cardio`, read as alice."""
    svc = build_services(Settings(data_dir=cli.data_dir, database_url=database_url))
    try:
        system = Principal.system()
        alice = svc.accounts.principal_for(svc.accounts.get_user(system, "alice").id)
        reader = dataclasses.replace(alice, session_id="reader")
        svc.spaces.grant(system, "cardio", "", "user:alice", "reader")
        out = {}
        for item in svc.nodes.list_folder(reader, "cardio", ""):
            out[item.name] = item.sha256 or ""
        return out
    finally:
        svc.close()


def test_incident_restore(cli: Cli, alice: str, database_url: str) -> None:
    _infect(cli, database_url)
    [incident] = cli.json("incident", "list")
    dry = cli.json("incident", "restore", incident["id"], "--dry-run")
    assert dry == {
        "restored": 3,
        "undeleted": 0,
        "renamed_back": 0,
        "skipped": 0,
        "conflicts": [],
        "dry_run": True,
    }
    text = cli.ok("incident", "restore", incident["id"]).output
    assert "restored 3 file(s)" in text
    assert cli.json("incident", "restore", incident["id"])["restored"] == 0
    assert cli.json("incident", "show", incident["id"])["restored_at"] is not None
    assert "No such incident" in cli.fails(NOT_FOUND, "incident", "restore", "nope")
    cli.ok("incident", "release", incident["id"])
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in SAMPLES.items()}
    assert _contents(cli, database_url) == expected


def test_point_in_time_restore(cli: Cli, alice: str, database_url: str) -> None:
    svc = build_services(Settings(data_dir=cli.data_dir, database_url=database_url))
    try:
        system = Principal.system()
        actor = svc.accounts.principal_for(svc.accounts.get_user(system, "alice").id)
        svc.files.write(actor, "cardio", "a.txt", [b"before"])
        time.sleep(0.05)
        at = dt.datetime.now(dt.UTC)
        time.sleep(0.05)
        svc.files.write(actor, "cardio", "a.txt", [b"after"])
        svc.files.write(actor, "cardio", "b.txt", [b"newer"])
    finally:
        svc.close()
    instant = at.isoformat()
    dry = cli.json("restore", "--space", "cardio", "--at", instant, "--dry-run")
    assert (dry["restored"], dry["trashed"], dry["dry_run"]) == (1, 1, True)
    text = cli.ok("restore", "--space", "cardio", "--at", instant).output
    assert "restored 1 file(s)" in text
    assert "moved 1 newer item(s) to the trash" in text
    assert cli.json("restore", "--space", "cardio", "--at", instant)["skipped"] == 1
    assert _contents(cli, database_url) == {"a.txt": hashlib.sha256(b"before").hexdigest()}
    message = cli.fails(INVALID, "restore", "--space", "cardio", "--at", "yesterday")
    assert "ISO 8601" in message
    message = cli.fails(INVALID, "restore", "--space", "cardio", "--at", "2026-03-02T09:00")
    assert "time zone" in message
    assert cli.fails(NOT_FOUND, "restore", "--space", "nope", "--at", instant)


def test_gc_at_the_command_line_honours_the_window_written_with(
    cli: Cli, alice: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shortening EGIDE_PROTECTION_DAYS on the server only affects data written
    afterwards (issue 8, item 4; ADR 4)."""
    five_days_ago = ManualClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=5))
    for days, name in ((30, "kept.txt"), (1, "short.txt")):
        settings = Settings(data_dir=cli.data_dir, database_url=database_url, protection_days=days)
        svc = build_services(settings, clock=five_days_ago)
        try:
            system = Principal.system()
            actor = svc.accounts.principal_for(svc.accounts.get_user(system, "alice").id)
            svc.files.write(actor, "cardio", name, [b"v1"])
            svc.files.write(actor, "cardio", name, [b"v2"])
            svc.nodes.delete(actor, "cardio", name)
        finally:
            svc.close()
    monkeypatch.setenv("EGIDE_PROTECTION_DAYS", "1")
    monkeypatch.setenv("EGIDE_VERSIONS_KEEP", "1")
    report = cli.json("gc", "--grace", "0s")
    assert report["trash_purged"] == 1  # short.txt, written with a 1-day window
    assert report["trash_protected"] == 0
    assert report["contents_erased"] == 2
    trash = cli.json("trash", "list", "cardio", "--user", "alice")
    assert [t["name"] for t in trash] == ["kept.txt"]
