"""Every service action writes its audit event; every refusal writes a denied one (issue 4, item 1).

Three walks, each of which fails when the code grows without its audit:

- every name of `AuditAction` has a scenario below that drives the real
  services, and the scenario must leave an event of that name;
- every public method of every service is either mapped to the actions it
  records or declared read-only with a reason;
- refusals by the access policy, through every kind of service, leave a
  `denied` event in a transaction of their own, exactly once.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.headerregistry import Address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select, text

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent, Version
from egide.core.errors import EgideError
from egide.services.access.policy import Principal
from egide.services.accounts.device import DeviceFlowService
from egide.services.accounts.errors import BadCredentials, LoginThrottled
from egide.services.accounts.service import AccountService
from egide.services.antivirus.service import AntivirusService
from egide.services.audit.actions import AuditAction
from egide.services.audit.archive import archive
from egide.services.audit.entries import AuditReader
from egide.services.audit.erasure import ContextEraser
from egide.services.audit.export import export_bundle
from egide.services.audit.recorder import DENIED
from egide.services.audit.reports import AccessReports
from egide.services.mail.sender import MailSender, SmtpConfig
from egide.services.mail.service import MailService
from egide.services.mfa.passkeys import PasskeyService
from egide.services.mfa.service import MfaService
from egide.services.notifications.service import NotificationService
from egide.services.ransomware.canaries import CanaryService
from egide.services.ransomware.rollback import RollbackService
from egide.services.ransomware.service import IncidentService
from egide.services.registry import Services
from egide.services.sessions.service import SessionService
from egide.services.sharing.recipient import LinkAccessService
from egide.services.sharing.service import ShareService
from egide.services.sso.service import SsoService
from egide.services.uploads.service import UploadService
from egide.services.vault.files import FileService
from egide.services.vault.maintenance import MaintenanceService
from egide.services.vault.nodes import NodeService
from egide.services.vault.rotation import KeyRotationService
from egide.services.vault.spaces import SpaceService
from tests.passkey_authenticator import SoftPasskey
from tests.sso_provider import sign_in_through_provider
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

NEW_PASSWORD = "une toute autre phrase de passe 2026"


@dataclass
class World:
    svc: Services
    clock: ManualClock
    alice: Principal  # contributor of `cardio`
    bob: Principal  # no role anywhere
    tmp: Path

    def note(self, name: str = "note.txt", data: bytes = b"compte rendu") -> None:
        self.svc.files.write(self.alice, "cardio", name, [data])


@pytest.fixture
def world(
    svc: Services, clock: ManualClock, alice: Principal, make_user: MakeUser, tmp_path: Path
) -> World:
    return World(svc, clock, alice, make_user("bob"), tmp_path)


def _login(w: World) -> str:
    return w.svc.sessions.login("alice", PASSWORD)[1].cookie


def _expire(w: World) -> None:
    cookie = _login(w)
    w.clock.advance(hours=13)
    with pytest.raises(EgideError):
        w.svc.sessions.authenticate(cookie)


def _lock(w: World) -> str:
    cookie = _login(w)
    w.clock.advance(minutes=16)
    with pytest.raises(EgideError):
        w.svc.sessions.authenticate(cookie)
    return cookie


def _throttle(w: World) -> None:
    for _ in range(w.svc.settings.login_free_failures + 1):
        with pytest.raises(BadCredentials):
            w.svc.accounts.authenticate("alice", "not the password at all")
    with pytest.raises(LoginThrottled):
        w.svc.accounts.authenticate("alice", PASSWORD)


def _enrol(w: World) -> list[str]:
    """alice's authenticator set up and confirmed; her recovery codes."""
    uri = w.svc.mfa.begin_totp(w.alice).uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    return w.svc.mfa.confirm_totp(w.alice, pyotp.TOTP(secret).at(w.clock.now()))


def _verify_at_sign_in(w: World) -> None:
    recovery = _enrol(w)
    cookie = w.svc.sessions.login("alice", PASSWORD)[1].cookie
    w.svc.sessions.verify_mfa(cookie, recovery[0])


def _remove_factor(w: World) -> None:
    _enrol(w)
    w.svc.mfa.remove_totp(SYSTEM, "alice")


def _add_passkey(w: World) -> str:
    """alice's passkey registered from a session (software authenticator); its id."""
    cookie = _login(w)
    answer = SoftPasskey(w.svc.passkeys.rp.origin).create_json(
        w.svc.sessions.passkey_registration_options(cookie)
    )
    return w.svc.sessions.register_passkey(cookie, "YubiKey", answer)[2].passkey.id


def _revoke_session(w: World) -> None:
    session_id = w.svc.sessions.login("alice", PASSWORD)[1].info.id
    w.svc.sessions.revoke(w.alice, session_id)


def _device(w: World, *, approve: bool) -> None:
    """A device's request, approved or denied by alice from a web session."""
    grant = w.svc.device.start("egide CLI on poste-12")
    session_id = w.svc.sessions.login("alice", PASSWORD)[1].info.id
    if approve:
        w.svc.device.approve(w.alice, grant.user_code, session_id=session_id, mfa_method="totp")
    else:
        w.svc.device.deny(w.alice, grant.user_code, session_id=session_id)


