"""Settings from defaults, environment variables and a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from egide.core.config import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EGIDE_DATA_DIR", "EGIDE_DATABASE_URL", "EGIDE_CONFIG", "EGIDE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.data_dir == Path("egide-data")
    assert settings.resolved_database_url.endswith("egide-data/egide.sqlite3")
    assert settings.resolved_blob_dir == Path("egide-data/blobs")
    assert settings.resolved_key_file == Path("egide-data/keys/egide.keys")
    assert settings.protection_days == 30


def test_environment_then_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "egide.toml"
    config.write_text('protection_days = 90\nkey_file = "/etc/egide/keys"\nversions_keep = 7\n')
    monkeypatch.setenv("EGIDE_CONFIG", str(config))
    monkeypatch.setenv("EGIDE_VERSIONS_KEEP", "12")
    settings = Settings()
    assert settings.protection_days == 90
    assert settings.resolved_key_file == Path("/etc/egide/keys")
    assert settings.versions_keep == 12  # the environment wins over the file


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGIDE_PROTECTION_DAYS", "0")
    with pytest.raises(ValidationError, match="protection_days"):
        Settings()
    monkeypatch.delenv("EGIDE_PROTECTION_DAYS")
    monkeypatch.setenv("EGIDE_ANTIVIRUS_WAIT_MAX_BYTES", "-1")
    with pytest.raises(ValidationError, match="antivirus_wait_max_bytes"):
        Settings()
    monkeypatch.delenv("EGIDE_ANTIVIRUS_WAIT_MAX_BYTES")
    with pytest.raises(ValidationError, match="segment_size"):
        Settings(segment_size=8)


def test_unknown_toml_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "egide.toml"
    config.write_text("protection_dayz = 10\n")
    monkeypatch.setenv("EGIDE_CONFIG", str(config))
    with pytest.raises(ValidationError, match="protection_dayz"):
        Settings()
