"""`egide scan` with a real clamd (tests/clamd.py): files stored while scanning
was off are scanned, a threat is reported (exit 1) and blocks downloads."""

from __future__ import annotations

import pytest

from tests.clamd import EICAR, running_clamd
from tests.cli.conftest import Cli

UNAVAILABLE, LOCKED = 13, 10


def test_scan_finds_what_was_stored_unscanned(
    cli: Cli, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("put", "-", "cardio/ordonnance.pdf", "-u", alice, stdin=EICAR)
    cli.ok("put", "-", "cardio/cr.txt", "-u", alice, stdin=b"compte rendu")
    assert "Antivirus scanning is off" in cli.fails(UNAVAILABLE, "scan")
    with running_clamd() as clamd:
        monkeypatch.setenv("EGIDE_CLAMD_ADDRESS", clamd.address)
        assert cli.json("scan", "--held-only")["scanned"] == 0
        result = cli("scan", "--since", "1")
        assert result.exit_code == 1, result.output
        assert "2 file content(s)" in result.output
        assert "1 clean, 0 still held, 1 infected" in result.output
        assert "Threats found" in result.output
        # Infected contents are not scanned again; the clean one is.
        report = cli.json("scan")
        assert (report["scanned"], report["clean"], report["infected"]) == (1, 1, 0)
        assert "Test.Eicar" in cli.fails(LOCKED, "get", "cardio/ordonnance.pdf", "-", "-u", alice)
        assert cli.ok("get", "cardio/cr.txt", "-", "-u", alice).stdout == "compte rendu"
        clamd.stop()
        assert "antivirus cannot be reached" in cli.fails(UNAVAILABLE, "scan")