def _revoke_token(w: World) -> None:
    info, _ = w.svc.accounts.create_token(w.alice, "poste", ["files:read"])
    w.svc.accounts.revoke_token(w.alice, info.id)


def _refused_token(w: World) -> None:
    with pytest.raises(EgideError):
        w.svc.accounts.authenticate_token("egide_not-a-token")


def _group(w: World, then: Callable[[], Any] | None = None) -> None:
    w.svc.accounts.create_group(SYSTEM, "cardiologues")
    if then is not None:
        then()


def _restore_trash(w: World) -> None:
    w.note()
    item = w.svc.nodes.delete(w.alice, "cardio", "note.txt")
    w.svc.nodes.restore(w.alice, "cardio", item.id)


def _restore_version(w: World) -> None:
    w.note(data=b"v1")
    w.clock.advance(seconds=1)
    w.note(data=b"v2")
    old = w.svc.files.versions(w.alice, "cardio", "note.txt")[-1]
    w.svc.files.restore_version(w.alice, "cardio", "note.txt", old.id)


def _terminate_upload(w: World) -> None:
    upload = w.svc.uploads.create(w.alice, "cardio", "big.bin", 10)
    w.svc.uploads.terminate(w.alice, upload.id)


def _export(w: World) -> None:
    w.note()
    export_bundle(w.svc.audit, SYSTEM, w.tmp / "bundle")


def _archive(w: World) -> None:
    w.note()
    w.clock.advance(days=400)
    w.note("later.txt")
    archive(w.svc.audit, SYSTEM, w.tmp / "archive", retention=dt.timedelta(days=365))


def _erase(w: World) -> None:
    w.note()
    ContextEraser(w.svc.audit).erase_person(SYSTEM, w.alice.user_id or "")


def _audit_read(w: World) -> None:
    w.note()
    AuditReader(w.svc.db, w.svc.audit.recorder).entries(SYSTEM)


def _audit_report(w: World) -> None:
    w.note()
    now = w.clock.now()
    AccessReports.for_services(w.svc).denied(SYSTEM, since=now - dt.timedelta(days=1), until=now)


def _mail_refused(w: World) -> None:
    """A message the SMTP server (a real one, tests/services/mail) refuses for good."""
    from tests.services.mail.helpers import enqueue
    from tests.services.mail.smtp_server import SmtpServer

    server = SmtpServer(refuse={"dr.0@chu.example"}).start()
    try:
        enqueue(w.svc, 1)
        config = SmtpConfig(
            host="127.0.0.1",
            port=server.port,
            security="none",
            sender=Address("Egide", "egide", "chu.example"),
            public_url="https://egide.chu.example",
            timeout=5.0,
        )
        w.svc.mail.sender = MailSender(w.svc.db, config, clock=w.clock, audit=w.svc.audit.recorder)
        assert w.svc.mail.send_pending().failed == 1
    finally:
        server.stop()


def _ransomware(w: World) -> str:
    """alice's session encrypts her files in place until she is contained; the incident."""
    from tests.core.ransomware.samples import SAMPLES, aes_ctr

    actor = replace(w.alice, session_id="infected")
    for name, data in SAMPLES.items():
        w.svc.files.write(actor, "cardio", name, [data])
    encrypted = [(name, aes_ctr(data)) for name, data in SAMPLES.items()]
    for name, data in encrypted[:3]:
        w.clock.advance(seconds=1)
        w.svc.files.write(actor, "cardio", name, [data])
    with pytest.raises(EgideError):
        w.svc.files.write(actor, "cardio", encrypted[3][0], [encrypted[3][1]])
    [incident] = w.svc.incidents.list(SYSTEM)
    return incident.id


def _canary(w: World) -> None:
    from egide.core.db.models import Node, RansomwareCanary

    w.note("decoy.docx")
    with w.svc.db.write() as session:
        node = session.scalars(select(Node).where(Node.kind == "file")).first()
        assert node is not None
        session.add(RansomwareCanary(node_id=node.id, space_id=node.space_id))
    w.svc.files.write(w.alice, "cardio", "decoy.docx", [b"touched"])


def _restore_space(w: World) -> None:
    """A note written, time passes, then overwritten; the space put back before it."""
    w.note(data=b"first")
    w.clock.advance(minutes=1)
    at = w.clock.now()
    w.clock.advance(minutes=1)
    w.note(data=b"second")
    assert w.svc.rollback.restore_at(SYSTEM, "cardio", at).restored == 1


def _after_note(act: Callable[[World], Any]) -> Callable[[World], Any]:
    """`act`, once alice has written note.txt."""

    def run(w: World) -> Any:
        w.note()
        return act(w)

    return run


def _link(w: World, **options: Any) -> str:
    """A link to note.txt made by alice (recipients' steps need no account); its token."""
    w.note()
    if not options.get("require_verification", True):
        w.svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    options.setdefault("recipients", ["dr.durand@clinique.example"])
    return w.svc.sharing.create_link(w.alice, "cardio", "note.txt", **options).token


def _open_link(w: World) -> str:
    """A link without verification, opened by a recipient; its token."""
    token = _link(w, require_verification=False, recipients=[])
    assert w.svc.link_access.open(token, None).needs == ()
    return token


