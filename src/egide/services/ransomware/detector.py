"""The detector on the write path (issue 8, items 1 and 2; docs/ransomware.md).

The vault services call it inside their own write transactions:

- `check` before acting (writes, uploads, downloads, moves, deletes): a user
  with an open incident gets `PrincipalContained` (423), in every process,
  since the incident is a row;
- `sampler` gives the `ContentSampler` the write path feeds as the plaintext
  streams (bounded memory);
- `on_write`, `on_move`, `on_delete` once the action's rows are flushed:
  they record the event, score the acting principal's windows and, past a
  threshold, open the incident, write its audit entry and the admins' mail
  in the same transaction, so the action, its detection and its alert commit
  or roll back together.

The scoring runs in a savepoint: an error there is logged and never makes a
legitimate write fail (the issue's "a scorer error never blocks a
legitimate upload"); the fingerprint is then missing and the next version
of the file is compared with a bounded sample of this one instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from egide.core.clock import Clock
from egide.core.config import Settings
from egide.core.db.base import new_id
from egide.core.db.models.ransomware import (
    RansomwareCanary,
    RansomwareEvent,
    RansomwareFingerprint,
    RansomwareIncident,
)
from egide.core.ransomware.filetypes import FileKind, extension, is_known_extension
from egide.core.ransomware.scoring import (
    EventKind,
    ScoredEvent,
    Thresholds,
    Weights,
    crosses,
    note_weight,
    score,
)
from egide.core.ransomware.signals import ContentSampler, Fingerprint, compare, fingerprint_of
from egide.services.access.policy import Principal
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import AuditRecorder
from egide.services.mail.alerts import alert_security_officers
from egide.services.mail.outbox import Outbox
from egide.services.ransomware.errors import PrincipalContained

log = logging.getLogger(__name__)

OPEN = "open"
RELEASED = "released"
CONFIRMED = "confirmed"
#: Names an operating system or a sync client drops, identical, in many folders.
_SYSTEM_NAMES = frozenset({"desktop.ini", ".ds_store", "thumbs.db", ".gitkeep", ".keep"})


@dataclass(frozen=True)
class DetectorConfig:
    enabled: bool
    weights: Weights
    thresholds: Thresholds
    #: Bytes hashed for similarity, and read of a previous version lacking a fingerprint.
    sample_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorConfig:
        return cls(
            enabled=settings.ransomware_detection,
            weights=Weights(
                overwrite=settings.ransomware_weight_overwrite,
                new_encrypted=settings.ransomware_weight_new_encrypted,
                rename=settings.ransomware_weight_rename,
                note=settings.ransomware_weight_note,
                delete=settings.ransomware_weight_delete,
            ),
            thresholds=Thresholds(
                short_seconds=settings.ransomware_short_window_seconds,
                short_score=settings.ransomware_short_threshold,
                long_seconds=settings.ransomware_long_window_seconds,
                long_score=settings.ransomware_long_threshold,
            ),
            sample_bytes=settings.ransomware_sample_bytes,
        )


def principal_key(actor: Principal) -> str | None:
    """The acting principal windows are kept for: the session, else the token, else
    the user; None for the local system (never scored nor contained) and for an
    upload through a file request (never scored).

    A file request only adds new files under fresh names: it cannot overwrite,
    rename or delete anything, which is what detection guards. Scored as its
    creator, anyone holding the link could get the creator contained by
    sending encrypted-looking files (the creator's own containment still
    stops the request: `check` goes by the user).
    """
    if actor.user_id is None or actor.link_id is not None:
        return None
    if actor.session_id is not None:
        return f"session:{actor.session_id}"
    if actor.token_id is not None:
        return f"token:{actor.token_id}"
    return f"user:{actor.user_id}"


@dataclass(frozen=True)
class WrittenVersion:
    """What the write path tells the detector of a committed-to-be version."""

    space_id: str
    node_id: str
    parent_id: str
    version_id: str
    content_id: str
    name: str
    size: int
    sha256: str
    created: bool
    previous_content_id: str | None


class Detector:
    def __init__(
        self,
        config: DetectorConfig,
        *,
        clock: Clock,
        audit: AuditRecorder,
        outbox: Outbox,
        language: str,
    ) -> None:
        self.config = config
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.language = language

    # Before acting -------------------------------------------------------

    @staticmethod
    def open_incident_of(session: Session, user_id: str) -> str | None:
        return session.scalar(
            select(RansomwareIncident.id)
            .where(RansomwareIncident.user_id == user_id, RansomwareIncident.status != RELEASED)
            .limit(1)
        )

    def check(self, session: Session, actor: Principal, action: str) -> None:
        """Refuse a contained user's `action` (whatever the detection setting: an
        incident stays in force until an administrator releases it). The refusal
        is recorded as a denied attempt of `action`."""
        if actor.user_id is None:
            return
        incident = self.open_incident_of(session, actor.user_id)
        if incident is not None:
            raise PrincipalContained(incident).denied(action, {"incident": incident})

    def fingerprint(self, sampler: ContentSampler | None) -> Fingerprint | None:
        """The sampler's fingerprint; None (logged) if it fails: the write goes on."""
        if sampler is None:
            return None
        try:
            return sampler.fingerprint()
        except Exception:  # a scorer bug must not block a legitimate write
            log.exception("ransomware fingerprint failed; the version goes on unscored")
            return None

    def sampler(self) -> ContentSampler | None:
        return ContentSampler(self.config.sample_bytes) if self.config.enabled else None

    # After acting --------------------------------------------------------

    def on_write(
        self,
        session: Session,
        actor: Principal,
        written: WrittenVersion,
        fingerprint: Fingerprint | None,
        read_previous: Callable[[int], bytes] | None = None,
    ) -> None:
        """Judge a new version against the previous one; `read_previous(limit)`
        returns the previous version's first bytes when it has no fingerprint."""
        if not self.config.enabled or fingerprint is None:
            return
        key = principal_key(actor)
        self._guarded(
            session,
            lambda: self._on_write(
                session,
                actor,
                key=key,
                written=written,
                new=fingerprint,
                read_previous=read_previous,
            ),
        )

    def _on_write(
        self,
        session: Session,
        actor: Principal,
        *,
        key: str | None,
        written: WrittenVersion,
        new: Fingerprint,
        read_previous: Callable[[int], bytes] | None,
    ) -> None:
        # A new content row (never reused), so a plain insert.
        session.add(_row_of(written.content_id, new))
        if key is None:
            return
        now = self.clock.now()
        if self._is_canary(session, written.node_id):
            self._event(
                session, actor, (key, EventKind.CANARY, 0.0), now=now, ref=written, signals="canary"
            )
            self._canary_hit(session, actor, written.space_id, written.node_id)
            self._evaluate(session, actor, key, now, canary=True)
            return
        old = self._previous(session, written.previous_content_id, read_previous)
        signals = compare(old, new, written.name)
        weights = self.config.weights
        kind, weight = EventKind.CREATE if written.created else EventKind.WRITE, 0.0
        if written.created and signals.suspicious_new:
            weight = weights.new_encrypted
        elif not written.created and signals.suspicious_overwrite:
            weight = weights.overwrite
        sha = None
        if written.created and 0 < written.size <= self.config.thresholds.note_max_size:
            sha = written.sha256
            if weight == 0.0 and written.name.lower() not in _SYSTEM_NAMES:
                folders = self._note_folders(session, key, sha, written.parent_id, now)
                note = note_weight(folders, weights, self.config.thresholds)
                if note:
                    kind, weight = EventKind.NOTE, note
        self._event(
            session,
            actor,
            (key, kind, weight),
            now=now,
            ref=written,
            signals=",".join(signals.names()),
            sha=sha,
        )
        if weight > 0:
            self._evaluate(session, actor, key, now)

    def on_move(
        self,
        session: Session,
        actor: Principal,
        *,
        space_id: str,
        node_id: str,
        parent_id: str,
        old_name: str,
        new_name: str,
        is_file: bool,
    ) -> None:
        if not self.config.enabled:
            return
        key = principal_key(actor)
        if key is None:
            return

        def judge() -> None:
            now = self.clock.now()
            ref = _Ref(space_id, node_id, parent_id)
            if self._is_canary(session, node_id):
                self._event(
                    session, actor, (key, EventKind.CANARY, 0.0), now=now, ref=ref, signals="canary"
                )
                self._canary_hit(session, actor, space_id, node_id)
                self._evaluate(session, actor, key, now, canary=True)
                return
            old_ext, new_ext = extension(old_name), extension(new_name)
            weight = 0.0
            if is_file and new_ext != old_ext and not is_known_extension(new_ext):
                weight = self.config.weights.rename
            signals = "unknown-extension" if weight else ""
            self._event(
                session, actor, (key, EventKind.RENAME, weight), now=now, ref=ref, signals=signals
            )
            if weight > 0:
                self._evaluate(session, actor, key, now)

        self._guarded(session, judge)

    def on_delete(
        self,
        session: Session,
        actor: Principal,
        *,
        space_id: str,
        node_id: str,
        subtree: Select[tuple[str]],
    ) -> None:
        """A deletion of `node_id`; `subtree` selects its id and every id below it
        (deleting a folder that holds a canary touches the canary)."""
        if not self.config.enabled:
            return
        key = principal_key(actor)
        if key is None:
            return

        def judge() -> None:
            now = self.clock.now()
            ref = _Ref(space_id, node_id, None)
            canary = session.scalar(
                select(RansomwareCanary.node_id)
                .where(RansomwareCanary.node_id.in_(subtree))
                .limit(1)
            )
            if canary is not None:
                self._event(
                    session, actor, (key, EventKind.CANARY, 0.0), now=now, ref=ref, signals="canary"
                )
                self._canary_hit(session, actor, space_id, canary)
                self._evaluate(session, actor, key, now, canary=True)
                return
            weight = self.config.weights.delete
            self._event(
                session, actor, (key, EventKind.DELETE, weight), now=now, ref=ref, signals=""
            )
            self._evaluate(session, actor, key, now)

        self._guarded(session, judge)

    # Internals -----------------------------------------------------------

    @staticmethod
    def _guarded(session: Session, judge: Callable[[], None]) -> None:
        # The caller's transaction must survive a scorer error: a savepoint
        # isolates it (on PostgreSQL a failed statement aborts the transaction).
        # Containment never raises here: it blocks the next action, never the
        # one that crossed the threshold (that one is recorded in the incident).
        try:
            with session.begin_nested():
                judge()
        except Exception:  # a scorer bug must not block a legitimate write
            log.exception("ransomware scoring failed; the action goes on unscored")

    def _is_canary(self, session: Session, node_id: str) -> bool:
        return session.get(RansomwareCanary, node_id) is not None

    def _previous(
        self,
        session: Session,
        content_id: str | None,
        read_previous: Callable[[int], bytes] | None,
    ) -> Fingerprint | None:
        if content_id is None:
            return None
        row = session.get(RansomwareFingerprint, content_id)
        if row is not None:
            return _fingerprint_of_row(row)
        if read_previous is None:
            return None
        # Written before detection was on: a bounded sample of its plaintext.
        sample = read_previous(self.config.sample_bytes)
        old = fingerprint_of(sample, self.config.sample_bytes)
        session.merge(_row_of(content_id, old))
        return old

    def _note_folders(
        self, session: Session, key: str, sha: str, parent_id: str, now: dt.datetime
    ) -> int:
        since = now - dt.timedelta(seconds=self.config.thresholds.long_seconds)
        parents = set(
            session.scalars(
                select(RansomwareEvent.parent_id).where(
                    RansomwareEvent.principal == key,
                    RansomwareEvent.content_sha256 == sha,
                    RansomwareEvent.at >= since,
                )
            )
        )
        parents.add(parent_id)
        return len(parents)

    def _event(
        self,
        session: Session,
        actor: Principal,
        event: tuple[str, EventKind, float],
        *,
        now: dt.datetime,
        ref: WrittenVersion | _Ref,
        signals: str,
        sha: str | None = None,
    ) -> None:
        key, kind, weight = event
        event_id = new_id()
        session.add(
            RansomwareEvent(
                id=event_id,
                principal=key,
                user_id=actor.user_id,
                kind=str(kind),
                weight=weight,
                at=now,
                space_id=ref.space_id,
                node_id=ref.node_id,
                version_id=ref.version_id if isinstance(ref, WrittenVersion) else None,
                parent_id=ref.parent_id,
                content_sha256=sha,
                signals=signals[:200],
            )
        )
        # Keep the windows short: what no incident holds and the long window
        # no longer sees is dropped (one indexed delete), on suspicious events
        # and on one benign event in 16 (the random last digit of its id), so
        # that a benign principal's rows stay few without a delete per write.
        if weight == 0 and not event_id.endswith("0"):
            session.flush()
            return
        horizon = now - dt.timedelta(seconds=self.config.thresholds.long_seconds)
        session.execute(
            delete(RansomwareEvent).where(
                RansomwareEvent.principal == key,
                RansomwareEvent.at < horizon,
                RansomwareEvent.incident_id.is_(None),
            )
        )
        session.flush()

    def _evaluate(
        self,
        session: Session,
        actor: Principal,
        key: str,
        now: dt.datetime,
        *,
        canary: bool = False,
    ) -> None:
        t = self.config.thresholds
        since_long = now - dt.timedelta(seconds=t.long_seconds)
        since_short = now - dt.timedelta(seconds=t.short_seconds)
        rows = session.execute(
            select(RansomwareEvent.kind, RansomwareEvent.weight, RansomwareEvent.at).where(
                RansomwareEvent.principal == key,
                RansomwareEvent.at >= since_long,
                RansomwareEvent.incident_id.is_(None),
            )
        ).all()
        events = [(ScoredEvent(EventKind(k), w), at) for k, w, at in rows]
        long = score(e for e, _ in events)
        short = score(e for e, at in events if at >= since_short)
        if not crosses(short, long, t):
            return
        if actor.user_id is None or self.open_incident_of(session, actor.user_id) is not None:
            return
        suspicious = [at for (e, at) in events if e.weight > 0 or e.kind is EventKind.CANARY]
        first = min(suspicious) if suspicious else now
        self._open(
            session, actor, key=key, now=now, first=first, value=max(short, long), canary=canary
        )

    def _open(
        self,
        session: Session,
        actor: Principal,
        *,
        key: str,
        now: dt.datetime,
        first: dt.datetime,
        value: float,
        canary: bool,
    ) -> None:
        assert actor.user_id is not None  # noqa: S101 - checked by the caller
        incident = RansomwareIncident(
            id=new_id(),
            user_id=actor.user_id,
            principal=key,
            status=OPEN,
            reason="canary" if canary else "score",
            score=min(value, 1e9),
            opened_at=now,
            first_suspicious_at=first,
        )
        session.add(incident)
        session.flush()
        session.execute(
            update(RansomwareEvent)
            .where(
                RansomwareEvent.principal == key,
                RansomwareEvent.at >= first,
                RansomwareEvent.incident_id.is_(None),
            )
            .values(incident_id=incident.id)
            .execution_options(synchronize_session=False)
        )
        count = session.scalar(
            select(func.count()).where(RansomwareEvent.incident_id == incident.id)
        )
        self.audit.record(
            session,
            actor=Principal.system(),
            action=AuditAction.RANSOMWARE_INCIDENT_OPEN,
            target={"incident": incident.id, "user": actor.user_id},
            details={
                "principal": key.split(":", 1)[0],
                "reason": incident.reason,
                "score": round(incident.score, 2),
                "events": count or 0,
            },
        )
        self._alert(session, incident, count or 0)

    def _canary_hit(self, session: Session, actor: Principal, space_id: str, node_id: str) -> None:
        self.audit.record(
            session,
            actor=actor,
            action=AuditAction.RANSOMWARE_CANARY_HIT,
            target={"space": space_id, "node": node_id},
        )

    def _alert(self, session: Session, incident: RansomwareIncident, events: int) -> None:
        """Administrators and security officers are told (ids and counts only: no
        name, no path, no content)."""
        alert_security_officers(
            self.outbox,
            session,
            kind="ransomware-incident",
            key=f"ransomware-incident:{incident.id}",
            text=lambda lang: _alert_text(lang, incident, events),
            default_language=self.language,
        )


