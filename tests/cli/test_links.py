"""`egide link list|revoke` and `egide space links`: the administrator's side of share links."""

from __future__ import annotations

from pathlib import Path

import argon2

from egide.core.config import Settings
from egide.services.registry import build_services
from tests.cli.conftest import Cli

DURAND = "dr.durand@clinique.example"


def _link(alice: str, hasher: argon2.PasswordHasher) -> str:
    """A link made by alice through the service (links are made through the API); its id."""
    svc = build_services(Settings(), hasher=hasher)
    try:
        principal = svc.accounts.principal_for_username(alice)
        return svc.sharing.create_link(principal, "cardio", "cr.txt", recipients=[DURAND]).link.id
    finally:
        svc.close()


def test_list_and_revoke_links(
    cli: Cli, alice: str, tmp_path: Path, insecure_fast_argon2: argon2.PasswordHasher
) -> None:
    (tmp_path / "cr.txt").write_bytes(b"compte rendu")
    cli.ok("put", "cr.txt", "cardio/cr.txt", "-u", alice)
    link_id = _link(alice, insecure_fast_argon2)

    (listed,) = cli.json("link", "list")
    assert (listed["id"], listed["path"], listed["created_by"]) == (link_id, "/cr.txt", "alice")
    assert (listed["state"], listed["recipients"]) == ("active", [DURAND])
    assert link_id in cli.ok("link", "list", "--space", "cardio", "--active").stdout
    assert cli.json("link", "list", "--space", "other") == []

    assert "revoked" in cli.ok("link", "revoke", link_id).output
    assert cli.json("link", "list", "--active") == []
    assert cli.json("link", "list")[0]["state"] == "revoked"
    cli.fails(5, "link", "revoke", "no-such-link")


def test_space_link_policy(cli: Cli, alice: str) -> None:
    shown = cli.json("space", "links", "cardio")
    assert shown == {
        "space": "cardio",
        "links_allowed": True,
        "max_days": 30,
        "verification_required": True,
    }
    changed = cli.json(
        "space", "links", "cardio", "--forbid", "--optional-verification", "--max-days", "7"
    )
    assert (changed["links_allowed"], changed["max_days"], changed["verification_required"]) == (
        False,
        7,
        False,
    )
    assert "forbidden" in cli.ok("space", "links", "cardio").output
    cli.fails(2, "space", "links", "cardio", "--max-days", "400")
    cli.fails(5, "space", "links", "nowhere")


def test_link_request_prints_the_address_once(cli: Cli, alice: str) -> None:
    cli.ok("mkdir", "cardio/dupont", "-u", alice)
    made = cli.json(
        "link",
        "request",
        "cardio/dupont",
        "-u",
        alice,
        "-r",
        DURAND,
        "--max-files",
        "3",
        "--max-file-bytes",
        "1000",
        "--days",
        "2",
    )
    assert made["url"].endswith("/links/" + made["token"])
    link = made["link"]
    assert (link["kind"], link["path"], link["max_files"], link["max_file_bytes"]) == (
        "request",
        "/dupont",
        3,
        1000,
    )
    assert link["recipients"] == [DURAND]
    (listed,) = cli.json("link", "list")
    assert listed["kind"] == "request"
    assert made["token"] not in cli.ok("link", "list").stdout
    text = cli.ok("link", "request", "cardio/dupont", "-u", alice, "-r", DURAND).stdout
    assert "/links/" in text
    cli.fails(2, "link", "request", "cardio/dupont", "-r", DURAND)  # no --user