def _file_request(w: World) -> Any:
    """A file request to a folder of alice's, without verification; a recipient sends a file."""
    w.svc.nodes.mkdir(w.alice, "cardio", "inbox")
    w.svc.sharing.set_link_policy(SYSTEM, "cardio", verification_required=False)
    token = w.svc.sharing.create_request(
        w.alice, "cardio", "inbox", recipients=[], require_verification=False
    ).token
    return w.svc.link_access.receive(token, None, "note.txt", [b"lab result"], 10)


def _antivirus(w: World, *, rescan: bool) -> Any:
    """With a real clamd (tests/clamd.py): EICAR refused on upload, or a rescan pass."""
    from egide.core.antivirus.clamd import ClamdClient
    from egide.services.antivirus.errors import FileInfected
    from egide.services.antivirus.scanner import Scanner
    from tests.clamd import EICAR, running_clamd

    with running_clamd() as server:
        scanner = Scanner(ClamdClient(server.address), max_bytes=1 << 20)
        w.svc.files.scanner = w.svc.antivirus.scanner = scanner
        try:
            if rescan:
                w.note()
                return w.svc.antivirus.rescan(SYSTEM)
            with pytest.raises(FileInfected):
                w.note(data=EICAR)
            return None
        finally:
            w.svc.files.scanner = w.svc.antivirus.scanner = None


