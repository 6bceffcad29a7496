"""Fixtures of the mail tests: a real SMTP server (aiosmtpd) and a vault that sends to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from egide.core.config import Settings
from tests.services.mail.smtp_server import Certificate, SmtpServer, make_certificate

PUBLIC_URL = "https://egide.hopital.example"
SENDER = "Égide <egide@hopital.example>"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 (no TLS, no AUTH: a local relay)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "smtp-tls")


@pytest.fixture
def vault_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """The vault of `svc`, sending through `smtp`."""
    return settings.with_overrides(
        segment_size=4096,
        public_url=PUBLIC_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from=SENDER,
        smtp_timeout_seconds=5,
    )
