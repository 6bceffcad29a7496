"""`egide audit key`, `egide audit checkpoint` and `egide audit verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from egide.core.audit.checkpoint import verify_note
from egide.core.config import Settings
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf
from egide.services.registry import build_services
from tests.cli.conftest import Cli, said


@pytest.fixture
def logged(cli: Cli, alice: str, tmp_path: Path) -> int:
    """Three audited writes; returns how many entries the log holds."""
    (tmp_path / "note.txt").write_text("compte rendu")
    for name in ("a", "b", "c"):
        cli.ok("put", "note.txt", f"cardio/{name}.txt", "-u", alice)
    return 3


def test_the_verifier_key_verifies_the_checkpoint(cli: Cli, logged: int) -> None:
    vkey = cli.ok("audit", "key").stdout.strip()
    assert vkey == cli.json("audit", "key")["vkey"]
    note = cli.ok("audit", "checkpoint").stdout
    checkpoint = verify_note(note, vkey)
    assert checkpoint.size >= logged
    assert checkpoint.origin == vkey.split("+", 1)[0]
    data = cli.json("audit", "checkpoint")
    assert data["note"] == note  # nothing new: the same checkpoint
    # The key file holds the private key; nothing printed does.
    seed = json.loads(cli.key_file.read_text())["audit_signing_key"]["seed"]
    assert seed not in vkey
    assert seed not in note


def test_a_clean_log_verifies_in_one_line(cli: Cli, logged: int) -> None:
    cli.ok("audit", "checkpoint")
    result = cli.ok("audit", "verify")
    assert said(result).startswith("Audit log verified:")
    assert len(result.stdout.strip().splitlines()) == 1
    report = cli.json("audit", "verify")
    assert report["clean"] is True
    assert report["finding"] is None
    assert report["entries"] >= logged


def test_an_edited_entry_is_named_with_the_integrity_exit_code(
    cli: Cli, logged: int, db: Database
) -> None:
    cli.ok("audit", "checkpoint")
    with db.write() as session:
        session.execute(update(AuditLeaf).where(AuditLeaf.seq == 1).values(leaf=b"{}"))
    message = cli.fails(12, "audit", "verify")
    assert "Audit entry 1 was altered" in message
    result = cli("audit", "verify", "--json")
    assert result.exit_code == 12
    finding = json.loads(result.stdout)["finding"]
    assert (finding["kind"], finding["seq"]) == ("altered", 1)


def test_from_checkpoint_accepts_this_log_and_refuses_another(
    cli: Cli, logged: int, tmp_path: Path
) -> None:
    note = tmp_path / "outside.txt"
    note.write_text(cli.ok("audit", "checkpoint").stdout)
    assert "extends" in said(cli.ok("audit", "verify", "--from-checkpoint", str(note)))
    foreign = tmp_path / "foreign.txt"
    foreign.write_text(
        "other.example/egide\n3\n" + "A" * 43 + "=\n\n\u2014 other.example/egide "
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    )
    message = cli.fails(12, "audit", "verify", "--from-checkpoint", str(foreign))
    assert "no signature by the key" in message
    result = cli("audit", "verify", "--from-checkpoint", str(tmp_path / "absent.txt"))
    assert result.exit_code == 2


def test_checkpoints_go_to_the_checkpoint_directory(
    cli: Cli, logged: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worm = tmp_path / "worm"
    worm.mkdir()
    monkeypatch.setenv("EGIDE_AUDIT_CHECKPOINT_DIR", str(worm))
    data = cli.json("audit", "checkpoint")
    assert (worm / f"{data['size']}.txt").read_text() == data["note"]
    assert cli.json("audit", "verify", "--from-checkpoint", str(worm / f"{data['size']}.txt"))[
        "clean"
    ]


def test_if_due_signs_only_when_a_checkpoint_is_due(
    cli: Cli, logged: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cli.json("audit", "checkpoint", "--if-due")  # the first one is due at once
    assert first["size"] >= logged
    assert cli.json("audit", "checkpoint", "--if-due") is None
    assert "No checkpoint due." in said(cli.ok("audit", "checkpoint", "--if-due"))
    monkeypatch.setenv("EGIDE_AUDIT_CHECKPOINT_ENTRIES", "1")
    cli.ok("put", "note.txt", "cardio/d.txt", "-u", "alice")
    assert cli.json("audit", "checkpoint", "--if-due")["size"] > first["size"]


def test_a_command_line_action_is_sealed_with_its_console_context(
    cli: Cli, alice: str, tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "note.txt").write_text("compte rendu")
    cli.ok("put", "note.txt", "cardio/Dupont.txt", "-u", alice)
    settings = Settings(data_dir=cli.data_dir, database_url=database_url)
    services = build_services(settings)
    try:
        with services.db.read() as session:
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "file.write")
            ).one()
        context = services.audit.open_context(event.id)
    finally:
        services.close()
    assert context is not None
    assert context["channel"] == "cli"
    assert context["client"]["user_agent"].startswith("egide-cli; os-user=")
    assert context["path"] == "/Dupont.txt"


def test_erase_a_person_s_contexts_from_the_command_line(cli: Cli, logged: int) -> None:
    data = cli.json("audit", "erase", "--user", "alice")
    assert data["contexts_erased"] == logged
    assert cli.json("audit", "erase", "--user", "alice")["contexts_erased"] == 0
    assert cli.json("audit", "verify")["clean"] is True
    assert "No user named nobody" in cli.fails(5, "audit", "erase", "--user", "nobody", "--yes")
