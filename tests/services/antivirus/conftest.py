"""A real clamd per test module, and a vault whose uploads it scans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from egide.core.config import Settings
from tests.clamd import ClamdServer


@pytest.fixture
def clamd() -> Iterator[ClamdServer]:
    """A clamd of this test's own (tests stop and restart it)."""
    server = ClamdServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def vault_settings(settings: Settings, clamd: ClamdServer) -> Settings:
    return settings.with_overrides(
        segment_size=4096,
        clamd_address=clamd.address,
        antivirus_connect_timeout_seconds=1.0,
        antivirus_timeout_seconds=30.0,
    )