def check_contained(
    detector: Detector | None, session: Session, actor: Principal, action: str
) -> None:
    """`Detector.check` for the services that may run without a detector."""
    if detector is not None:
        detector.check(session, actor, action)


def refuse_contained(session: Session, actor: Principal, action: str) -> None:
    """`Detector.check` for the doors of services built without a detector (folders,
    grants, restores): an open incident holds whether detection is on or not."""
    if actor.user_id is None:
        return
    incident = Detector.open_incident_of(session, actor.user_id)
    if incident is not None:
        raise PrincipalContained(incident).denied(action, {"incident": incident})


@dataclass(frozen=True)
class _Ref:
    space_id: str
    node_id: str
    parent_id: str | None


def _row_of(content_id: str, fp: Fingerprint) -> RansomwareFingerprint:
    return RansomwareFingerprint(
        content_id=content_id,
        size=fp.size,
        kind=None if fp.kind is None else str(fp.kind),
        entropy=fp.entropy,
        first_block_entropy=fp.first_block_entropy,
        parses=fp.parses,
        tlsh=fp.tlsh,
    )


def _fingerprint_of_row(row: RansomwareFingerprint) -> Fingerprint:
    return Fingerprint(
        size=row.size,
        kind=None if row.kind is None else FileKind(row.kind),
        entropy=row.entropy,
        first_block_entropy=row.first_block_entropy,
        parses=row.parses,
        tlsh=row.tlsh,
    )


def _alert_text(language: str, incident: RansomwareIncident, events: int) -> tuple[str, str]:
    opened = incident.opened_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if language == "fr":
        return (
            f"Égide : activité de rançongiciel détectée (incident {incident.id})",
            "Égide a suspendu un compte dont l'activité ressemble à celle d'un rançongiciel.\n\n"
            f"Incident : {incident.id}\nOuvert le : {opened}\nMotif : {incident.reason}\n"
            f"Actions concernées : {events}\n\n"
            "Ses sessions et jetons ne peuvent plus écrire ni télécharger. Examinez "
            f"l'incident (egide incident show {incident.id}), puis libérez le compte "
            "(fausse alerte) ou confirmez l'incident.\n",
        )
    return (
        f"Égide: ransomware activity detected (incident {incident.id})",
        "Égide suspended an account whose activity looks like ransomware.\n\n"
        f"Incident: {incident.id}\nOpened: {opened}\nReason: {incident.reason}\n"
        f"Actions involved: {events}\n\n"
        "Its sessions and tokens can no longer write or download. Review the incident "
        f"(egide incident show {incident.id}), then release the account (a false alarm) "
        "or confirm the incident.\n",
    )
