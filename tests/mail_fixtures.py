"""Shared fixtures: a real SMTP server (aiosmtpd on 127.0.0.1) for the tests of a vault
that sends mail (links, file requests, sharing, notifications), and the browser of the
person a link is mailed to.

Registered for the whole suite by tests/conftest.py; a test module or conftest that wants
its vault to send through `smtp` overrides `vault_settings` with `mailing_settings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from egide.core.config import Settings
from egide.services.registry import Services
from egide.web.app import create_app
from tests.services.mail.smtp_server import SmtpServer

PUBLIC_URL = "https://egide.hopital.example"
SENDER = "Égide <egide@hopital.example>"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 (a local relay), a free port."""
    server = SmtpServer().start()
    yield server
    server.stop()


def mailing_settings(settings: Settings, smtp: SmtpServer, **changes: Any) -> Settings:
    """`settings` for a vault (small segments, as `vault_settings`) sending through `smtp`
    in plain SMTP, with `changes` (the sender, the language...) on top."""
    return settings.with_overrides(
        segment_size=4096,
        public_url=PUBLIC_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_timeout_seconds=5,
        **changes,
    )


@pytest.fixture
def recipient(svc: Services) -> Iterator[TestClient]:
    """The browser of a link's recipient, without any account (a colleague at another
    hospital, a laboratory answering a file request), in French."""
    with TestClient(create_app(svc), headers={"Accept-Language": "fr"}) as client:
        yield client
