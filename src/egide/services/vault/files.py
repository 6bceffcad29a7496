"""Files: the write path, the read path, versions.

Write path (ARCHITECTURE.md): authorise before reading the body; stream it
through EGS1 into a new blob key while hashing it; fsync and publish the
blob; then one transaction adds the content, the version and the node
change and charges the quota. If anything fails before that commit, the
blob is deleted, so nothing half-written is ever visible; a crash between
publication and commit leaves an orphan blob that `egide gc` removes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.crypto.egs1 import StreamOpener, StreamSealer
from egide.core.crypto.keys import generate_key, unwrap_dek, wrap_dek
from egide.core.db.base import new_id
from egide.core.db.models import Content, Node, Space, Version
from egide.core.ransomware.signals import Fingerprint
from egide.core.types import Secret
from egide.services.access.policy import Action, Principal, SpaceRole
from egide.services.antivirus.errors import FileInfected
from egide.services.antivirus.scanner import (
    PendingVerdict,
    Scanner,
    ScanResult,
    ScanStatus,
    ScanStream,
    SettleVerdict,
    check_readable,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import Detector, WrittenVersion, check_contained
from egide.services.vault.base import VaultContext, VaultServiceBase, not_found
from egide.services.vault.errors import (
    AlreadyExists,
    NotAFile,
    ParentMissing,
    QuotaExceeded,
    StaleVersion,
)
from egide.services.vault.names import MAX_NAME_BYTES, join_path, split_path
from egide.services.vault.tree import FILE, FOLDER
from egide.services.vault.types import VersionInfo


@dataclass(frozen=True)
class StoredContent:
    """A blob written and published, not yet referenced by any committed row."""

    blob_key: str
    blob_size: int
    size: int
    sha256: str
    segment_size: int
    wrapped_dek: bytes
    key_id: str
    #: Kept in memory until the commit, to re-wrap if the space key changed meanwhile.
    dek: Secret = field(repr=False)
    #: What ransomware detection keeps of the plaintext (None: detection off).
    fingerprint: Fingerprint | None = None
    #: The antivirus verdict (None: scanning off).
    scan: ScanResult | None = None
    #: The verdict still to come (a large upload stored pending), settled after the commit.
    pending: PendingVerdict | None = field(default=None, repr=False, compare=False)


@dataclass
class FileDownload:
    """An authorised read of one version; bytes are decrypted as they are iterated."""

    node_id: str
    version_id: str
    name: str
    size: int
    sha256: str
    modified_at: dt.datetime
    _ctx: VaultContext = field(repr=False)
    _blob_key: str = field(repr=False)
    _blob_size: int = field(repr=False)
    _dek: Secret = field(repr=False)

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes [start, end); each segment is authenticated before release."""
        with self._ctx.blobs.open(self._blob_key) as reader:
            opener = StreamOpener(self._dek, reader, expected_blob_size=self._blob_size)
            yield from opener.iter_plaintext(start, end)

    @classmethod
    def of(
        cls,
        ctx: VaultContext,
        session: Session,
        version: Version,
        content: Content,
        name: str,
        *,
        reader: str | None = None,
    ) -> FileDownload:
        """A read of `version` (whose content is `content`), once authorised: its
        data key unwrapped under the space key, nothing decrypted yet.

        The antivirus gate of every door: an infected content is read by nobody,
        a held one (awaiting a scan) by its uploader only (`reader`, the reading
        user's id; None, an outside door such as a share link: never)."""
        check_readable(session, content, reader)
        space_key = ctx.keyring.key(session, content.dek_key_id)
        return cls(
            node_id=version.node_id,
            version_id=version.id,
            name=name,
            size=content.size,
            sha256=content.sha256,
            modified_at=version.created_at,
            _ctx=ctx,
            _blob_key=content.blob_key,
            _blob_size=content.blob_size,
            _dek=unwrap_dek(space_key, content.dek_key_id, content.blob_key, content.wrapped_dek),
        )


