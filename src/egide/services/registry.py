"""Build every service from the settings, in one place (Warehouse's `build_services`).

The web application and the CLI both call `build_services`; nothing else
constructs services, and no service is a module-level singleton.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import argon2

from egide.core.blobstore import LocalBlobStore
from egide.core.clock import Clock, SystemClock
from egide.core.config import Settings
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.migrate import is_up_to_date, upgrade
from egide.core.errors import Unavailable
from egide.services.accounts.device import DeviceFlowService
from egide.services.accounts.service import AccountService
from egide.services.accounts.throttle import ThrottlePolicy
from egide.services.antivirus.scanner import Scanner
from egide.services.antivirus.service import AntivirusService
from egide.services.audit.checkpoints import CheckpointPolicy
from egide.services.audit.context import ContextSealer
from egide.services.audit.service import AuditService
from egide.services.mail.alerts import LoginAlerts
from egide.services.mail.outbox import Outbox
from egide.services.mail.sender import MailSender, SmtpConfig
from egide.services.mail.service import MailService
from egide.services.mfa.passkeys import PasskeyService, RelyingParty
from egide.services.mfa.policy import MfaPolicy
from egide.services.mfa.service import MfaService
from egide.services.notifications.derive import Deriver
from egide.services.notifications.digest import Digests
from egide.services.notifications.service import NotificationService
from egide.services.ransomware.canaries import CanaryService
from egide.services.ransomware.detector import Detector, DetectorConfig
from egide.services.ransomware.rollback import RollbackService
from egide.services.ransomware.service import IncidentService
from egide.services.sessions.service import SessionService
from egide.services.sharing.recipient import LinkAccessService
from egide.services.sharing.service import ShareService
from egide.services.sso.service import SsoConfig, SsoService
from egide.services.uploads.service import UploadService
from egide.services.vault.base import VaultContext
from egide.services.vault.files import FileService
from egide.services.vault.keyring import SpaceKeyRing
from egide.services.vault.maintenance import MaintenanceService
from egide.services.vault.nodes import NodeService
from egide.services.vault.rotation import KeyRotationService
from egide.services.vault.spaces import SpaceService


class DataDirUnavailable(Unavailable):
    code = "data-dir-unavailable"


@dataclass
class Services:
    settings: Settings
    db: Database
    blobs: LocalBlobStore
    keys: FileKeyProvider
    accounts: AccountService
    spaces: SpaceService
    files: FileService
    nodes: NodeService
    maintenance: MaintenanceService
    rotation: KeyRotationService
    sessions: SessionService
    uploads: UploadService
    audit: AuditService
    mfa: MfaService
    passkeys: PasskeyService
    mail: MailService
    sso: SsoService
    device: DeviceFlowService
    sharing: ShareService
    link_access: LinkAccessService
    incidents: IncidentService
    canaries: CanaryService
    rollback: RollbackService
    antivirus: AntivirusService
    notifications: NotificationService

    def close(self) -> None:
        # Verdicts of large uploads still coming are stored before the database closes.
        self.antivirus.close()
        self.db.dispose()


def check_data_dir(settings: Settings) -> None:
    path = settings.data_dir
    if not path.exists():
        raise DataDirUnavailable(
            "The data directory {path} does not exist. Run `egide init` to create a vault "
            "there, or set EGIDE_DATA_DIR to the right directory.",
            path=str(path),
        )
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise DataDirUnavailable(
            "The data directory {path} cannot be read or written by this user. Check its "
            "owner and permissions.",
            path=str(path),
        )


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: argon2.PasswordHasher | None = None,
    migrate: bool = True,
) -> Services:
    """Open an initialised vault: check the data directory, open the key file,
    bring the database schema up to date, wire the services."""
    check_data_dir(settings)
    keys = FileKeyProvider.open(settings.resolved_key_file)
    db = Database(settings.resolved_database_url)
    try:
        db.ping()
        if migrate and not is_up_to_date(db):
            upgrade(db)
        blobs = LocalBlobStore(settings.resolved_blob_dir)
        blobs.check()
    except BaseException:
        db.dispose()
        raise
    return _wire(settings, db, blobs, keys, clock=clock or SystemClock(), hasher=hasher)


def _wire(
    settings: Settings,
    db: Database,
    blobs: LocalBlobStore,
    keys: FileKeyProvider,
    *,
    clock: Clock,
    hasher: argon2.PasswordHasher | None,
) -> Services:
    # One audit service, whose recorder every other service writes through.
    audit = AuditService(
        db,
        clock,
        sealer=ContextSealer(keys),
        signer=keys,
        policy=CheckpointPolicy(
            origin=settings.resolved_audit_origin,
            entries=settings.audit_checkpoint_entries,
            seconds=settings.audit_checkpoint_seconds,
            directory=settings.audit_checkpoint_dir,
        ),
    )
    ctx = VaultContext(
        db=db,
        blobs=blobs,
        keyring=SpaceKeyRing(keys),
        settings=settings,
        clock=clock,
        audit=audit.recorder,
    )
    # Ransomware detection (docs/ransomware.md): on the write path, its alerts in the outbox.
    detector = Detector(
        DetectorConfig.from_settings(settings),
        clock=clock,
        audit=audit.recorder,
        outbox=Outbox(clock),
        language=settings.language,
    )
    # Antivirus (docs/antivirus.md): clamd on the write path; None when not configured.
    scanner = Scanner.from_settings(settings)
    antivirus = AntivirusService(ctx, scanner, Outbox(clock), language=settings.language)
    files = FileService(ctx, detector, scanner, antivirus.settle_later)
    escrow: Path = settings.resolved_escrow_file
    mfa_policy = MfaPolicy.from_settings(settings)
    # Mail (docs/mail.md): the log-in alerts write to the outbox in the log-in's transaction.
    outbox = Outbox(clock)
    alerts = LoginAlerts(
        outbox,
        public_url=settings.resolved_public_url,
        language=settings.language,
        timezone=settings.audit_timezone,
        clock=clock,
    )
    accounts = AccountService(
        db,
        hasher=hasher,
        clock=clock,
        audit=audit.recorder,
        throttle=ThrottlePolicy.from_settings(settings),
        mfa_policy=mfa_policy,
        on_failures_cleared=alerts.failures_cleared,
    )
    mfa = MfaService(
        db, keys, policy=mfa_policy, issuer=settings.mfa_issuer, clock=clock, audit=audit.recorder
    )
    passkeys = PasskeyService(
        db,
        accounts,
        mfa,
        rp=RelyingParty.from_settings(settings),
        clock=clock,
        audit=audit.recorder,
    )
    sessions = SessionService(
        db,
        accounts,
        idle_timeout=dt.timedelta(minutes=settings.session_idle_minutes),
        lifetime=dt.timedelta(hours=settings.session_lifetime_hours),
        clock=clock,
        audit=audit.recorder,
        mfa=mfa,
        alerts=alerts,
        passkeys=passkeys,
    )
    deriver = Deriver(
        db,
        ctx.tree,
        outbox,
        clock=clock,
        public_url=settings.resolved_public_url,
        language=settings.language,
    )
    tz = settings.audit_timezone
    return Services(
        settings=settings,
        db=db,
        blobs=blobs,
        keys=keys,
        accounts=accounts,
        spaces=SpaceService(ctx),
        files=files,
        nodes=NodeService(ctx, files),
        maintenance=MaintenanceService(ctx),
        rotation=KeyRotationService(ctx, lambda: keys.add_master_key(escrow)),
        sessions=sessions,
        uploads=UploadService(ctx, files),
        audit=audit,
        mfa=mfa,
        passkeys=passkeys,
        mail=MailService(
            db,
            MailSender(db, SmtpConfig.from_settings(settings), clock=clock, audit=audit.recorder),
            outbox=outbox,
            alerts=alerts,
            language=settings.language,
            public_url=settings.resolved_public_url,
            timezone=settings.audit_timezone,
            clock=clock,
            audit=audit.recorder,
        ),
        sso=SsoService(
            db,
            accounts,
            sessions,
            SsoConfig.from_settings(settings),
            clock=clock,
            audit=audit.recorder,
        ),
        device=DeviceFlowService(
            db,
            accounts,
            verification_uri=f"{settings.resolved_public_url}/device",
            clock=clock,
            audit=audit.recorder,
        ),
        # Share links (docs/sharing.md): the code mail goes through the same outbox.
        sharing=ShareService(ctx, hasher=hasher),
        link_access=LinkAccessService(ctx, outbox, hasher=hasher, files=files),
        incidents=IncidentService(db, clock=clock, audit=audit.recorder),
        canaries=CanaryService(ctx, detector),
        rollback=RollbackService(ctx, detector),
        antivirus=antivirus,
        # Notifications (docs/notifications.md): derived from the audit log, mailed via the outbox.
        notifications=NotificationService(ctx, deriver, Digests(deriver, timezone=tz)),
    )


@dataclass(frozen=True)
class InitResult:
    recovery_code: str
    key_file: Path
    escrow_file: Path
    database_url_is_default: bool


def initialise(settings: Settings) -> InitResult:
    """Create a new vault: directories, key file and recovery escrow, database schema.

    Refuses to touch an existing key file. Safe to re-run for the directories
    and the schema (the key step then fails with a clear message first).
    """
    data_dir = settings.data_dir
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirUnavailable(
            "Cannot create the data directory {path} ({reason}). Check the path and the "
            "permissions of its parent.",
            path=str(data_dir),
            reason=exc.strerror or "error",
        ) from exc
    check_data_dir(settings)
    keys, code = FileKeyProvider.create(settings.resolved_key_file, settings.resolved_escrow_file)
    keys.ensure_audit_key()
    LocalBlobStore(settings.resolved_blob_dir).initialise()
    db = Database(settings.resolved_database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    return InitResult(
        recovery_code=code,
        key_file=settings.resolved_key_file,
        escrow_file=settings.resolved_escrow_file,
        database_url_is_default=settings.database_url is None,
    )