#: How to make each action happen, through the services only.
SCENARIOS: dict[AuditAction, Callable[[World], Any]] = {
    AuditAction.LOGIN: _login,
    AuditAction.LOGOUT: lambda w: w.svc.sessions.logout(_login(w)),
    AuditAction.SESSION_EXPIRE: _expire,
    AuditAction.SESSION_LOCK: _lock,
    AuditAction.SESSION_UNLOCK: lambda w: w.svc.sessions.unlock(_lock(w), PASSWORD),
    AuditAction.SESSION_REVOKE: _revoke_session,
    AuditAction.PASSWORD_CHANGE: lambda w: w.svc.accounts.change_password(
        SYSTEM, "alice", NEW_PASSWORD
    ),
    AuditAction.TOKEN_CREATE: lambda w: w.svc.accounts.create_token(w.alice, "t", ["files:read"]),
    AuditAction.TOKEN_REVOKE: _revoke_token,
    AuditAction.TOKEN_REFUSED: _refused_token,
    AuditAction.LOGIN_THROTTLED: _throttle,
    AuditAction.DEVICE_START: lambda w: w.svc.device.start("egide CLI on poste-12"),
    AuditAction.DEVICE_APPROVE: lambda w: _device(w, approve=True),
    AuditAction.DEVICE_DENY: lambda w: _device(w, approve=False),
    AuditAction.DEVICE_TOKEN: lambda w: w.svc.device.poll("an unknown device code"),
    AuditAction.MFA_ENROL: lambda w: w.svc.mfa.begin_totp(w.alice),
    AuditAction.MFA_CONFIRM: _enrol,
    AuditAction.MFA_VERIFY: _verify_at_sign_in,
    AuditAction.MFA_REMOVE: _remove_factor,
    AuditAction.MFA_RECOVERY_CODES: lambda w: w.svc.mfa.regenerate_recovery_codes(
        w.alice, _enrol(w)[0]
    ),
    AuditAction.MFA_PASSKEY_ADD: _add_passkey,
    AuditAction.MFA_PASSKEY_RENAME: lambda w: w.svc.passkeys.rename(
        w.alice, _add_passkey(w), "Clé"
    ),
    AuditAction.MFA_PASSKEY_REMOVE: lambda w: w.svc.passkeys.remove(
        w.alice, _add_passkey(w), current_password=PASSWORD
    ),
    AuditAction.SSO_LINK: lambda w: sign_in_through_provider(w.svc, w.clock),
    AuditAction.USER_CREATE: lambda w: w.svc.accounts.create_user(
        SYSTEM, "carol", password=PASSWORD
    ),
    AuditAction.USER_ROLES: lambda w: w.svc.accounts.set_roles(SYSTEM, "alice", ["dpo"]),
    AuditAction.USER_DISABLE: lambda w: w.svc.accounts.disable_user(SYSTEM, "bob"),
    AuditAction.USER_ENABLE: lambda w: w.svc.accounts.enable_user(SYSTEM, "bob"),
    AuditAction.GROUP_CREATE: _group,
    AuditAction.GROUP_DELETE: lambda w: _group(
        w, lambda: w.svc.accounts.delete_group(SYSTEM, "cardiologues")
    ),
    AuditAction.GROUP_MEMBER_ADD: lambda w: _group(
        w, lambda: w.svc.accounts.add_member(SYSTEM, "cardiologues", "bob")
    ),
    AuditAction.GROUP_MEMBER_REMOVE: lambda w: _group(
        w,
        lambda: (
            w.svc.accounts.add_member(SYSTEM, "cardiologues", "bob"),
            w.svc.accounts.remove_member(SYSTEM, "cardiologues", "bob"),
        ),
    ),
    AuditAction.SPACE_CREATE: lambda w: w.svc.spaces.create(SYSTEM, "neuro"),
    AuditAction.SPACE_QUOTA: lambda w: w.svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=10**9),
    AuditAction.GRANT_ADD: lambda w: w.svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader"),
    AuditAction.GRANT_REMOVE: lambda w: w.svc.spaces.revoke(SYSTEM, "cardio", "", "user:alice"),
    AuditAction.LINK_CREATE: _link,
    AuditAction.LINK_REVOKE: lambda w: (
        _link(w),
        w.svc.sharing.revoke_link(w.alice, w.svc.sharing.list_links(w.alice)[0].id),
    ),
    AuditAction.LINK_POLICY: lambda w: w.svc.sharing.set_link_policy(
        SYSTEM, "cardio", links_allowed=False
    ),
    AuditAction.LINK_CODE_SENT: lambda w: w.svc.link_access.send_code(
        _link(w), None, "dr.durand@clinique.example"
    ),
    AuditAction.LINK_VERIFY: lambda w: w.svc.link_access.give_password(
        _link(w, password="sept chevaux bleus au galop"), None, "sept chevaux bleus au galop"
    ),
    AuditAction.LINK_OPEN: _open_link,
    AuditAction.LINK_DOWNLOAD: lambda w: w.svc.link_access.download(
        _open_link(w), None, "note.txt"
    ),
    AuditAction.FILEREQUEST_UPLOAD: _file_request,
    AuditAction.FILE_READ: _after_note(lambda w: w.svc.files.open(w.alice, "cardio", "note.txt")),
    AuditAction.FILE_WRITE: lambda w: w.note(),
    AuditAction.FOLDER_CREATE: lambda w: w.svc.nodes.mkdir(w.alice, "cardio", "a/b", parents=True),
    AuditAction.NODE_MOVE: _after_note(
        lambda w: w.svc.nodes.move(w.alice, "cardio", "note.txt", "renamed.txt"),
    ),
    AuditAction.NODE_COPY: _after_note(
        lambda w: w.svc.nodes.copy(w.alice, "cardio", "note.txt", "copy.txt"),
    ),
    AuditAction.NODE_DELETE: _after_note(
        lambda w: w.svc.nodes.delete(w.alice, "cardio", "note.txt"),
    ),
    AuditAction.TRASH_RESTORE: _restore_trash,
    AuditAction.VERSION_RESTORE: _restore_version,
    AuditAction.UPLOAD_CREATE: lambda w: w.svc.uploads.create(w.alice, "cardio", "big.bin", 10),
    AuditAction.UPLOAD_TERMINATE: _terminate_upload,
    AuditAction.KEY_ROTATE_MASTER: lambda w: w.svc.rotation.rotate_master(SYSTEM),
    AuditAction.KEY_ROTATE_SPACE: lambda w: w.svc.rotation.rotate_space(SYSTEM, "cardio"),
    AuditAction.MAINTENANCE_GC: lambda w: w.svc.maintenance.gc(SYSTEM),
    AuditAction.MAINTENANCE_FSCK: lambda w: w.svc.maintenance.fsck(SYSTEM),
    AuditAction.AUDIT_READ: _audit_read,
    AuditAction.AUDIT_REPORT: _audit_report,
    AuditAction.AUDIT_EXPORT: _export,
    AuditAction.AUDIT_ARCHIVE: _archive,
    AuditAction.AUDIT_ERASE: _erase,
    AuditAction.MAIL_FAILED: _mail_refused,
    AuditAction.MAIL_TEST: lambda w: w.svc.mail.send_test(SYSTEM, "dr.martin@chu.example"),
    AuditAction.USER_LANGUAGE: lambda w: w.svc.mail.set_language(SYSTEM, "alice", "en"),
    AuditAction.NOTIFY_FOLLOW: lambda w: w.svc.notifications.follow(w.alice, "cardio", ""),
    AuditAction.NOTIFY_UNFOLLOW: lambda w: (
        w.svc.notifications.follow(w.alice, "cardio", ""),
        w.svc.notifications.unfollow(w.alice, "cardio", ""),
    ),
    AuditAction.NOTIFY_PREFERENCES: lambda w: w.svc.notifications.set_preferences(
        w.alice, email="daily", privacy=False
    ),
    AuditAction.RANSOMWARE_INCIDENT_OPEN: _ransomware,
    AuditAction.RANSOMWARE_INCIDENT_RELEASE: lambda w: w.svc.incidents.release(
        SYSTEM, _ransomware(w)
    ),
    AuditAction.RANSOMWARE_INCIDENT_CONFIRM: lambda w: w.svc.incidents.confirm(
        SYSTEM, _ransomware(w)
    ),
    AuditAction.RANSOMWARE_CANARY_HIT: _canary,
    AuditAction.ANTIVIRUS_INFECTED: lambda w: _antivirus(w, rescan=False),
    AuditAction.ANTIVIRUS_RESCAN: lambda w: _antivirus(w, rescan=True),
    AuditAction.RANSOMWARE_INCIDENT_RESTORE: lambda w: w.svc.rollback.restore_incident(
        SYSTEM, _ransomware(w)
    ),
    AuditAction.SPACE_RESTORE: _restore_space,
}


def _events(w: World) -> list[AuditEvent]:
    with w.svc.db.read() as session:
        return list(
            session.scalars(select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id))
        )


def test_every_action_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(AuditAction), "add a scenario for each new audit action"


