"""Scanning on the write path and the read gate of held contents (docs/antivirus.md).

`Scanner.start` opens an INSTREAM conversation with clamd before the body
streams; the write path feeds it the same chunks it encrypts and asks for
the verdict after the last one, before the version becomes visible. The
`ScanResult` becomes the content's scan state:

- clean: readable as any file;
- infected: the write path refuses the file (nothing stored); a rescan marks
  an existing content infected, readable by nobody;
- pending (clamd unreachable) and too_large (over `antivirus_max_bytes`,
  clamd's StreamMaxLength, never called clean): *held*, readable by their
  uploader only until a rescan passes; refused instead for uploads through
  external links, and for every upload when `antivirus_unreachable=refuse`;
- unscanned: written while scanning was off, or before it existed: readable
  (docs/adr/0023-antivirus-on-the-write-path.md), scanned by rescans.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.antivirus.clamd import (
    ClamdClient,
    ClamdUnavailable,
    InstreamScan,
    Outcome,
    database_version,
)
from egide.core.config import Settings
from egide.core.db.models import Content, Version
from egide.services.antivirus.errors import (
    FileAwaitingScan,
    FileQuarantined,
    ScannerUnavailable,
    TooLargeToScan,
)

log = logging.getLogger("egide.antivirus")

#: Seconds a VERSION answer is reused by the write path.
_VERSION_TTL: Final = 60.0


class ScanStatus(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    PENDING = "pending"
    TOO_LARGE = "too_large"
    UNSCANNED = "unscanned"


#: States readable by the uploader only.
HELD: Final = frozenset({ScanStatus.PENDING, ScanStatus.TOO_LARGE})


@dataclass(frozen=True)
class ScanResult:
    status: ScanStatus
    signature: str | None = None
    #: clamd's signature database version when it gave a verdict.
    db_version: str | None = None


class Scanner:
    """clamd and the settings that say what its verdicts (and silence) mean."""

    def __init__(
        self,
        client: ClamdClient,
        *,
        max_bytes: int,
        unreachable: str = "hold",
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.refuse_when_unreachable = unreachable == "refuse"
        self._version: tuple[float, str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Scanner | None:
        if not settings.clamd_address:
            return None
        return cls(
            ClamdClient(
                settings.clamd_address,
                connect_timeout=settings.antivirus_connect_timeout_seconds,
                timeout=settings.antivirus_timeout_seconds,
            ),
            max_bytes=settings.antivirus_max_bytes,
            unreachable=settings.antivirus_unreachable,
        )

    def db_version(self, *, fresh: bool = False) -> str | None:
        """clamd's signature database version (cached a minute); None when unreachable."""
        now = time.monotonic()
        with self._lock:
            if not fresh and self._version is not None and now - self._version[0] < _VERSION_TTL:
                return self._version[1]
        try:
            version = database_version(self.client.version())
        except ClamdUnavailable:
            return None
        with self._lock:
            self._version = (now, version)
        return version

    def start(self, *, external: bool) -> ScanStream:
        """A scan for one upload; `external`: through a link (never held)."""
        return ScanStream(self, external=external)


class ScanStream:
    """Fed chunk by chunk as the body streams; `finish` gives the verdict once.

    Raises (before or while the body streams, or at the end) when the upload
    may not be held: ScannerUnavailable or TooLargeToScan."""

    def __init__(self, scanner: Scanner, *, external: bool) -> None:
        self.scanner = scanner
        self.may_hold = not external and not scanner.refuse_when_unreachable
        self._fed = 0
        self._truncated = False
        self._scan: InstreamScan | None = None
        try:
            self._scan = scanner.client.instream()
        except ClamdUnavailable as exc:
            self._unreachable(exc)

    def _unreachable(self, exc: ClamdUnavailable) -> None:
        self.close()
        log.warning("clamd unreachable", extra={"egide": {"detail": str(exc)}})
        if not self.may_hold:
            raise ScannerUnavailable() from exc

    def update(self, chunk: bytes) -> None:
        if self._scan is None or self._truncated:
            return
        room = self.scanner.max_bytes - self._fed
        if len(chunk) > room:
            # Never send more than clamd's StreamMaxLength: it would end the stream.
            self._truncated = True
            chunk = chunk[:room]
        self._fed += len(chunk)
        try:
            self._scan.feed(chunk)
        except ClamdUnavailable as exc:
            self._unreachable(exc)

    def finish(self) -> ScanResult:
        scan, self._scan = self._scan, None
        if scan is None:
            return ScanResult(ScanStatus.PENDING)
        try:
            verdict = scan.finish()
        except ClamdUnavailable as exc:
            self._unreachable(exc)
            return ScanResult(ScanStatus.PENDING)
        version = self.scanner.db_version()
        if verdict.outcome is Outcome.INFECTED:
            # Found in what was sent: infected, even if the file was longer.
            return ScanResult(ScanStatus.INFECTED, verdict.signature, version)
        if verdict.outcome is Outcome.TOO_LARGE or self._truncated:
            if not self.may_hold:
                raise TooLargeToScan(self.scanner.max_bytes)
            return ScanResult(ScanStatus.TOO_LARGE, None, version)
        return ScanResult(ScanStatus.CLEAN, None, version)

    def close(self) -> None:
        if self._scan is not None:
            self._scan.close()
            self._scan = None


def uploader_of(session: Session, content_id: str) -> str | None:
    """Who wrote a content: the author of its first version (later versions
    sharing it are restores and copies, whose authors did not upload it)."""
    return session.scalar(
        select(Version.created_by)
        .where(Version.content_id == content_id)
        .order_by(Version.created_at, Version.number)
        .limit(1)
    )


def check_readable(session: Session, content: Content, reader: str | None) -> None:
    """The read gate of every door: infected is read by nobody, held by its
    uploader only (`reader`: the reading user's id; None for an outside door)."""
    status = content.scan_status
    if status == ScanStatus.INFECTED:
        raise FileQuarantined(content.scan_signature or "?")
    if status in HELD and (reader is None or reader != uploader_of(session, content.id)):
        raise FileAwaitingScan(status)
