"""`egide incident list|show|release|confirm` on a vault where alice's session
behaved like ransomware (writes through the services, as the web door does)."""

from __future__ import annotations

import dataclasses

import pytest

from egide.core.config import Settings
from egide.services.access.policy import Principal
from egide.services.ransomware.errors import PrincipalContained
from egide.services.registry import build_services
from tests.cli.conftest import Cli
from tests.core.ransomware.samples import SAMPLES, aes_ctr

NOT_FOUND, CONFLICT = 5, 6


def _infect(cli: Cli, database_url: str) -> None:
    svc = build_services(Settings(data_dir=cli.data_dir, database_url=database_url))
    try:
        alice = svc.accounts.principal_for(svc.accounts.get_user(Principal.system(), "alice").id)
        actor = dataclasses.replace(alice, session_id="infected")
        for name, data in SAMPLES.items():
            svc.files.write(actor, "cardio", name, [data])
        encrypted = [(name, aes_ctr(data)) for name, data in SAMPLES.items()]
        for name, data in encrypted[:3]:
            svc.files.write(actor, "cardio", name, [data])
        with pytest.raises(PrincipalContained):
            svc.files.write(actor, "cardio", encrypted[3][0], [encrypted[3][1]])
    finally:
        svc.close()


def test_list_show_confirm_release(cli: Cli, alice: str, database_url: str) -> None:
    assert "No incident." in cli.ok("incident", "list").output
    _infect(cli, database_url)
    [incident] = cli.json("incident", "list", "--status", "open")
    assert incident["principal_kind"] == "session"
    assert incident["event_count"] == 3
    shown = cli.json("incident", "show", incident["id"])
    assert [e["kind"] for e in shown["events"]] == ["write"] * 3
    text = cli.ok("incident", "show", incident["id"]).output
    assert "looks-encrypted" in text
    assert cli.json("incident", "confirm", incident["id"])["status"] == "confirmed"
    assert "released" in cli.ok("incident", "release", incident["id"]).output
    assert "already released" in cli.fails(CONFLICT, "incident", "release", incident["id"])
    assert cli.json("incident", "list", "--status", "open") == []
    assert "No such incident" in cli.fails(NOT_FOUND, "incident", "show", "nope")


def test_space_canaries(cli: Cli, alice: str) -> None:
    assert "No canary" in cli.ok("space", "canaries", "cardio").output
    result = cli.json("space", "canaries", "cardio", "--enable")
    assert len(result["written"]) == 1
    assert result["canaries"] == result["written"]
    assert cli.json("space", "canaries", "cardio", "--enable")["written"] == []