@pytest.mark.parametrize("action", list(AuditAction), ids=str)
def test_each_action_writes_its_event(world: World, action: AuditAction) -> None:
    before = {e.id for e in _events(world)}
    SCENARIOS[action](world)
    new = [e for e in _events(world) if e.id not in before]
    assert action.value in {e.action for e in new}, f"{action} wrote no audit event"
    for event in new:
        # Ids only in what becomes the leaf: no name, no password, no path.
        for secret in ("alice", "note.txt", "cardio", PASSWORD, NEW_PASSWORD):
            assert secret not in event.target + event.details, (event.action, secret)


#: Public service methods and the actions they record.
RECORDING: dict[str, set[AuditAction]] = {
    # A write, move or delete may also open a ransomware incident or hit a canary.
    "FileService.write": {AuditAction.FILE_WRITE, AuditAction.ANTIVIRUS_INFECTED},
    "IncidentService.release": {AuditAction.RANSOMWARE_INCIDENT_RELEASE},
    # A rescan pass; a content it finds infected has its own entry.
    "AntivirusService.rescan": {AuditAction.ANTIVIRUS_RESCAN, AuditAction.ANTIVIRUS_INFECTED},
    "AntivirusService.rescan_due": {AuditAction.ANTIVIRUS_RESCAN, AuditAction.ANTIVIRUS_INFECTED},
    # In its thread, once the verdict of a large upload comes (ADR 29).
    "AntivirusService.settle_later": {AuditAction.ANTIVIRUS_INFECTED},
    "CanaryService.enable": {AuditAction.FILE_WRITE},  # each decoy is a file
    "IncidentService.confirm": {AuditAction.RANSOMWARE_INCIDENT_CONFIRM},
    # Roll-backs (ADR 24): one event per committed batch, and one to end an incident's.
    "RollbackService.restore_incident": {AuditAction.RANSOMWARE_INCIDENT_RESTORE},
    "RollbackService.restore_at": {AuditAction.SPACE_RESTORE},
    "FileService.open": {AuditAction.FILE_READ},
    "FileService.restore_version": {AuditAction.VERSION_RESTORE},
    "NodeService.mkdir": {AuditAction.FOLDER_CREATE},
    "NodeService.move": {AuditAction.NODE_MOVE},
    "NodeService.copy": {AuditAction.NODE_COPY},
    "NodeService.delete": {AuditAction.NODE_DELETE},
    "NodeService.restore": {AuditAction.TRASH_RESTORE},
    "SpaceService.create": {AuditAction.SPACE_CREATE, AuditAction.GRANT_ADD},
    "SpaceService.set_quota": {AuditAction.SPACE_QUOTA},
    "SpaceService.grant": {AuditAction.GRANT_ADD},
    "SpaceService.revoke": {AuditAction.GRANT_REMOVE},
    "MaintenanceService.gc": {AuditAction.MAINTENANCE_GC},
    "MaintenanceService.fsck": {AuditAction.MAINTENANCE_FSCK},
    "KeyRotationService.rotate_master": {AuditAction.KEY_ROTATE_MASTER},
    "KeyRotationService.rotate_space": {AuditAction.KEY_ROTATE_SPACE},
    "UploadService.create": {AuditAction.UPLOAD_CREATE, AuditAction.FILE_WRITE},
    "UploadService.append": {AuditAction.FILE_WRITE},  # the last byte completes the file
    "UploadService.terminate": {AuditAction.UPLOAD_TERMINATE},
    "AccountService.create_user": {AuditAction.USER_CREATE},
    "AccountService.set_roles": {AuditAction.USER_ROLES},
    "AccountService.disable_user": {AuditAction.USER_DISABLE},
    "AccountService.enable_user": {AuditAction.USER_ENABLE},
    "AccountService.change_password": {AuditAction.PASSWORD_CHANGE},
    # Failures and throttled attempts; a success opens a session.
    "AccountService.authenticate": {AuditAction.LOGIN, AuditAction.LOGIN_THROTTLED},
    "AccountService.create_group": {AuditAction.GROUP_CREATE},
    "AccountService.delete_group": {AuditAction.GROUP_DELETE},
    "AccountService.add_member": {AuditAction.GROUP_MEMBER_ADD},
    "AccountService.remove_member": {AuditAction.GROUP_MEMBER_REMOVE},
    "AccountService.create_token": {AuditAction.TOKEN_CREATE},
    "AccountService.revoke_token": {AuditAction.TOKEN_REVOKE},
    "AccountService.authenticate_token": {AuditAction.TOKEN_REFUSED},
    "AccountService.throttled_guess": {AuditAction.LOGIN_THROTTLED},
    "AccountService.issue_token": {AuditAction.TOKEN_CREATE},
    "DeviceFlowService.start": {AuditAction.DEVICE_START},
    # Wrong codes are denied device.approve entries; throttled ones session.throttled.
    "DeviceFlowService.describe": {AuditAction.DEVICE_APPROVE, AuditAction.LOGIN_THROTTLED},
    "DeviceFlowService.approve": {AuditAction.DEVICE_APPROVE, AuditAction.LOGIN_THROTTLED},
    "DeviceFlowService.deny": {AuditAction.DEVICE_DENY, AuditAction.LOGIN_THROTTLED},
    # A success is the token's token.create; refusals are device.token.
    "DeviceFlowService.poll": {AuditAction.TOKEN_CREATE, AuditAction.DEVICE_TOKEN},
    "SessionService.login": {AuditAction.LOGIN, AuditAction.LOGIN_THROTTLED},
    "SessionService.open_external": {AuditAction.LOGIN},
    "SessionService.logout": {AuditAction.LOGOUT},
    "SessionService.authenticate": {
        AuditAction.SESSION_LOCK,
        AuditAction.SESSION_EXPIRE,
        AuditAction.SESSION_REVOKE,
    },
    "SessionService.unlock": {AuditAction.SESSION_UNLOCK, AuditAction.LOGIN_THROTTLED},
    "SessionService.revoke": {AuditAction.SESSION_REVOKE},
    "SessionService.change_password": {AuditAction.PASSWORD_CHANGE, AuditAction.LOGIN},
    "SessionService.check_csrf": {AuditAction.SESSION_EXPIRE, AuditAction.SESSION_REVOKE},
    "MfaService.begin_totp": {AuditAction.MFA_ENROL},
    "MfaService.confirm_totp": {AuditAction.MFA_CONFIRM},
    "MfaService.verify": {AuditAction.MFA_VERIFY},
    "MfaService.remove_totp": {AuditAction.MFA_REMOVE},
    "MfaService.regenerate_recovery_codes": {AuditAction.MFA_RECOVERY_CODES},
    "SessionService.verify_mfa": {
        AuditAction.MFA_VERIFY,
        AuditAction.SESSION_REVOKE,
        AuditAction.LOGIN,
        AuditAction.LOGIN_THROTTLED,
    },
    "SessionService.confirm_totp": {
        AuditAction.MFA_CONFIRM,
        AuditAction.SESSION_REVOKE,
        AuditAction.LOGIN,
    },
    # Passkeys: a denied registration is recorded by registration_options too.
    "PasskeyService.registration_options": {AuditAction.MFA_PASSKEY_ADD},
    "PasskeyService.register": {AuditAction.MFA_PASSKEY_ADD},
    "PasskeyService.rename": {AuditAction.MFA_PASSKEY_RENAME},
    # The password as proof is checked as a log-in is (failures, back-off).
    "PasskeyService.remove": {
        AuditAction.MFA_PASSKEY_REMOVE,
        AuditAction.LOGIN,
        AuditAction.LOGIN_THROTTLED,
    },
    "PasskeyService.remove_all": {AuditAction.MFA_PASSKEY_REMOVE},
    "PasskeyService.verify_second_factor": {AuditAction.MFA_VERIFY, AuditAction.LOGIN_THROTTLED},
    "PasskeyService.verify_login": {AuditAction.LOGIN, AuditAction.LOGIN_THROTTLED},
    "SessionService.passkey_options": {
        AuditAction.SESSION_LOCK,
        AuditAction.SESSION_EXPIRE,
        AuditAction.SESSION_REVOKE,
    },
    "SessionService.passkey_registration_options": {AuditAction.MFA_PASSKEY_ADD},
    "SessionService.register_passkey": {
        AuditAction.MFA_PASSKEY_ADD,
        AuditAction.SESSION_REVOKE,
        AuditAction.LOGIN,
    },
    "SessionService.verify_passkey": {
        AuditAction.MFA_VERIFY,
        AuditAction.SESSION_REVOKE,
        AuditAction.LOGIN,
        AuditAction.LOGIN_THROTTLED,
    },
    "SessionService.login_passkey": {AuditAction.LOGIN, AuditAction.LOGIN_THROTTLED},
    "SsoService.complete": {
        AuditAction.LOGIN,
        AuditAction.SSO_LINK,
        AuditAction.USER_CREATE,
        AuditAction.GROUP_MEMBER_ADD,
        AuditAction.GROUP_MEMBER_REMOVE,
    },
    "AuditReader.entries": {AuditAction.AUDIT_READ},
    "AuditReader.inclusion": {AuditAction.AUDIT_READ},
    "AuditReader.consistency": {AuditAction.AUDIT_READ},
    "ContextEraser.erase_person": {AuditAction.AUDIT_ERASE},
    "AccessReports.access_to": {AuditAction.AUDIT_REPORT},
    "AccessReports.activity_of": {AuditAction.AUDIT_REPORT},
    "AccessReports.denied": {AuditAction.AUDIT_REPORT},
    "AccessReports.out_of_hours": {AuditAction.AUDIT_REPORT},
    "AccessReports.run": {AuditAction.AUDIT_REPORT},
    "MailService.send_test": {AuditAction.MAIL_TEST},
    "MailService.set_language": {AuditAction.USER_LANGUAGE},
    "MailService.send_pending": {AuditAction.MAIL_FAILED},
    "NotificationService.follow": {AuditAction.NOTIFY_FOLLOW},
    "NotificationService.unfollow": {AuditAction.NOTIFY_UNFOLLOW},
    "NotificationService.set_preferences": {AuditAction.NOTIFY_PREFERENCES},
    "ShareService.create_link": {AuditAction.LINK_CREATE},
    "ShareService.create_request": {AuditAction.LINK_CREATE},
    "LinkAccessService.receive": {AuditAction.FILEREQUEST_UPLOAD},
    "ShareService.revoke_link": {AuditAction.LINK_REVOKE},
    "ShareService.set_link_policy": {AuditAction.LINK_POLICY},
    "LinkAccessService.open": {AuditAction.LINK_OPEN},
    "LinkAccessService.give_password": {AuditAction.LINK_VERIFY},
    "LinkAccessService.send_code": {AuditAction.LINK_CODE_SENT},
    "LinkAccessService.confirm_code": {AuditAction.LINK_VERIFY},
    "LinkAccessService.download": {AuditAction.LINK_DOWNLOAD},
    "LinkAccessService.zip": {AuditAction.LINK_DOWNLOAD},
}

