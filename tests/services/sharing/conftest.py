"""Fixtures of the sharing tests: a vault that mails through a real SMTP server (aiosmtpd,
the `smtp` of tests/mail_fixtures.py)."""

from __future__ import annotations

import pytest

from egide.core.config import Settings
from tests.mail_fixtures import SENDER, mailing_settings
from tests.services.mail.smtp_server import SmtpServer


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return mailing_settings(settings, smtp, smtp_from=SENDER, language="fr")
