"""`egide serve` on first start: a vault and an administrator whose password must change."""

from __future__ import annotations

import re

import pytest

from egide.cli.serve import _first_start
from egide.core.config import Settings
from egide.services.accounts.errors import PasswordChangeRequired
from egide.services.registry import build_services


def test_first_start_prints_a_one_time_password_that_must_be_changed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _first_start(settings)
    printed = " ".join(capsys.readouterr().err.split())
    match = re.search(r"one-time password: (\S+)", printed)
    assert match, printed
    svc = build_services(settings)
    try:
        admin = svc.accounts.authenticate("admin", match.group(1))
        assert admin.is_admin
        assert admin.user_id is not None
        assert svc.accounts.must_change_password(admin.user_id)
        with pytest.raises(PasswordChangeRequired):
            svc.accounts.principal_for(admin.user_id)
        svc.accounts.change_password(
            admin, "admin", "a password of my own 2026", current_password=match.group(1)
        )
        assert not svc.accounts.must_change_password(admin.user_id)
        assert svc.accounts.principal_for(admin.user_id).is_admin
    finally:
        svc.close()
