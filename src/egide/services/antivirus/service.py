"""Rescans (docs/antivirus.md): held contents, recent ones after a signature update.

`egide scan` and the worker of `egide serve` decrypt each chosen content
(segment by segment, never whole in memory) and stream it to clamd:

- clean: the content is released (readable by everyone allowed);
- infected: marked so, read by nobody from then on; an audit entry and a
  mail to the administrators and security officers (ids and the
  signature name only, no file name), in the transaction that marks it;
- too large: stays (or becomes) `too_large`, held;
- clamd unreachable: the pass stops there (ScannerUnavailable); what was
  scanned so far is kept.

The worker's pass scans the held contents, and the contents written in the
last `antivirus_rescan_days` days whose last scan used another signature
database than clamd's current one (or none: written while scanning was off).

It also settles the verdicts of large uploads (over
`antivirus_wait_max_bytes`, ADR 29): the upload was committed pending, its
scan's stream ended; a thread waits for clamd's answer and stores it as a
rescan would (the uploader is the audit entry's actor). When the answer
never comes (clamd down, the process stopped), the content stays pending
and the worker's next pass scans it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from egide.core.antivirus.clamd import ClamdUnavailable, Outcome
from egide.core.crypto.egs1 import StreamOpener
from egide.core.crypto.keys import unwrap_dek
from egide.core.db.models import Content, User, Version
from egide.core.errors import Unavailable
from egide.services.access.policy import Action, Principal, authorize
from egide.services.antivirus.errors import ScannerUnavailable
from egide.services.antivirus.scanner import (
    HELD,
    PendingVerdict,
    Scanner,
    ScanResult,
    ScanStatus,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.mail.alerts import alert_security_officers
from egide.services.mail.outbox import Outbox
from egide.services.periodic import PeriodicWorker
from egide.services.vault.base import VaultContext, VaultServiceBase

log = logging.getLogger("egide.antivirus")

#: Contents looked at per pass of the worker (the next pass takes the rest).
WORKER_BATCH = 500
#: Threads reading the verdicts of large uploads (each waits on one clamd answer).
SETTLING_THREADS = 4


class ScanningOff(Unavailable):
    code = "antivirus-off"

    def __init__(self) -> None:
        super().__init__(
            "Antivirus scanning is off: set clamd_address (EGIDE_CLAMD_ADDRESS) to clamd's "
            "address, e.g. tcp://127.0.0.1:3310, then run this again."
        )


@dataclass(frozen=True)
class RescanReport:
    db_version: str | None
    scanned: int = 0
    clean: int = 0
    infected: int = 0
    held: int = 0


Progress = Callable[[int, int], None]


class AntivirusService(VaultServiceBase):
    def __init__(
        self, ctx: VaultContext, scanner: Scanner | None, outbox: Outbox, *, language: str = "fr"
    ) -> None:
        super().__init__(ctx)
        self.scanner = scanner
        self.outbox = outbox
        self.language = language
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._settling: set[Future[None]] = set()

    @records_denials
    def rescan(
        self,
        actor: Principal,
        *,
        since_days: int | None = None,
        held_only: bool = False,
        progress: Progress | None = None,
    ) -> RescanReport:
        """Scan the held contents, and unless `held_only` every content written in
        the last `since_days` days (default: the setting `antivirus_rescan_days`)."""
        authorize(actor, Action.MAINTENANCE)
        scanner = self._scanner()
        version = scanner.db_version(fresh=True)
        if version is None:
            raise ScannerUnavailable()
        days = self.ctx.settings.antivirus_rescan_days if since_days is None else since_days
        query = select(Content.id).where(_referenced())
        held = Content.scan_status.in_([str(s) for s in HELD])
        if held_only:
            query = query.where(held)
        else:
            since = self.clock.now() - dt.timedelta(days=days)
            query = query.where(
                or_(held, and_(Content.created_at >= since, Content.scan_status != "infected"))
            )
        with self.db.read() as session:
            ids = list(session.scalars(query.order_by(Content.created_at)))
        return self._scan_all(actor, ids, version, progress)

    def rescan_due(self) -> RescanReport:
        """The worker's pass: held contents, and recent ones scanned under another
        signature database (a signature update). Nothing when clamd is down."""
        scanner = self._scanner()
        version = scanner.db_version(fresh=True)
        if version is None:
            return RescanReport(db_version=None)
        since = self.clock.now() - dt.timedelta(days=self.ctx.settings.antivirus_rescan_days)
        query = (
            select(Content.id)
            .where(
                _referenced(),
                or_(
                    Content.scan_status.in_([str(s) for s in HELD]),
                    and_(
                        Content.created_at >= since,
                        Content.scan_status != "infected",
                        or_(Content.scan_db_version.is_(None), Content.scan_db_version != version),
                    ),
                ),
            )
            .order_by(Content.created_at)
            .limit(WORKER_BATCH)
        )
        with self.db.read() as session:
            ids = list(session.scalars(query))
        if not ids:
            return RescanReport(db_version=version)
        return self._scan_all(Principal.system(), ids, version, None)

    def _scanner(self) -> Scanner:
        if self.scanner is None:
            raise ScanningOff()
        return self.scanner

    def _scan_all(
        self, actor: Principal, ids: list[str], version: str, progress: Progress | None
    ) -> RescanReport:
        counts = {"clean": 0, "infected": 0, "held": 0}
        scanned = 0
        try:
            for done, content_id in enumerate(ids, 1):
                outcome = self._scan_one(actor, content_id, version)
                if outcome is not None:
                    scanned += 1
                    counts[outcome] += 1
                if progress is not None:
                    progress(done, len(ids))
        finally:
            if scanned:
                with self.db.write() as session:
                    self.audit.record(
                        session,
                        actor=actor,
                        action=AuditAction.ANTIVIRUS_RESCAN,
                        target={},
                        details={"scanned": scanned, "db_version": version, **counts},
                    )
        return RescanReport(db_version=version, scanned=scanned, **counts)

    def _scan_one(self, actor: Principal, content_id: str, version: str) -> str | None:
        """Scan one content and store its state; its outcome (None: gone meanwhile)."""
        scanner = self._scanner()
        with self.db.read() as session:
            content = session.get(Content, content_id)
            if content is None:
                return None
            space_key = self.ctx.keyring.key(session, content.dek_key_id)
            dek = unwrap_dek(space_key, content.dek_key_id, content.blob_key, content.wrapped_dek)
            blob_key, blob_size, size = content.blob_key, content.blob_size, content.size
        limit = scanner.max_bytes
        try:
            with scanner.client.instream() as scan:
                with self.ctx.blobs.open(blob_key) as reader:
                    opener = StreamOpener(dek, reader, expected_blob_size=blob_size)
                    for chunk in opener.iter_plaintext(0, min(size, limit)):
                        scan.feed(chunk)
                verdict = scan.finish()
        except ClamdUnavailable as exc:
            log.warning("clamd unreachable", extra={"egide": {"detail": str(exc)}})
            raise ScannerUnavailable() from exc
        if verdict.outcome is Outcome.INFECTED:
            result = ScanResult(ScanStatus.INFECTED, verdict.signature or "?", version)
        elif verdict.outcome is Outcome.TOO_LARGE or size > limit:
            result = ScanResult(ScanStatus.TOO_LARGE, None, version)
        else:
            result = ScanResult(ScanStatus.CLEAN, None, version)
        with self.db.write() as session:
            content = session.get(Content, content_id, with_for_update=True)
            if content is None:
                return None
            self._store_result(session, actor, content, result)
        return _outcome(result.status)

    def _store_result(
        self,
        session: Session,
        actor: Principal,
        content: Content,
        result: ScanResult,
        target: dict[str, str] | None = None,
    ) -> None:
        """A verdict becomes the content's state; a new infection is audited and
        the administrators alerted, in the same transaction."""
        newly_infected = (
            result.status is ScanStatus.INFECTED and content.scan_status != ScanStatus.INFECTED
        )
        content.scan_status = str(result.status)
        content.scan_signature = result.signature
        content.scanned_at = self.clock.now()
        content.scan_db_version = result.db_version
        if newly_infected and result.signature is not None:
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.ANTIVIRUS_INFECTED,
                target={"space": content.space_id, "content": content.id, **(target or {})},
                details={"signature": result.signature, "stored": True},
            )
            self._alert(session, content, result.signature)

    # Verdicts of large uploads, after their answer (ADR 29) -------------------

    def settle_later(self, actor: Principal, version_id: str, pending: PendingVerdict) -> None:
        """Read the verdict of a committed upload in a thread of this service."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=SETTLING_THREADS, thread_name_prefix="egide-verdict"
                )
            future = self._pool.submit(self._settle, actor, version_id, pending)
            self._settling.add(future)
        future.add_done_callback(self._settled)

    def _settled(self, future: Future[None]) -> None:
        with self._lock:
            self._settling.discard(future)

    def _settle(self, actor: Principal, version_id: str, pending: PendingVerdict) -> None:
        try:
            result = pending.result()
            if result.status is ScanStatus.PENDING:
                return  # clamd failed: the rescans take it from here
            with self.db.write() as session:
                version = session.get(Version, version_id)
                content = (
                    None
                    if version is None
                    else session.get(Content, version.content_id, with_for_update=True)
                )
                # Only a content still pending: a rescan may have judged it already.
                if content is None or content.scan_status != ScanStatus.PENDING:
                    return
                self._store_result(
                    session,
                    actor,
                    content,
                    result,
                    {"node": version.node_id, "version": version.id} if version else None,
                )
                if result.status is ScanStatus.INFECTED and actor.user_id is not None:
                    self._tell_uploader(session, actor.user_id, content, result.signature or "?")
        except Exception:  # left pending: the rescan worker scans it again
            log.exception("verdict of an upload not stored")
        finally:
            pending.close()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the verdicts in flight; False when some are still pending."""
        with self._lock:
            futures = list(self._settling)
        _, not_done = wait(futures, timeout=timeout)
        return not not_done

    def close(self) -> None:
        """Wait for the verdicts in flight (each bounded by clamd's timeout), then stop."""
        self.drain()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _tell_uploader(
        self, session: Session, user_id: str, content: Content, signature: str
    ) -> None:
        """The uploader of a large file found infected after the answer is mailed
        (no file name): their client saw the upload succeed."""
        user = session.get(User, user_id)
        if user is None or user.email is None or user.is_disabled:
            return
        language = user.language or self.language
        subject, body = _uploader_text(language, content, signature)
        self.outbox.enqueue(
            session,
            idempotency_key=f"antivirus-infected-upload.{content.id}",
            recipient=user.email,
            kind="antivirus-infected-upload",
            subject=subject,
            body_text=body,
            user_id=user.id,
            language=language,
        )

    def _alert(self, session: Session, content: Content, signature: str) -> None:
        """Administrators and security officers are told (ids and the signature name:
        no file name, no path, no content)."""
        alert_security_officers(
            self.outbox,
            session,
            kind="antivirus-infected",
            key=f"antivirus-infected.{content.id}",
            text=lambda lang: _alert_text(lang, content, signature),
            default_language=self.language,
        )


def _uploader_text(language: str, content: Content, signature: str) -> tuple[str, str]:
    if language == "fr":
        return (
            "Égide : menace trouvée dans un fichier que vous avez déposé",
            "L'antivirus a trouvé une menace dans un fichier que vous venez de déposer.\n\n"
            f"Signature : {signature}\nEspace : {content.space_id}\nContenu : {content.id}\n\n"
            "Le fichier est en quarantaine : plus personne ne peut le télécharger. Ne l'ouvrez "
            "pas sur votre poste, et prévenez votre support informatique : le poste d'où il "
            "vient doit être vérifié.\n",
        )
    return (
        "Égide: a threat was found in a file you uploaded",
        "The antivirus found a threat in a file you have just uploaded.\n\n"
        f"Signature: {signature}\nSpace: {content.space_id}\nContent: {content.id}\n\n"
        "The file is quarantined: nobody can download it. Do not open it on your "
        "workstation, and tell your IT support: the workstation it came from must be "
        "checked.\n",
    )


def _outcome(status: ScanStatus) -> str:
    if status is ScanStatus.INFECTED:
        return "infected"
    return "held" if status in HELD else "clean"


def _referenced() -> Exists:
    """Contents some version still names (the others are being erased)."""
    return exists().where(Version.content_id == Content.id)


def _alert_text(language: str, content: Content, signature: str) -> tuple[str, str]:
    if language == "fr":
        return (
            "Égide : menace trouvée par l'antivirus dans un fichier déjà stocké",
            "Une nouvelle analyse antivirus a trouvé une menace dans un fichier déjà stocké.\n\n"
            f"Signature : {signature}\nEspace : {content.space_id}\nContenu : {content.id}\n\n"
            "Plus personne ne peut le télécharger. Le journal d'audit (action "
            "antivirus.infected) indique les versions concernées ; restaurez une version "
            "antérieure saine ou supprimez le fichier, et vérifiez le poste qui l'a déposé.\n",
        )
    return (
        "Égide: the antivirus found a threat in a stored file",
        "A new antivirus scan found a threat in a file already stored.\n\n"
        f"Signature: {signature}\nSpace: {content.space_id}\nContent: {content.id}\n\n"
        "Nobody can download it any more. The audit log (action antivirus.infected) "
        "shows the versions concerned; restore a clean earlier version or delete the file, "
        "and check the workstation that uploaded it.\n",
    )


class AntivirusWorker(PeriodicWorker):
    """`egide serve`'s rescan loop: `AntivirusService.rescan_due` every interval."""

    thread_name = "egide-antivirus"

    def __init__(self, service: AntivirusService, *, interval: float) -> None:
        super().__init__(interval=interval, log=log)
        self.service = service

    def run_once(self) -> None:
        report = self.service.rescan_due()
        if report.scanned:
            log.info(
                "rescan pass",
                extra={
                    "egide": {
                        "scanned": report.scanned,
                        "clean": report.clean,
                        "infected": report.infected,
                        "held": report.held,
                    }
                },
            )