#: Public methods that change nothing and read no content: no event, and why.
READ_ONLY: dict[str, str] = {
    "FileService.check_writable": "a check before an upload; the upload records itself",
    "FileService.versions": "lists version metadata, no content",
    "AntivirusService.drain": "waits for the verdicts in flight (each records itself)",
    "AntivirusService.close": "drain, then stops the verdict threads",
    "NodeService.stat": "metadata of one item",
    "NodeService.list_folder": "names of a folder, no content (denials are recorded)",
    "NodeService.browse": "list_folder, as the shared listing the web door serialises",
    "NodeService.trash": "lists the trash, no content",
    "SpaceService.list_spaces": "the caller's own spaces",
    "SpaceService.get": "one space's metadata",
    "SpaceService.list_all": "every space's metadata (administrators), no content",
    "SpaceService.grants": "who holds a role on a folder",
    "UploadService.status": "the offset of the caller's own upload",
    "AccountService.get_user": "an account's profile",
    "AccountService.list_users": "the account list (administrators)",
    "AccountService.list_groups": "the group list (administrators)",
    "AccountService.user_overview": "accounts' state, roles, factor set up, last sign-in "
    "(administrators), never a secret",
    "AccountService.list_members": "a group's members (administrators)",
    "AccountService.list_tokens": "token metadata, never secrets",
    "AccountService.check_password_policy": "judges a candidate password, stores nothing",
    "AccountService.must_change_password": "reads one flag",
    "AccountService.check_token_session": "judges a session for minting a token; the "
    "caller records the refusal it raises",
    "AccountService.principal_for": "loads the principal of an authenticated request",
    "AccountService.principal_for_username": "the local CLI's principal, checked by the host",
    "SessionService.list_sessions": "the caller's sessions (administrators: anyone's)",
    "AuditReader.checkpoint": "the latest signed checkpoint: public by design",
    "MfaService.status": "the caller's own factors, no secret",
    "MfaService.state": "whether a session must give a second factor",
    "MfaService.use_code": "uses up a code inside its caller's transaction, which records",
    "PasskeyService.list_passkeys": "the caller's own passkeys, no key material",
    "PasskeyService.assertion_options": "stores a single-use challenge; its answer records",
    "SsoService.info": "whether single sign-on is configured, and its label",
    "SsoService.begin": "stores a sign-in request before anyone is known; complete records it",
    "MailService.status": "counts of the outbox and its last error, no content",
    "IncidentService.list": "incident metadata, ids only (incident.manage)",
    "IncidentService.show": "an incident's events, ids only (incident.manage)",
    "CanaryService.list": "paths of a space's decoys (space.admin)",
    "ShareService.shared_with_me": "the caller's own shares: paths, roles, no content",
    "ShareService.links_of": "link metadata of an item (contributors), never tokens",
    "ShareService.list_links": "the caller's links (administrators: all), never tokens",
    "ShareService.link_policy": "a space's link policy",
    "NotificationService.follows": "the caller's own follows, those still visible",
    "NotificationService.notifications": "the caller's own list; paths only where still visible",
    "NotificationService.mark_read": "marks the caller's own notifications read: no right, no data",
    "NotificationService.preferences": "the caller's own mail preferences",
}

