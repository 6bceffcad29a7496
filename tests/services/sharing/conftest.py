"""Fixtures of the sharing tests: a vault that mails through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from egide.core.config import Settings
from tests.services.mail.smtp_server import SmtpServer

PUBLIC_URL = "https://egide.hopital.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 (a local relay), a free port."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.with_overrides(
        segment_size=4096,
        public_url=PUBLIC_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from="Égide <egide@hopital.example>",
        smtp_timeout_seconds=5,
        language="fr",
    )
