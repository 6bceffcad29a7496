"""Resumable uploads (tus 1.0.0): received bytes kept encrypted, completed by the write path.

An upload names its target (space and path) at creation, where the caller's
right to write it and the quota are checked before any byte is stored. Each
body received (a PATCH, or the body of a creation-with-upload) is sealed
into a NEW part blob, EGS1 under a fresh data key wrapped by the space key,
so partial data is encrypted at rest exactly like contents. The offset
advances by one conditional UPDATE (`WHERE offset = :expected`): the loser
of a race deletes its blob and gets OffsetMismatch.

When the offset reaches the length, the parts are decrypted in order and
fed to `FileService.write`, the same path as `PUT content` (quota,
versions, fsync, atomic commit); then the parts are deleted. If that write
fails, its error is raised and the parts stay, so the upload can be
completed again (an empty PATCH at the final offset) or terminated.

An upload expires `UPLOAD_LIFETIME` (24 hours, a constant) after its
creation; it then answers UploadExpired (a NotFound) and `egide gc` deletes
it with its part blobs. Only its owner may see, extend or terminate an
upload; anyone else gets the same NotFound as for a missing one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from egide.core.crypto.egs1 import StreamOpener, StreamSealer
from egide.core.crypto.errors import BLOB_REJECTED, IntegrityError
from egide.core.crypto.keys import generate_key, unwrap_dek, wrap_dek
from egide.core.db.base import new_id
from egide.core.db.models import Space, Upload, UploadPart
from egide.core.errors import EgideError, InvalidInput
from egide.core.types import Secret
from egide.services.access.errors import ActionForbidden, ScopeMissing
from egide.services.access.policy import Action, Principal, Scope
from egide.services.antivirus.errors import FileInfected
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import check_contained
from egide.services.uploads.errors import (
    BeyondLength,
    ChecksumMismatch,
    InvalidChecksum,
    OffsetMismatch,
    UploadExpired,
)
from egide.services.vault.base import VaultContext, VaultServiceBase, not_found
from egide.services.vault.files import FileService
from egide.services.vault.names import join_path, split_path
from egide.services.vault.types import VersionInfo

#: How long an unfinished upload is kept after its creation (tus expiration extension).
UPLOAD_LIFETIME = dt.timedelta(hours=24)

CHECKSUM_ALGORITHMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}

_KEPT = (
    " The bytes received are kept: complete the upload again once this is fixed, or terminate it."
)


@dataclass(frozen=True)
class Checksum:
    """An `Upload-Checksum` value: the algorithm and the expected digest of one body."""

    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> Checksum:
        name, _, value = header.strip().partition(" ")
        factory = CHECKSUM_ALGORITHMS.get(name)
        if factory is None:
            raise InvalidChecksum(
                "The checksum algorithm {name} is not supported; use sha1 or sha256.",
                name=name[:32],
                field="Upload-Checksum",
            )
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != factory().digest_size:
            raise InvalidChecksum(
                "Upload-Checksum must be the algorithm, a space and the base64 digest.",
                field="Upload-Checksum",
            )
        return cls(name, digest)


@dataclass(frozen=True)
class UploadInfo:
    id: str
    length: int
    offset: int
    expires_at: dt.datetime
    completed: bool
    #: The version written, on the call that completed the upload.
    version: VersionInfo | None = None


@dataclass(frozen=True)
class _StoredPart:
    blob_key: str
    blob_size: int
    size: int
    wrapped_dek: bytes
    key_id: str
    #: Kept in memory until the commit, to re-wrap if the space key changed meanwhile.
    dek: Secret = field(repr=False)


@dataclass(frozen=True)
class _PartToRead:
    blob_key: str
    blob_size: int
    size: int
    dek: Secret = field(repr=False)


class UploadService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, files: FileService) -> None:
        super().__init__(ctx)
        self.files = files

    # Creation ----------------------------------------------------------------

    @records_denials
    def create(
        self,
        actor: Principal,
        slug: str,
        path: str,
        length: int,
        *,
        body: Iterable[bytes] | None = None,
        size_hint: int | None = None,
        checksum: Checksum | None = None,
    ) -> UploadInfo:
        """A new upload of `length` bytes to `path`, with its first bytes if `body` is given.

        The target is authorised (and the quota checked) before anything is
        stored. If the first body fails, the upload is removed again: the
        caller never learnt its id, so it could not resume it.
        """
        user_id = _writer(actor)
        if length < 0:
            raise InvalidInput("Upload-Length must be a whole number of bytes.")
        path = join_path(split_path(path))
        self.files.check_writable(actor, slug, path, size_hint=length)
        upload_id = new_id()
        now = self.clock.now()
        with self.db.write() as session:
            space = self._locked_space(session, self._space(session, slug).id)
            key_id = space.current_key_id
            session.add(
                Upload(
                    id=upload_id,
                    user_id=user_id,
                    space_id=space.id,
                    target_enc=self.ctx.keyring.names(session, key_id).seal(upload_id, path),
                    target_key_id=key_id,
                    length=length,
                    offset=0,
                    created_at=now,
                    expires_at=now + UPLOAD_LIFETIME,
                )
            )
            self._record(
                session,
                actor,
                AuditAction.UPLOAD_CREATE,
                {"space": space.id, "upload": upload_id},
                details={"length": length},
                path=path,
            )
        if body is None and length > 0:
            return self.status(actor, upload_id)
        try:
            return self.append(
                actor, upload_id, 0, body or (), size_hint=size_hint, checksum=checksum
            )
        except BaseException:
            self._remove(upload_id)
            raise

    # Status, termination -----------------------------------------------------

    @records_denials
    def status(self, actor: Principal, upload_id: str) -> UploadInfo:
        with self.db.read() as session:
            return _info(self._owned(session, actor, upload_id))

    @records_denials
    def terminate(self, actor: Principal, upload_id: str) -> None:
        """Delete an upload and every part received (tus termination); allowed once expired."""
        _writer(actor)
        with self.db.read() as session:
            space_id = self._owned(session, actor, upload_id, allow_expired=True).space_id
        self._remove(upload_id, terminated_by=actor, space_id=space_id)

    def _remove(
        self, upload_id: str, *, terminated_by: Principal | None = None, space_id: str | None = None
    ) -> None:
        with self.db.write() as session:
            if terminated_by is not None:
                self._record(
                    session,
                    terminated_by,
                    AuditAction.UPLOAD_TERMINATE,
                    {"space": space_id, "upload": upload_id},
                )
            keys = list(
                session.scalars(
                    select(UploadPart.blob_key).where(UploadPart.upload_id == upload_id)
                )
            )
            session.execute(delete(UploadPart).where(UploadPart.upload_id == upload_id))
            session.execute(delete(Upload).where(Upload.id == upload_id))
        for key in keys:
            self.ctx.blobs.delete(key)

    def _owned(
        self, session: Session, actor: Principal, upload_id: str, *, allow_expired: bool = False
    ) -> Upload:
        upload = session.get(Upload, upload_id)
        if upload is None or actor.user_id is None or upload.user_id != actor.user_id:
            raise not_found()
        if not allow_expired and upload.expires_at <= self.clock.now():
            raise UploadExpired(
                "This upload expired and its data is being deleted. Start a new upload."
            )
        return upload

    # Appending ---------------------------------------------------------------

    @records_denials
    def append(
        self,
        actor: Principal,
        upload_id: str,
        offset: int,
        body: Iterable[bytes],
        *,
        size_hint: int | None = None,
        checksum: Checksum | None = None,
    ) -> UploadInfo:
        """Keep `body` as the bytes at `offset`; complete the upload once all bytes are in.

        A body that ends early (a client that disconnected) is kept as far as
        it went, unless a checksum was given: then it cannot match and
        nothing is kept.
        """
        _writer(actor)
        with self.db.read() as session:
            check_contained(self.files.detector, session, actor, Action.FILE_WRITE.value)
            upload = self._owned(session, actor, upload_id)
            if upload.offset != offset:
                raise OffsetMismatch(
                    "Upload-Offset is {given} but the server holds {held} bytes of this "
                    "upload. Ask for the offset (HEAD) and resume from there.",
                    given=offset,
                    held=upload.offset,
                )
            if upload.completed_at is not None:
                return _info(upload)
            remaining = upload.length - upload.offset
            if size_hint is not None and size_hint > remaining:
                raise _beyond(remaining)
            space = session.get(Space, upload.space_id)
            if space is None:  # pragma: no cover - foreign key
                raise not_found()
            space_id = space.id
            key_id = space.current_key_id
            space_key = self.ctx.keyring.key(session, key_id)
        part = self._store_part(body, space_key, key_id, remaining, checksum)
        if part is not None:
            try:
                self._commit_part(upload_id, space_id, offset, part)
            except BaseException:
                self.ctx.blobs.delete(part.blob_key)
                raise
        if (part.size if part else 0) < remaining:
            return self.status(actor, upload_id)
        return self._complete(actor, upload_id)

    def _store_part(
        self,
        body: Iterable[bytes],
        space_key: Secret,
        key_id: str,
        limit: int,
        checksum: Checksum | None,
    ) -> _StoredPart | None:
        """Seal `body` into a new blob; None (nothing stored) for an empty body."""
        blobs = self.ctx.blobs
        blob_key = blobs.new_key()
        dek = generate_key()
        sealer = StreamSealer(dek, self.ctx.settings.segment_size)
        digest = CHECKSUM_ALGORITHMS[checksum.algorithm]() if checksum else None
        size = 0
        with blobs.create(blob_key) as writer:
            writer.write(sealer.header)
            for chunk in body:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise _beyond(limit)
                if digest is not None:
                    digest.update(chunk)
                for segment in sealer.update(chunk):
                    writer.write(segment)
            if checksum is not None and digest is not None and digest.digest() != checksum.digest:
                raise ChecksumMismatch(
                    "The body does not match its Upload-Checksum; nothing of it was kept. "
                    "Send it again from the same offset."
                )
            if size == 0:
                writer.abort()
                return None
            writer.write(sealer.finish())
            blob_size = writer.commit()
        return _StoredPart(
            blob_key=blob_key,
            blob_size=blob_size,
            size=size,
            wrapped_dek=wrap_dek(space_key, key_id, blob_key, dek),
            key_id=key_id,
            dek=dek,
        )

    def _commit_part(self, upload_id: str, space_id: str, offset: int, part: _StoredPart) -> None:
        with self.db.write() as session:
            # The space row first (as every writer locks it), then the upload row.
            part = self._current_key(session, space_id, part)
            moved = session.execute(
                update(Upload)
                .where(
                    Upload.id == upload_id,
                    Upload.offset == offset,
                    Upload.completed_at.is_(None),
                )
                .values(offset=offset + part.size)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount == 0:  # type: ignore[attr-defined]
                raise OffsetMismatch(
                    "Another request added bytes to this upload at the same offset. Ask for "
                    "the offset (HEAD) and resume from there."
                )
            last = session.scalar(
                select(func.max(UploadPart.seq)).where(UploadPart.upload_id == upload_id)
            )
            session.add(
                UploadPart(
                    upload_id=upload_id,
                    seq=(last or 0) + 1,
                    offset=offset,
                    size=part.size,
                    blob_key=part.blob_key,
                    blob_size=part.blob_size,
                    wrapped_dek=part.wrapped_dek,
                    dek_key_id=part.key_id,
                )
            )

    def _current_key(self, session: Session, space_id: str, part: _StoredPart) -> _StoredPart:
        """The part with its data key wrapped under the space's current key (locks the space)."""
        space = self._locked_space(session, space_id)
        rewrapped = self._rewrap_if_stale(session, space, part.key_id, part.blob_key, part.dek)
        if rewrapped is None:
            return part
        return replace(part, key_id=rewrapped[0], wrapped_dek=rewrapped[1])

    # Completion --------------------------------------------------------------

    def _complete(self, actor: Principal, upload_id: str) -> UploadInfo:
        with self.db.read() as session:
            upload = self._owned(session, actor, upload_id)
            if upload.completed_at is not None:
                return _info(upload)
            space = session.get(Space, upload.space_id)
            if space is None:  # pragma: no cover - foreign key
                raise not_found()
            slug = space.slug
            path = self.ctx.keyring.names(session, upload.target_key_id).open(
                upload.id, upload.target_enc
            )
            parts = [
                _PartToRead(
                    blob_key=p.blob_key,
                    blob_size=p.blob_size,
                    size=p.size,
                    dek=unwrap_dek(
                        self.ctx.keyring.key(session, p.dek_key_id),
                        p.dek_key_id,
                        p.blob_key,
                        p.wrapped_dek,
                    ),
                )
                for p in session.scalars(
                    select(UploadPart)
                    .where(UploadPart.upload_id == upload_id)
                    .order_by(UploadPart.seq)
                )
            ]
            length = upload.length
        try:
            version = self.files.write(actor, slug, path, self._plaintext(parts), size_hint=length)
        except FileInfected:
            # Nothing to complete again: the infected bytes received go too.
            self._remove(upload_id)
            raise
        except EgideError as exc:
            exc.message += _KEPT
            exc.args = (exc.render(),)
            raise
        now = self.clock.now()
        with self.db.write() as session:
            session.execute(delete(UploadPart).where(UploadPart.upload_id == upload_id))
            session.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(completed_at=now, version_id=version.id)
            )
            upload = self._owned(session, actor, upload_id)
            info = _info(upload)
        for part in parts:
            self.ctx.blobs.delete(part.blob_key)
        return UploadInfo(
            id=info.id,
            length=info.length,
            offset=info.offset,
            expires_at=info.expires_at,
            completed=True,
            version=version,
        )

    def _plaintext(self, parts: list[_PartToRead]) -> Iterator[bytes]:
        """The parts decrypted in order, each checked against its recorded sizes."""
        for part in parts:
            with self.ctx.blobs.open(part.blob_key) as reader:
                opener = StreamOpener(part.dek, reader, expected_blob_size=part.blob_size)
                if opener.plaintext_size != part.size:
                    raise IntegrityError(BLOB_REJECTED, problem="upload part of the wrong size")
                yield from opener.iter_plaintext()


def _writer(actor: Principal) -> str:
    """The user id of a caller allowed to upload (a user whose token allows files:write)."""
    if actor.user_id is None:
        raise ActionForbidden("Uploads belong to a user account; sign in as that user.").denied(
            Action.FILE_WRITE.value
        )
    if not actor.allows_scope(Scope.FILES_WRITE):
        raise ScopeMissing(Action.FILE_WRITE.value, Scope.FILES_WRITE.value).denied(
            Action.FILE_WRITE.value
        )
    return actor.user_id


def _beyond(remaining: int) -> BeyondLength:
    return BeyondLength(
        "This body would pass Upload-Length: {remaining} bytes are left to send. Nothing of "
        "it was kept.",
        remaining=remaining,
    )


def _info(upload: Upload) -> UploadInfo:
    return UploadInfo(
        id=upload.id,
        length=upload.length,
        offset=upload.offset,
        expires_at=upload.expires_at,
        completed=upload.completed_at is not None,
    )