class FileService(VaultServiceBase):
    def __init__(
        self,
        ctx: VaultContext,
        detector: Detector | None = None,
        scanner: Scanner | None = None,
        settle: SettleVerdict | None = None,
    ) -> None:
        super().__init__(ctx)
        #: Ransomware detection and containment (docs/ransomware.md); None: off.
        self.detector = detector
        #: Antivirus scanning of every upload (docs/antivirus.md); None: off.
        self.scanner = scanner
        #: Takes the verdicts of large uploads once committed (the antivirus
        #: service's); None: every upload waits for its verdict.
        self.settle = settle

    # Write -------------------------------------------------------------------

    @records_denials
    def write(
        self,
        actor: Principal,
        slug: str,
        path: str,
        source: Iterable[bytes],
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        size_hint: int | None = None,
        unique_name: bool = False,
        on_commit: OnCommit | None = None,
    ) -> VersionInfo:
        """Create the file at `path` or add a new version to it, from a stream of bytes.

        `unique_name`: never a new version; a taken name becomes "name (2).ext"
        (file requests, ADR 25). `on_commit(session, node, version)` runs in the
        transaction that stores the version (its caller's audit entry goes there).
        """
        segments = split_path(path)
        if not segments:
            raise NotAFile("The root of a space is a folder; give a file path.")
        with self.db.read() as session:
            check_contained(self.detector, session, actor, Action.FILE_WRITE.value)
            space = self._space(session, slug)
            _, existing, _ = self._target(session, actor, space, segments)
            if unique_name:
                existing = None  # a new file under a free name, whatever is there
            self._check_preconditions(existing, if_match, if_none_match)
            old_size = self._current_size(session, existing)
            if size_hint is not None:
                self._check_room(space, size_hint - old_size)
            room = None if space.quota_bytes is None else space.quota_bytes - space.used_bytes
            limit = None if room is None else room + old_size
            key_id = space.current_key_id
            space_key = self.ctx.keyring.key(session, key_id)
            space_id = space.id
            node_id = None if existing is None else existing.id
        try:
            stored = self._store(
                source, space_key, key_id, limit, external=actor.link_id is not None
            )
        except FileInfected as exc:
            self._record_infected(actor, space_id, node_id, segments, exc.signature)
            raise
        try:
            info = self._commit(
                actor,
                space_id,
                segments,
                stored,
                if_match=if_match,
                if_none_match=if_none_match,
                unique_name=unique_name,
                on_commit=on_commit,
            )
        except BaseException:
            if stored.pending is not None:
                stored.pending.close()
            self.ctx.blobs.delete(stored.blob_key)
            raise
        if stored.pending is not None and self.settle is not None:
            # Committed pending: the verdict now releases or quarantines it.
            self.settle(actor, info.id, stored.pending)
        return info

    @records_denials
    def check_writable(
        self, actor: Principal, slug: str, path: str, *, size_hint: int | None = None
    ) -> None:
        """Raise what `write` would raise before reading a body (access, parent, quota).

        Lets a resumable upload fail at creation, before any byte is stored.
        """
        segments = split_path(path)
        if not segments:
            raise NotAFile("The root of a space is a folder; give a file path.")
        with self.db.read() as session:
            check_contained(self.detector, session, actor, Action.FILE_WRITE.value)
            space = self._space(session, slug)
            _, existing, _ = self._target(session, actor, space, segments)
            if size_hint is not None:
                self._check_room(space, size_hint - self._current_size(session, existing))

    def _target(
        self, session: Session, actor: Principal, space: Space, segments: list[str]
    ) -> tuple[Node, Node | None, SpaceRole]:
        """(parent folder, existing file or None, the writer's role) once the write is allowed."""
        node, rest = self.tree.resolve_deepest(session, space, segments)
        if not rest:
            if node.kind != FILE:
                raise NotAFile("A folder already has this name. Choose another file name.")
            role = self._allow(session, actor, Action.FILE_WRITE, node)
            parent = session.get(Node, node.parent_id)
            if parent is None:  # pragma: no cover - a live file always has a parent
                raise not_found()
            return parent, node, role
        role = self._allow(session, actor, Action.FILE_WRITE, node)
        if len(rest) > 1 or node.kind != FOLDER:
            raise ParentMissing(
                "The folder {path} does not exist. Create it first.",
                path=join_path(segments[: len(segments) - len(rest) + 1]),
            )
        return node, None, role

    @staticmethod
    def _check_preconditions(
        existing: Node | None, if_match: str | None, if_none_match: bool
    ) -> None:
        if if_none_match and existing is not None:
            raise AlreadyExists("A file with this name already exists; nothing was overwritten.")
        if if_match is not None and (existing is None or existing.current_version_id != if_match):
            raise StaleVersion(
                "This file was changed by someone else since you opened it. Download the "
                "current version, merge your changes and save again."
            )

    @staticmethod
    def _current_size(session: Session, node: Node | None) -> int:
        if node is None or node.current_version_id is None:
            return 0
        version = session.get(Version, node.current_version_id)
        return version.size if version else 0

    @staticmethod
    def _check_room(space: Space, delta: int) -> None:
        if space.quota_bytes is not None and space.used_bytes + delta > space.quota_bytes:
            raise QuotaExceeded(
                "This space is full: its quota would be exceeded. Delete files, empty the "
                "trash or ask an administrator for a larger quota."
            )

    def _record_infected(
        self,
        actor: Principal,
        space_id: str,
        node_id: str | None,
        segments: list[str],
        signature: str,
    ) -> None:
        """The refused upload's audit entry, in its own transaction (the write has none)."""
        with self.db.write() as session:
            self._record(
                session,
                actor,
                AuditAction.ANTIVIRUS_INFECTED,
                {"space": space_id, "node": node_id},
                details={"signature": signature, "stored": False},
                path=join_path(segments),
            )

    def _store(
        self,
        source: Iterable[bytes],
        space_key: Secret,
        key_id: str,
        limit: int | None,
        *,
        external: bool = False,
    ) -> StoredContent:
        # Opened first: when clamd is down and the upload may not wait, nothing is read.
        scan = None if self.scanner is None else self.scanner.start(external=external)
        try:
            return self._store_scanned(source, space_key, key_id, limit, scan)
        finally:
            if scan is not None:
                scan.close()

    def _store_scanned(
        self,
        source: Iterable[bytes],
        space_key: Secret,
        key_id: str,
        limit: int | None,
        scan: ScanStream | None,
    ) -> StoredContent:
        blobs = self.ctx.blobs
        blob_key = blobs.new_key()
        dek = generate_key()
        segment_size = self.ctx.settings.segment_size
        wrapped_dek = wrap_dek(space_key, key_id, blob_key, dek)
        sealer = StreamSealer(dek, segment_size)
        digest = hashlib.sha256()
        sampler = self.detector.sampler() if self.detector is not None else None
        size = 0
        with blobs.create(blob_key) as writer:
            writer.write(sealer.header)
            for chunk in source:
                if not chunk:
                    continue
                size += len(chunk)
                if limit is not None and size > limit:
                    raise QuotaExceeded(
                        "This space is full: the file is larger than the room left in its "
                        "quota. Nothing was saved. Free space or ask for a larger quota."
                    )
                digest.update(chunk)
                if sampler is not None:
                    sampler.update(chunk)
                if scan is not None:
                    scan.update(chunk)
                for segment in sealer.update(chunk):
                    writer.write(segment)
            writer.write(sealer.finish())
            # A large upload that may wait is stored pending, its verdict settled
            # after the commit (ADR 29); any other waits for it here, before
            # the blob is published: an infected file never is.
            pending = None if scan is None or self.settle is None else scan.finish_later()
            verdict = None
            if pending is not None:
                verdict = ScanResult(ScanStatus.PENDING)
            elif scan is not None:
                verdict = scan.finish()
            if verdict is not None and verdict.status is ScanStatus.INFECTED:
                raise FileInfected(verdict.signature or "?")
            try:
                blob_size = writer.commit()
            except BaseException:
                if pending is not None:
                    pending.close()
                raise
        return StoredContent(
            blob_key=blob_key,
            blob_size=blob_size,
            size=size,
            sha256=digest.hexdigest(),
            segment_size=segment_size,
            wrapped_dek=wrapped_dek,
            key_id=key_id,
            dek=dek,
            fingerprint=None if self.detector is None else self.detector.fingerprint(sampler),
            scan=verdict,
            pending=pending,
        )

    def _commit(
        self,
        actor: Principal,
        space_id: str,
        segments: list[str],
        stored: StoredContent,
        *,
        if_match: str | None,
        if_none_match: bool,
        unique_name: bool = False,
        on_commit: OnCommit | None = None,
    ) -> VersionInfo:
        # Two attempts: on PostgreSQL a concurrent creation of the same name
        # surfaces as a unique violation; the retry then sees the file and adds
        # a version to it (or fails its precondition).
        for attempt in (1, 2):
            try:
                with self.db.write() as session:
                    return self._commit_in(
                        session,
                        actor,
                        space_id,
                        segments,
                        stored,
                        if_match=if_match,
                        if_none_match=if_none_match,
                        unique_name=unique_name,
                        on_commit=on_commit,
                    )
            except sa_exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _commit_in(
        self,
        session: Session,
        actor: Principal,
        space_id: str,
        segments: list[str],
        stored: StoredContent,
        *,
        if_match: str | None,
        if_none_match: bool,
        unique_name: bool = False,
        on_commit: OnCommit | None = None,
    ) -> VersionInfo:
        now = self.clock.now()
        space = self._locked_space(session, space_id)
        # Contained while the body streamed (another session of the same user).
        check_contained(self.detector, session, actor, Action.FILE_WRITE.value)
        rewrapped = self._rewrap_if_stale(
            session, space, stored.key_id, stored.blob_key, stored.dek
        )
        if rewrapped is not None:
            stored = replace(stored, key_id=rewrapped[0], wrapped_dek=rewrapped[1])
        # Re-check everything: the tree or the grants may have changed while the
        # body was streaming.
        parent, _, role = self._target(session, actor, space, segments)
        node = self.tree.child(session, space, parent.id, segments[-1], for_update=True)
        if unique_name and node is not None:
            segments = [*segments[:-1], self._free_name(session, space, parent.id, segments[-1])]
            node = None
        if node is not None and node.kind != FILE:
            raise NotAFile("A folder already has this name. Choose another file name.")
        self._check_preconditions(node, if_match, if_none_match)
        content = Content(
            id=new_id(),
            space_id=space.id,
            blob_key=stored.blob_key,
            size=stored.size,
            blob_size=stored.blob_size,
            segment_size=stored.segment_size,
            sha256=stored.sha256,
            wrapped_dek=stored.wrapped_dek,
            dek_key_id=stored.key_id,
            created_at=now,
            scan_status=str(ScanStatus.UNSCANNED if stored.scan is None else stored.scan.status),
            scan_signature=None if stored.scan is None else stored.scan.signature,
            scanned_at=None if stored.scan is None or stored.scan.db_version is None else now,
            scan_db_version=None if stored.scan is None else stored.scan.db_version,
        )
        session.add(content)
        old_size = 0
        number = 1
        created = node is None
        previous_content_id: str | None = None
        if node is None:
            node = self.tree.add_node(
                session, space, parent, segments[-1], kind=FILE, created_by=actor.user_id, now=now
            )
        elif node.current_version_id is not None:
            previous = session.get(Version, node.current_version_id)
            if previous is not None:
                previous.superseded_at = now
                old_size = previous.size
                previous_content_id = previous.content_id
            number = next_version_number(session, node.id)
        version = Version(
            id=new_id(),
            node_id=node.id,
            number=number,
            content_id=content.id,
            size=stored.size,
            created_at=now,
            created_by=actor.user_id,
            retain_days=self.ctx.settings.protection_days,
        )
        session.add(version)
        node.current_version_id = version.id
        node.updated_at = now
        session.flush()
        if self.detector is not None:
            self.detector.on_write(
                session,
                actor,
                WrittenVersion(
                    space_id=space.id,
                    node_id=node.id,
                    parent_id=parent.id,
                    version_id=version.id,
                    content_id=content.id,
                    name=segments[-1],
                    size=stored.size,
                    sha256=stored.sha256,
                    created=created,
                    previous_content_id=previous_content_id,
                ),
                stored.fingerprint,
                read_previous=lambda limit: self._head_of(session, previous_content_id, limit),
            )
        self._charge(session, space.id, stored.size - old_size)
        # The event commits or rolls back with the version (issue 4).
        self._record(
            session,
            actor,
            AuditAction.FILE_WRITE,
            {"space": space.id, "node": node.id, "version": version.id},
            details={"number": number, "size": stored.size},
            path=join_path(segments),
            role=role,
        )
        if on_commit is not None:
            on_commit(session, node, version)
        return _version_info(version, content, is_current=True)

    def _free_name(self, session: Session, space: Space, parent_id: str, name: str) -> str:
        """`name` numbered "name (2).ext", "name (3).ext"... until no node of `parent_id`
        has it (file or folder)."""
        number = 2
        while True:
            candidate = numbered_name(name, number)
            if self.tree.child(session, space, parent_id, candidate) is None:
                return candidate
            number += 1

    def _head_of(self, session: Session, content_id: str | None, limit: int) -> bytes:
        """The first `limit` plaintext bytes of a stored content (bounded; for the
        ransomware comparison of a version written before detection existed)."""
        content = session.get(Content, content_id or "")
        if content is None:
            return b""
        space_key = self.ctx.keyring.key(session, content.dek_key_id)
        dek = unwrap_dek(space_key, content.dek_key_id, content.blob_key, content.wrapped_dek)
        with self.ctx.blobs.open(content.blob_key) as reader:
            opener = StreamOpener(dek, reader, expected_blob_size=content.blob_size)
            return b"".join(opener.iter_plaintext(0, min(limit, content.size)))

    # Read --------------------------------------------------------------------

    @records_denials
    def open(
        self,
        actor: Principal,
        slug: str,
        path: str,
        *,
        version_id: str | None = None,
        record: bool = True,
    ) -> FileDownload:
        """Authorise a read of the current (or a given) version of a file.

        The read is an audit event committed before any byte is released: if
        it cannot be recorded, nothing is read. Every range read of one
        request goes through one `open`, so it counts once. `record=False` is
        for a door that sends headers only (HEAD), never content.
        """
        with self.db.write() as session:
            check_contained(self.detector, session, actor, Action.FILE_READ.value)
            space = self._space(session, slug)
            segments = split_path(path)
            node, role = self._locate_with_role(session, actor, space, segments, Action.FILE_READ)
            if node.kind != FILE:
                raise NotAFile("This is a folder; list it instead of downloading it.")
            version = session.get(Version, version_id or node.current_version_id or "")
            if version is None or version.node_id != node.id:
                raise not_found()
            content = session.get(Content, version.content_id)
            if content is None:  # pragma: no cover - foreign key
                raise not_found()
            if record:
                self._record(
                    session,
                    actor,
                    AuditAction.FILE_READ,
                    {"space": space.id, "node": node.id, "version": version.id},
                    details={"size": content.size},
                    path=join_path(segments),
                    role=role,
                )
            return FileDownload.of(
                self.ctx,
                session,
                version,
                content,
                self.tree.name_of(session, node),
                reader=actor.user_id,
            )

    # Versions ----------------------------------------------------------------

    @records_denials
    def versions(self, actor: Principal, slug: str, path: str) -> list[VersionInfo]:
        with self.db.read() as session:
            space = self._space(session, slug)
            node = self._locate(session, actor, space, split_path(path), Action.VERSION_LIST)
            if node.kind != FILE:
                raise NotAFile("Folders have no versions; give a file path.")
            rows = session.execute(
                select(Version, Content)
                .join(Content, Content.id == Version.content_id)
                .where(Version.node_id == node.id)
                .order_by(Version.number.desc())
            ).all()
            return [
                _version_info(v, c, is_current=v.id == node.current_version_id) for v, c in rows
            ]

    @records_denials
    def restore_version(
        self, actor: Principal, slug: str, path: str, version_id: str
    ) -> VersionInfo:
        """Make an old version current again, as a new version sharing its content."""
        with self.db.write() as session:
            check_contained(self.detector, session, actor, Action.VERSION_RESTORE.value)
            now = self.clock.now()
            space = self._space(session, slug)
            segments = split_path(path)
            node, role = self._locate_with_role(
                session, actor, space, segments, Action.VERSION_RESTORE
            )
            if node.kind != FILE:
                raise NotAFile("Folders have no versions; give a file path.")
            old = session.get(Version, version_id)
            if old is None or old.node_id != node.id:
                raise not_found()
            content = session.get(Content, old.content_id)
            if content is None:  # pragma: no cover - foreign key
                raise not_found()
            previous = session.get(Version, node.current_version_id or "")
            if previous is not None:
                previous.superseded_at = now
            version = Version(
                id=new_id(),
                node_id=node.id,
                number=next_version_number(session, node.id),
                content_id=old.content_id,
                size=old.size,
                created_at=now,
                created_by=actor.user_id,
                retain_days=self.ctx.settings.protection_days,
                restored_from=old.id,
            )
            session.add(version)
            node.current_version_id = version.id
            node.updated_at = now
            session.flush()
            self._charge(session, space.id, old.size - (previous.size if previous else 0))
            self._record(
                session,
                actor,
                AuditAction.VERSION_RESTORE,
                {"space": space.id, "node": node.id, "version": version.id},
                details={"restored_from": old.id, "number": version.number},
                path=join_path(segments),
                role=role,
            )
            return _version_info(version, content, is_current=True)


#: What `FileService.write` calls in the transaction of a new version: (session, node, version).
OnCommit = Callable[[Session, Node, Version], None]


def numbered_name(name: str, number: int) -> str:
    """ "report.pdf", 2 -> "report (2).pdf"; the stem is cut to keep within 255 bytes."""
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a name starting with its only dot
        stem, dot, ext = name, "", ""
    tail = f" ({number}){dot}{ext}"
    room = MAX_NAME_BYTES - len(tail.encode("utf-8"))
    stem = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", "ignore")
    return stem + tail


def next_version_number(session: Session, node_id: str) -> int:
    # Called with the node row locked (FOR UPDATE / the SQLite write lock), so
    # two writers cannot take the same number; the unique constraint backs it.
    highest = session.scalar(select(func.max(Version.number)).where(Version.node_id == node_id))
    return (highest or 0) + 1


def _version_info(version: Version, content: Content, *, is_current: bool) -> VersionInfo:
    return VersionInfo(
        id=version.id,
        node_id=version.node_id,
        number=version.number,
        size=version.size,
        sha256=content.sha256,
        created_at=version.created_at,
        created_by=version.created_by,
        is_current=is_current,
        restored_from=version.restored_from,
        scan=content.scan_status,
    )
