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

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from egide.core import workhours
from egide.core.antivirus.clamd import Address


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
    public_url: str | None = Field(
        default=None,
        description="The address users type to reach Égide, as the browser sees it "
        "(https://egide.example.org, behind the TLS proxy). Passkeys are bound to its host, "
        "OpenID Connect returns to it, links in e-mails point to it. Default: "
        "http://HOST:PORT.",
    )
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
    login_free_failures: int = Field(
        default=5,
        ge=0,
        description="Failed log-ins allowed to one account before any delay.",
    )
    login_address_free_failures: int = Field(
        default=50,
        ge=0,
        description="Failed log-ins allowed from one client address (IPv6: one /64) before "
        "any delay; higher than per account, as a hospital's users may share one address.",
    )
    unauthenticated_requests_per_minute: int = Field(
        default=120,
        ge=1,
        description="Requests a minute from one client address (IPv6: one /64) that start a "
        "sign-in before anyone is known (passwordless passkey, single sign-on, device "
        "authorization), twice that in a burst; then 429. Generous: a hospital's users may "
        "share one address.",
    )
    links_max_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="The longest expiry of an external share link, in days; a space's "
        "policy may only lower it (docs/sharing.md).",
    )
    file_request_max_bytes: int = Field(
        default=1024**3,
        ge=1,
        description="A file request's size limit when its creator gives none, in bytes: for "
        "each file and for all files together (docs/sharing.md).",
    )
    login_backoff_base_seconds: int = Field(
        default=1,
        ge=1,
        description="Delay after the first failed log-in beyond the free ones; it doubles at "
        "each further failure.",
    )
    login_backoff_max_seconds: int = Field(
        default=900,
        ge=1,
        description="The longest delay between log-in attempts, however many failures: an "
        "account is never locked for good.",
    )
    login_failure_memory_hours: int = Field(
        default=24,
        ge=1,
        description="A failure counter is forgotten this long after its last failure.",
    )
    login_address_leak_seconds: int = Field(
        default=120,
        ge=1,
        description="A client address's failure counter forgets one failure every this many "
        "seconds, so a steady trickle of typos never adds up.",
    )
    mfa_required: Literal["everyone", "admins", "groups", "none"] = Field(
        default="everyone",
        description="Who must sign in with a second factor (TOTP): `everyone` (as the "
        "PGSSI-S asks for access to health data), `admins` (users holding any global "
        "role), `groups` (members of the groups named in `mfa_groups`), or `none` (tests "
        "and development only: `egide serve` warns). A user who enrolled a factor is asked "
        "for it whatever this says.",
    )
    mfa_groups: str | None = Field(
        default=None,
        pattern=r"^[^\s,]+(,[^\s,]+)*$",
        description='With `mfa_required = "groups"`: the names of the groups whose '
        "members must use a second factor, comma-separated (e.g. `urgences,dim`).",
    )
    mfa_issuer: str = Field(
        default="Égide",
        pattern=r"^[^:]{1,64}$",
        description="The issuer an authenticator app shows beside the account name "
        "(otpauth:// URI of the enrolment QR code), e.g. `Égide CHU Exemple`. No colon.",
    )
    oidc_discovery_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="OpenID Connect single sign-on: the provider's discovery document "
        "(`https://idp.example.org/realms/x/.well-known/openid-configuration`). SSO is off "
        "while it is unset. See docs/sso.md.",
    )
    oidc_client_id: str | None = Field(
        default=None,
        max_length=255,
        description="The client id Égide was registered under at the OpenID provider.",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret of that registration; never logged. Prefer the "
        "environment variable to the TOML file.",
    )
    oidc_scopes: str = Field(
        default="openid profile email",
        pattern=r"^\S+( \S+)*$",
        description="Scopes asked of the provider, space-separated; `openid` is added if "
        "missing (Pro Santé Connect: `openid scope_all`).",
    )
    oidc_acr_values: str | None = Field(
        default=None,
        pattern=r"^\S+( \S+)*$",
        description="Authentication context classes asked of the provider (`acr_values`), "
        "space-separated, e.g. `eidas1` for Pro Santé Connect; when set, an ID token whose "
        "`acr` is not one of them is refused.",
    )
    oidc_user_claim: str = Field(
        default="preferred_username",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="The claim that names the Égide user at the first log-in of an external "
        "identity: `preferred_username`, `email` (only when `email_verified` is true) or "
        "`sub`, etc.",
    )
    oidc_create_users: bool = Field(
        default=False,
        description="Create the Égide account of an external identity that matches none at "
        "its first log-in; when false only existing users may sign in through SSO.",
    )
    oidc_group_claim: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="The claim listing the user's groups at the provider (`groups`), for "
        "`oidc_group_map`.",
    )
    oidc_group_map: dict[str, str] = Field(
        default={},
        description="Provider group → Égide group; membership of the mapped Égide groups "
        "follows the provider's at each SSO log-in. Environment: JSON "
        '(`{"/cardio": "cardiologie"}`); TOML: a table.',
    )
    oidc_mfa_acr: str | None = Field(
        default=None,
        pattern=r"^\S+( \S+)*$",
        description="The `acr` values, space-separated, that count as a second factor for "
        "the MFA policy (e.g. `eidas1`); a log-in with another acr is asked for the local "
        "second factor as after a password.",
    )
    oidc_display_name: str = Field(
        default="Single sign-on",
        min_length=1,
        max_length=64,
        description="The label of the sign-in button, e.g. `Pro Santé Connect`.",
    )
    language: Literal["fr", "en"] = Field(
        default="fr",
        description="Language of error messages when the client states no preference: "
        "`fr` or `en`. A web client's Accept-Language wins; the CLI follows the "
        "environment's locale.",
    )
    smtp_host: str | None = Field(
        default=None,
        pattern=r"^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$",
        description="Host name of the SMTP server mail is sent through (docs/mail.md). "
        "Default: none: mail is not sent, it waits in the outbox until this is set.",
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the SMTP server. Default: 587 with `starttls`, 465 with `tls`, "
        "25 with `none`.",
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="How the connection to the SMTP server is protected: `starttls` "
        "(upgrade, refused if the server cannot), `tls` (implicit TLS, SMTPS), or `none` "
        "(plain text: only to a relay on the same host or network).",
    )
    smtp_username: str | None = Field(
        default=None,
        max_length=255,
        description="User name to log in to the SMTP server with (AUTH); none: no log-in.",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        description="Password of `smtp_username`; never logged. Prefer the environment "
        "variable to the TOML file.",
    )
    smtp_from: str | None = Field(
        default=None,
        max_length=320,
        description="Sender of the mail Égide sends: `egide@hopital.example` or "
        "`Égide <egide@hopital.example>`. Default: `egide@<host of public_url>`.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the certificate authorities the SMTP server's certificate is "
        "checked against (an internal CA). Default: the system's trusted authorities.",
    )
    smtp_timeout_seconds: int = Field(
        default=30,
        ge=1,
        le=600,
        description="Seconds allowed to connect to the SMTP server and for each of its answers.",
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
    audit_syslog_url: str | None = Field(
        default=None,
        pattern=r"^(tcp|udp)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$",
        description="Syslog collector every audit entry is forwarded to, as RFC 5424 "
        "messages: `tcp://host:port` (octet-counting framing, RFC 6587) or "
        "`udp://host:port`. Default: none (no forwarding).",
    )
    audit_syslog_app_name: str = Field(
        default="egide",
        pattern=r"^[!-~]{1,48}$",
        description="APP-NAME of the forwarded syslog messages (1 to 48 printable ASCII "
        "characters, no space).",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        description="Audit entries older than this many days leave the live log at the next "
        "`egide audit archive`, moved into a signed archive bundle; their leaf hashes stay.",
    )
    audit_archive_dir: Path | None = Field(
        default=None,
        description="Directory of the audit archive bundles written by `egide audit archive`. "
        "Default: `audit-archive` in the data directory.",
    )
    audit_working_hours: str = Field(
        default="07:00-20:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        description="Working hours of the out-of-hours access report, `HH:MM-HH:MM` in "
        "`audit_timezone` (start included, end excluded, start before end).",
    )
    audit_working_days: str = Field(
        default="mon-fri",
        pattern=r"^[a-z]{3}(-[a-z]{3})?(,[a-z]{3}(-[a-z]{3})?)*$",
        description="Working days of the out-of-hours access report: days and ranges of "
        "`mon` ... `sun`, e.g. `mon-fri` or `mon-fri,sat`.",
    )
    audit_timezone: str = Field(
        default="Europe/Paris",
        description="Time zone (IANA name) of `audit_working_hours` and `audit_working_days`.",
    )
    # Ransomware detection (docs/ransomware.md)
    ransomware_detection: bool = Field(
        default=True,
        description="Score writes, renames and deletes for ransomware and contain the user "
        "past a threshold. Off: nothing is scored; open incidents still hold.",
    )
    ransomware_short_window_seconds: int = Field(
        default=60, ge=1, le=86_400, description="The short sliding window of the score."
    )
    ransomware_short_threshold: float = Field(
        default=3.0, gt=0, description="The score over the short window that contains."
    )
    ransomware_long_window_seconds: int = Field(
        default=600, ge=1, le=86_400, description="The long window (slow families)."
    )
    ransomware_long_threshold: float = Field(
        default=3.0, gt=0, description="The score over the long window that contains."
    )
    ransomware_weight_overwrite: float = Field(
        default=1.0, ge=0, description="Weight of an overwrite that looks encrypted."
    )
    ransomware_weight_new_encrypted: float = Field(
        default=1.0,
        ge=0,
        description="Weight of a new file that looks encrypted (counts with deletions only).",
    )
    ransomware_weight_rename: float = Field(
        default=1.0, ge=0, description="Weight of a rename to an unknown extension."
    )
    ransomware_weight_note: float = Field(
        default=1.0, ge=0, description="Weight of a ransom note (from the third folder)."
    )
    ransomware_weight_delete: float = Field(
        default=1.0, ge=0, description="Weight of a deletion (amplifies evidence only)."
    )
    ransomware_sample_bytes: int = Field(
        default=256 * 1024,
        ge=65_536,
        le=64 * 1024 * 1024,
        description="Bytes of each version hashed for similarity (TLSH), and of an older "
        "version sampled when it has no fingerprint.",
    )
    # Antivirus scanning of uploads: see docs/antivirus.md
    clamd_address: str = Field(
        default="",
        description="Where ClamAV's clamd listens: `tcp://127.0.0.1:3310` or "
        "`unix:///run/clamav/clamd.ctl`. Empty: uploads are not scanned (`egide serve` "
        "warns).",
    )
    antivirus_max_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024,
        description="The most bytes of a file sent to clamd: its `StreamMaxLength`. A "
        "longer file is held as `too_large` (never reported clean).",
    )
    antivirus_unreachable: Literal["hold", "refuse"] = Field(
        default="hold",
        description="Internal uploads while clamd is unreachable (or too large to scan): "
        "`hold` stores them awaiting a scan, readable by their uploader only; `refuse` "
        "refuses them. Uploads through external links are always refused.",
    )
    antivirus_wait_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=0,
        description="Uploads up to this size wait for clamd's verdict before they are "
        "answered (an infected one is refused). Larger ones are answered once stored and "
        "held for their uploader only until the verdict of the same scan comes, seconds "
        "later (an infected one is then quarantined and the administrators alerted). "
        "Uploads through external links, and all of them with "
        "`antivirus_unreachable=refuse`, always wait.",
    )
    antivirus_connect_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="Seconds to connect to clamd."
    )
    antivirus_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds clamd may take on any one exchange, including its verdict at "
        "the end of an upload.",
    )
    antivirus_rescan_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Contents written in the last days that are scanned again when clamd's "
        "signature database changes.",
    )
    antivirus_rescan_interval_seconds: int = Field(
        default=300,
        ge=5,
        le=86_400,
        description="Seconds between two passes of the rescan worker of `egide serve`.",
    )

    @field_validator("clamd_address")
    @classmethod
    def _clamd_address(cls, value: str) -> str:
        if value.strip():
            Address.parse(value)
        return value.strip()

    @field_validator("mfa_groups")
    @classmethod
    def _mfa_groups(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Requiring MFA of "groups" with none named would silently require it of nobody.
        if info.data.get("mfa_required") == "groups" and not value:
            raise ValueError('mfa_required = "groups" needs the group names in mfa_groups')
        return value

    @field_validator("audit_working_hours", "audit_working_days", "audit_timezone")
    @classmethod
    def _working_time(cls, value: str, info: ValidationInfo) -> str:
        # The one parser the report uses, so a setting it cannot read fails at start-up.
        workhours.check(str(info.field_name), value)
        return value

    @field_validator(
        "data_dir",
        "blob_dir",
        "key_file",
        "escrow_file",
        "audit_checkpoint_dir",
        "audit_archive_dir",
        "smtp_ca_file",
        mode="after",
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
    def resolved_audit_archive_dir(self) -> Path:
        return self.audit_archive_dir or self.data_dir / "audit-archive"

    @property
    def resolved_public_url(self) -> str:
        """`public_url` without a trailing slash, or the address `egide serve` listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_audit_origin(self) -> str:
        if self.audit_origin:
            return self.audit_origin
        host = "".join(c for c in socket.gethostname() if not c.isspace() and c != "+")
        return f"egide/{host or 'localhost'}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        return Settings(**{**self.model_dump(), **changes})
