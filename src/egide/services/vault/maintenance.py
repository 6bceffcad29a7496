"""Garbage collection and consistency checks (`egide gc`, `egide fsck`).

Nothing inside its protection window is ever purged: a version counts from
the moment a newer one replaced it, a trash item from its deletion, each with
the window in force when the data was written. Contents are reference
counted by the version rows that name them; when none is left, the content
row (and with it the wrapped data key) is deleted, then its blob.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from egide.core.blobstore import BlobNotFound
from egide.core.crypto.egs1 import StreamOpener
from egide.core.crypto.keys import unwrap_dek
from egide.core.db.models import (
    Content,
    Grant,
    Node,
    NodeHistory,
    Space,
    TrashItem,
    Upload,
    UploadPart,
    Version,
)
from egide.core.errors import EgideError
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.vault.base import VaultServiceBase
from egide.services.vault.names import join_path
from egide.services.vault.tree import FILE

Progress = Callable[[int], None]
_BATCH = 500


@dataclass
class GcReport:
    trash_purged: int = 0
    trash_protected: int = 0
    versions_pruned: int = 0
    contents_erased: int = 0
    blobs_deleted: int = 0
    partials_removed: int = 0
    uploads_expired: int = 0


@dataclass
class FsckProblem:
    space: str
    path: str
    version_id: str
    problem: str


@dataclass
class FsckReport:
    checked: int = 0
    bytes_checked: int = 0
    problems: list[FsckProblem] = field(default_factory=list)
    orphan_blobs: int = 0
    partial_writes: int = 0
    usage_mismatches: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.problems or self.orphan_blobs or self.partial_writes or self.usage_mismatches
        )


def _batched(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while batch := list(islice(items, size)):
        yield batch


class MaintenanceService(VaultServiceBase):
    # Garbage collection ------------------------------------------------------

    @records_denials
    def gc(self, actor: Principal, *, grace: dt.timedelta | None = None) -> GcReport:
        authorize(actor, Action.MAINTENANCE)
        report = GcReport()
        now = self.clock.now()
        freed: list[str] = []
        self._purge_trash(now, report, freed)
        self._prune_versions(now, report, freed)
        self._purge_expired_uploads(now, report, freed)
        for blob_key in freed:
            report.blobs_deleted += int(self.ctx.blobs.delete(blob_key))
        grace = (
            grace
            if grace is not None
            else dt.timedelta(seconds=self.ctx.settings.blob_gc_grace_seconds)
        )
        # Blob ages are file-system times, so they are compared with the wall
        # clock, not the service clock (which tests and simulations move).
        cutoff = dt.datetime.now(dt.UTC) - grace
        report.blobs_deleted += self._sweep_orphans(cutoff)
        report.partials_removed = self.ctx.blobs.remove_partials(cutoff)
        self._record_run(actor, AuditAction.MAINTENANCE_GC, dataclasses.asdict(report))
        return report

    def _record_run(self, actor: Principal, action: AuditAction, details: dict[str, Any]) -> None:
        """A maintenance run spans many transactions: its event, with its counts, ends it."""
        with self.db.write() as session:
            self._record(session, actor, action, {}, details=details)

    def _purge_trash(self, now: dt.datetime, report: GcReport, freed: list[str]) -> None:
        with self.db.read() as session:
            due = list(
                session.scalars(select(TrashItem.id).where(TrashItem.protected_until <= now))
            )
        for item_id in due:
            with self.db.write() as session:
                item = session.get(TrashItem, item_id)
                if item is None:
                    continue
                ids = self.tree.subtree_ids(session, item.node_id)
                # Batches keep every statement under the databases' bound-parameter
                # limits, whatever the size of the deleted folder.
                batches = [ids[i : i + _BATCH] for i in range(0, len(ids), _BATCH)]
                versions = [
                    v
                    for batch in batches
                    for v in session.scalars(select(Version).where(Version.node_id.in_(batch)))
                ]
                if any(_protected(v, item.deleted_at, now) for v in versions):
                    report.trash_protected += 1
                    continue
                content_ids = {v.content_id for v in versions}
                for batch in batches:
                    session.execute(delete(Version).where(Version.node_id.in_(batch)))
                    session.execute(delete(Grant).where(Grant.node_id.in_(batch)))
                    session.execute(delete(NodeHistory).where(NodeHistory.node_id.in_(batch)))
                    session.execute(
                        update(Node).where(Node.id.in_(batch)).values(parent_id=None, trash_id=None)
                    )
                for batch in batches:
                    session.execute(delete(Node).where(Node.id.in_(batch)))
                session.delete(item)
                freed += self._erase_unreferenced(session, content_ids, report)
                report.trash_purged += 1

    def _prune_versions(self, now: dt.datetime, report: GcReport, freed: list[str]) -> None:
        """Drop old versions beyond `versions_keep` per file, and beyond a space's
        history quota, oldest first — only once out of their protection window."""
        keep = self.ctx.settings.versions_keep
        with self.db.read() as session:
            rows = session.execute(
                select(
                    Version.id,
                    Version.node_id,
                    Version.size,
                    Version.superseded_at,
                    Version.retain_days,
                    Version.created_at,
                    Node.space_id,
                )
                .join(Node, Node.id == Version.node_id)
                .where(Version.superseded_at.is_not(None))
                .order_by(Version.node_id, Version.created_at.desc())
            ).all()
            quotas = dict(session.execute(select(Space.id, Space.history_quota_bytes)).all())
        per_node: dict[str, int] = defaultdict(int)
        history: dict[str, int] = defaultdict(int)
        for row in rows:
            history[row.space_id] += row.size
        doomed: set[str] = set()
        for row in rows:
            per_node[row.node_id] += 1
            expired = row.superseded_at + dt.timedelta(days=row.retain_days) <= now
            if expired and per_node[row.node_id] >= keep:
                doomed.add(row.id)
                history[row.space_id] -= row.size
        for row in sorted(rows, key=lambda r: r.created_at):
            limit = quotas.get(row.space_id)
            if limit is None or history[row.space_id] <= limit or row.id in doomed:
                continue
            if row.superseded_at + dt.timedelta(days=row.retain_days) <= now:
                doomed.add(row.id)
                history[row.space_id] -= row.size
        for batch in _batched(iter(sorted(doomed)), _BATCH):
            with self.db.write() as session:
                content_ids = set(
                    session.scalars(select(Version.content_id).where(Version.id.in_(batch)))
                )
                # Re-check inside the transaction: never purge what is current again.
                removed = session.execute(
                    delete(Version).where(Version.id.in_(batch), Version.superseded_at.is_not(None))
                ).rowcount  # type: ignore[attr-defined]
                report.versions_pruned += removed
                freed += self._erase_unreferenced(session, content_ids, report)

    def _purge_expired_uploads(self, now: dt.datetime, report: GcReport, freed: list[str]) -> None:
        """Delete resumable uploads past their expiry, and their part blobs."""
        with self.db.write() as session:
            expired = select(Upload.id).where(Upload.expires_at <= now)
            freed += session.scalars(
                select(UploadPart.blob_key).where(UploadPart.upload_id.in_(expired))
            )
            session.execute(delete(UploadPart).where(UploadPart.upload_id.in_(expired)))
            report.uploads_expired = session.execute(
                delete(Upload).where(Upload.expires_at <= now)
            ).rowcount  # type: ignore[attr-defined]

    @staticmethod
    def _erase_unreferenced(session: Session, content_ids: set[str], report: GcReport) -> list[str]:
        """Delete contents no version names any more; returns their blob keys."""
        keys: list[str] = []
        for batch in _batched(iter(sorted(content_ids)), _BATCH):
            still = set(
                session.scalars(
                    select(Version.content_id).where(Version.content_id.in_(batch)).distinct()
                )
            )
            gone = [c for c in batch if c not in still]
            if not gone:
                continue
            keys += session.scalars(select(Content.blob_key).where(Content.id.in_(gone)))
            session.execute(delete(Content).where(Content.id.in_(gone)))
            report.contents_erased += len(gone)
        return keys

    def _sweep_orphans(self, older_than: dt.datetime) -> int:
        deleted = 0
        for orphan in self._orphans(older_than):
            deleted += int(self.ctx.blobs.delete(orphan))
        return deleted

    def _orphans(self, older_than: dt.datetime | None) -> Iterator[str]:
        """Blob keys no content row references (optionally only those older than a date)."""
        infos = (
            info
            for info in self.ctx.blobs.iter_blobs()
            if older_than is None or info.modified < older_than
        )
        while batch := list(islice(infos, _BATCH)):
            keys = [info.key for info in batch]
            with self.db.read() as session:
                known = set(
                    session.scalars(select(Content.blob_key).where(Content.blob_key.in_(keys)))
                )
                # Parts of resumable uploads in progress are referenced too.
                known.update(
                    session.scalars(
                        select(UploadPart.blob_key).where(UploadPart.blob_key.in_(keys))
                    )
                )
            yield from (key for key in keys if key not in known)

    # Consistency check -------------------------------------------------------

    @records_denials
    def fsck(self, actor: Principal, *, progress: Progress | None = None) -> FsckReport:
        """Decrypt every current version, check its SHA-256 and size against the database."""
        authorize(actor, Action.MAINTENANCE)
        report = FsckReport()
        with self.db.read() as session:
            rows = session.execute(
                select(Node, Version, Content, Space)
                .join(Version, Version.id == Node.current_version_id)
                .join(Content, Content.id == Version.content_id)
                .join(Space, Space.id == Node.space_id)
                .where(Node.kind == FILE)
            ).all()
            for node, version, content, space in rows:
                problem = self._check_content(session, content)
                if problem:
                    report.problems.append(
                        FsckProblem(
                            space.slug, self._label(session, space, node), version.id, problem
                        )
                    )
                report.checked += 1
                report.bytes_checked += content.size
                if progress:
                    progress(content.size)
            self._check_usage(session, report)
        report.orphan_blobs = sum(1 for _ in self._orphans(None))
        report.partial_writes = self.ctx.blobs.count_partials()
        self._record_run(
            actor,
            AuditAction.MAINTENANCE_FSCK,
            {
                "checked": report.checked,
                "bytes_checked": report.bytes_checked,
                "problems": len(report.problems),
                "orphan_blobs": report.orphan_blobs,
                "partial_writes": report.partial_writes,
                "usage_mismatches": len(report.usage_mismatches),
            },
        )
        return report

    def _label(self, session: Session, space: Space, node: Node) -> str:
        path = self.tree.path_of(session, space, node)
        if path is None:
            return f"(in the trash) {self.tree.name_of(session, node)}"
        return join_path(path)

    def _check_content(self, session: Session, content: Content) -> str | None:
        try:
            key = self.ctx.keyring.key(session, content.dek_key_id)
            dek = unwrap_dek(key, content.dek_key_id, content.blob_key, content.wrapped_dek)
            digest = hashlib.sha256()
            size = 0
            with self.ctx.blobs.open(content.blob_key) as reader:
                if reader.size != content.blob_size:
                    return f"blob size {reader.size} differs from the recorded {content.blob_size}"
                for chunk in StreamOpener(
                    dek, reader, expected_blob_size=content.blob_size
                ).iter_plaintext():
                    digest.update(chunk)
                    size += len(chunk)
        except BlobNotFound:
            return "blob missing"
        except EgideError as exc:
            return f"unreadable: {exc.render()}"
        if size != content.size:
            return f"size {size} differs from the recorded {content.size}"
        if digest.hexdigest() != content.sha256:
            return "SHA-256 differs from the recorded one"
        return None

    def _check_usage(self, session: Session, report: FsckReport) -> None:
        for space in session.scalars(select(Space)):
            live = session.scalar(
                select(func.coalesce(func.sum(Version.size), 0))
                .join(Node, Node.current_version_id == Version.id)
                .where(Node.id.in_(self.tree.subtree(space.root_node_id)))
            )
            if live != space.used_bytes:
                report.usage_mismatches.append(
                    f"{space.slug}: recorded {space.used_bytes} bytes in use, counted {live}"
                )


def _protected(version: Version, deleted_at: dt.datetime, now: dt.datetime) -> bool:
    ended = version.superseded_at or deleted_at
    return ended + dt.timedelta(days=version.retain_days) > now
