"""`egide notify run-pending`: one round of the notification worker, for cron."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_run_pending_notifies_once(cli: Cli, alice: str) -> None:
    # Being given a role on the space is news for alice ("shared with you").
    assert cli.json("notify", "run-pending") == {"notifications": 1, "digests": 0}
    assert cli.json("notify", "run-pending") == {"notifications": 0, "digests": 0}
    assert "0 notification(s) written" in cli.ok("notify", "run-pending").output
