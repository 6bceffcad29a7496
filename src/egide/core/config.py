"""Settings, read from `EGIDE_*` environment variables and an optional TOML file.

Precedence: explicit arguments, then environment variables, then the TOML file
named by `EGIDE_CONFIG` (if set), then the defaults below. Every setting is
documented in docs/configuration.md; a test fails when one is not.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EGIDE_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("egide-data"),
        description="Directory holding the embedded database, the blob directory and, "
        "by default, the key file.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database. Default: SQLite file "
        "`egide.sqlite3` in the data directory. PostgreSQL: "
        "`postgresql+psycopg://user@host/db`.",
    )
    blob_dir: Path | None = Field(
        default=None,
        description="Directory of encrypted blobs. Default: `blobs` in the data directory.",
    )
    key_file: Path | None = Field(
        default=None,
        description="Master key file (mode 0600). Default: `keys/egide.keys` in the data "
        "directory; in production place it outside the data directory and its backups.",
    )
    escrow_file: Path | None = Field(
        default=None,
        description="Recovery escrow: master keys sealed to the offline recovery code. "
        "Default: `recovery-escrow.json` in the data directory.",
    )
    segment_size: int = Field(
        default=65536,
        ge=16,
        le=1 << 24,
        description="EGS1 segment size in bytes for new blobs.",
    )
    protection_days: int = Field(
        default=30,
        ge=1,
        description="Days during which an old version or a trashed item cannot be purged. "
        "Applies to data written after a change; existing data keeps the window it was "
        "written with.",
    )
    versions_keep: int = Field(
        default=50,
        ge=1,
        description="Once out of the protection window, older versions beyond this many "
        "per file are pruned by `egide gc`.",
    )
    blob_gc_grace_seconds: int = Field(
        default=3600,
        ge=0,
        description="A blob that no committed row references is deleted by the garbage "
        "collector only when older than this.",
    )

    host: str = Field(
        default="127.0.0.1",
        description="Address `egide serve` listens on. Loopback by default: put a TLS "
        "reverse proxy in front of it in production.",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Port `egide serve` listens on.")
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure (only sent over HTTPS). Turn on behind "
        "a TLS proxy, which is how Égide must run in production.",
    )
    session_idle_minutes: int = Field(
        default=15,
        ge=1,
        description="A web session unused for this long is locked: the next request needs "
        "the password again (nothing is lost).",
    )
    session_lifetime_hours: int = Field(
        default=12,
        ge=1,
        description="A web session ends this long after sign-in, whatever the activity.",
    )
    language: Literal["fr", "en"] = Field(
        default="fr",
        description="Language of error messages when the client states no preference: "
        "`fr` or `en`. A web client's Accept-Language wins; the CLI follows the "
        "environment's locale.",
    )
    audit_origin: str | None = Field(
        default=None,
        pattern=r"^[^\s+]+$",
        max_length=200,
        description="Name of the audit log in its signed checkpoints, also the name of its "
        "signing key (no spaces, no `+`), e.g. `audit.chu-exemple.fr/egide`. Default: "
        "`egide/<host name>`. Set it once, before the first checkpoint: checkpoints "
        "signed under another name no longer verify.",
    )
    audit_checkpoint_entries: int = Field(
        default=1000,
        ge=1,
        description="A new audit checkpoint is signed once the log has grown by this many "
        "entries since the last one.",
    )
    audit_checkpoint_seconds: int = Field(
        default=60,
        ge=1,
        description="... or once this many seconds have passed since the last checkpoint, "
        "if the log has grown at all.",
    )
    audit_checkpoint_dir: Path | None = Field(
        default=None,
        description="Directory where each signed checkpoint is also written as "
        "`<size>.txt`, created once and never overwritten: put it on an append-only "
        "(WORM) share outside this server. Default: none (checkpoints are kept in the "
        "database only).",
    )

    @field_validator(
        "data_dir", "blob_dir", "key_file", "escrow_file", "audit_checkpoint_dir", mode="after"
    )
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - passed by name; no .env is read
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - passed by name; unused
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("EGIDE_CONFIG")
        if config_file and not Path(config_file).is_file():
            # A missing file must not silently fall back to defaults (a new vault
            # in ./egide-data would be created instead of the configured one).
            raise FileNotFoundError(f"{config_file} does not exist or is not a file")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # Resolved locations -------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'egide.sqlite3').absolute()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "keys" / "egide.keys"

    @property
    def resolved_escrow_file(self) -> Path:
        return self.escrow_file or self.data_dir / "recovery-escrow.json"

    @property
    def resolved_audit_origin(self) -> str:
        if self.audit_origin:
            return self.audit_origin
        host = "".join(c for c in socket.gethostname() if not c.isspace() and c != "+")
        return f"egide/{host or 'localhost'}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        return Settings(**{**self.model_dump(), **changes})