SERVICE_CLASSES = [
    FileService,
    NodeService,
    SpaceService,
    MaintenanceService,
    KeyRotationService,
    UploadService,
    AccountService,
    SessionService,
    MfaService,
    PasskeyService,
    SsoService,
    AuditReader,
    AccessReports,
    ContextEraser,
    MailService,
    DeviceFlowService,
    IncidentService,
    CanaryService,
    RollbackService,
    AntivirusService,
    ShareService,
    LinkAccessService,
    NotificationService,
]


def _public_methods(cls: type) -> set[str]:
    return {
        f"{cls.__name__}.{name}"
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_public_service_method_records_or_is_declared_read_only() -> None:
    public = set().union(*(_public_methods(cls) for cls in SERVICE_CLASSES))
    undecided = public - set(RECORDING) - set(READ_ONLY)
    assert not undecided, (
        f"decide what these record (RECORDING) or why not (READ_ONLY): {undecided}"
    )
    gone = (set(RECORDING) | set(READ_ONLY)) - public
    assert not gone, f"these methods no longer exist: {gone}"
    assert not set(RECORDING) & set(READ_ONLY)


#: Refused attempts: (who tries, what, the action the denied event names).
REFUSALS: dict[str, tuple[Callable[[World], Any], str]] = {
    "read a file of a space without a role": (
        _after_note(lambda w: w.svc.files.open(w.bob, "cardio", "note.txt")),
        "file.read",
    ),
    "write into a space without a role": (
        lambda w: w.svc.files.write(w.bob, "cardio", "x.txt", [b"x"]),
        "file.write",
    ),
    "copy out of a space without a role (nested services)": (
        _after_note(
            lambda w: w.svc.nodes.copy(w.bob, "cardio", "note.txt", "x.txt", to_slug="neuro"),
        ),
        "file.read",
    ),
    "give a role as a mere contributor": (
        lambda w: w.svc.spaces.grant(w.alice, "cardio", "", "user:bob", "manager"),
        "grant.manage",
    ),
    "make a link to a file of a space without a role": (
        _after_note(
            lambda w: w.svc.sharing.create_link(
                w.bob, "cardio", "note.txt", recipients=["dr.durand@clinique.example"]
            )
        ),
        "link.create",
    ),
    "set a space's link policy as a contributor": (
        lambda w: w.svc.sharing.set_link_policy(w.alice, "cardio", links_allowed=True),
        "space.admin",
    ),
    "create a user without being an administrator": (
        lambda w: w.svc.accounts.create_user(w.alice, "mallory", password=PASSWORD),
        "user.manage",
    ),
    "create a group without being an administrator": (
        lambda w: w.svc.accounts.create_group(w.bob, "x"),
        "group.manage",
    ),
    "rotate keys without being an administrator": (
        lambda w: w.svc.rotation.rotate_space(w.alice, "cardio"),
        "key.rotate",
    ),
    "run the garbage collector without being an administrator": (
        lambda w: w.svc.maintenance.gc(w.bob),
        "maintenance.run",
    ),
    "list another user's sessions": (
        lambda w: w.svc.sessions.list_sessions(w.bob, w.alice.user_id),
        "user.manage",
    ),
    "start an upload into a space without a role": (
        lambda w: w.svc.uploads.create(w.bob, "cardio", "x.bin", 10),
        "file.write",
    ),
    "change a space's quota as a contributor": (
        lambda w: w.svc.spaces.set_quota(w.alice, "cardio", quota_bytes=1),
        "space.admin",
    ),
    "set another user's mail language": (
        lambda w: w.svc.mail.set_language(w.bob, "alice", "en"),
        "user.manage",
    ),
    "follow a folder of a space without a role": (
        lambda w: w.svc.notifications.follow(w.bob, "cardio", ""),
        "folder.list",
    ),
    "send a test mail without being an administrator": (
        lambda w: w.svc.mail.send_test(w.bob, "x@chu.example"),
        "maintenance.run",
    ),
    "sign in with a wrong password": (
        lambda w: w.svc.sessions.login("alice", "not the password"),
        "session.login",
    ),
    "approve a device with a wrong code": (
        lambda w: w.svc.device.approve(
            w.alice,
            "BBBB-BBBB",
            session_id=w.svc.sessions.login("alice", PASSWORD)[1].info.id,
            mfa_method="totp",
        ),
        "device.approve",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_is_recorded_once_as_denied(world: World, case: str) -> None:
    attempt, action = REFUSALS[case]
    before = {e.id for e in _events(world)}
    with pytest.raises(EgideError):
        attempt(world)
    denied = [e for e in _events(world) if e.id not in before and e.outcome == DENIED]
    assert [e.action for e in denied] == [action]
    assert json.loads(denied[0].details)["reason"]


def test_a_denied_read_names_the_file_it_tried(world: World) -> None:
    world.note()
    node = world.svc.nodes.stat(world.alice, "cardio", "note.txt")
    with pytest.raises(EgideError):
        world.svc.files.open(world.bob, "cardio", "note.txt")
    (event,) = [e for e in _events(world) if e.outcome == DENIED]
    assert json.loads(event.target) == {"node": node.id, "space": event.space_id}
    assert event.node_id == node.id
    assert event.user_id == world.bob.user_id


@pytest.fixture
def refuse_audit(world: World) -> Iterator[Callable[[], None]]:
    """Make the database itself refuse audit rows, as a full disk or a broken table would."""
    postgres = world.svc.db.engine.dialect.name == "postgresql"
    installed = []

    def install() -> None:
        with world.svc.db.write() as session:
            if postgres:
                session.execute(
                    text(
                        "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
                        "RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql"
                    )
                )
                session.execute(
                    text(
                        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                        "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                    )
                )
            else:
                session.execute(
                    text(
                        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                        "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"
                    )
                )
        installed.append(True)

    yield install
    if installed and postgres:  # the PostgreSQL test database is shared by every test
        with world.svc.db.write() as session:
            session.execute(text("DROP TRIGGER refuse_audit ON audit_events"))
            session.execute(text("DROP FUNCTION refuse_audit()"))


def test_a_read_is_refused_when_its_event_cannot_be_written(
    world: World, refuse_audit: Callable[[], None]
) -> None:
    """No action without its record: the audit table refusing the insert fails the action."""
    world.note()
    refuse_audit()
    with pytest.raises(Exception, match="audit log unavailable"):
        world.svc.files.open(world.alice, "cardio", "note.txt")


def test_a_write_is_rolled_back_when_its_event_cannot_be_written(
    world: World, refuse_audit: Callable[[], None]
) -> None:
    refuse_audit()
    with pytest.raises(Exception, match="audit log unavailable"):
        world.note()
    with world.svc.db.read() as session:
        assert session.scalars(select(Version)).first() is None
    assert not list(world.svc.blobs.iter_blobs()), "the sealed content is removed"
