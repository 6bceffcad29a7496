"""Fixtures of the mail tests: a real SMTP server (aiosmtpd, the `smtp` of
tests/mail_fixtures.py) and a vault that sends to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from egide.core.config import Settings
from tests.mail_fixtures import SENDER, mailing_settings
from tests.services.mail.smtp_server import Certificate, SmtpServer, make_certificate


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "smtp-tls")


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """The vault of `svc`, sending through `smtp`."""
    return mailing_settings(settings, smtp, smtp_from=SENDER)
