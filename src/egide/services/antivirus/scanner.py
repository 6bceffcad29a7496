"""Scanning on the write path and the read gate of held contents (docs/antivirus.md).

`Scanner.start` opens an INSTREAM conversation with clamd before the body
streams; the write path feeds it the same chunks it encrypts and ends the
stream after the last one. clamd scans only then (it has no incremental
scan), so the verdict of a large file comes seconds after its last byte
(docs/adr/0029-verdicts-of-large-uploads-after-the-answer.md):

- up to `antivirus_wait_max_bytes`, the write path waits for the verdict
  before the version becomes visible (an infected file is refused);
- above, when the upload may be held, the version is committed *pending*
  (readable by its uploader only) and the verdict of the same scan is read
  by a background thread (`PendingVerdict`, settled by the antivirus
  service), which releases or quarantines the content.

The `ScanResult` becomes the content's scan state:

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.antivirus.clamd import (
    ClamdClient,
    ClamdUnavailable,
    InstreamScan,
    Outcome,
    QueuedFeed,
    Verdict,
    database_version,
)
from egide.core.config import Settings
from egide.core.db.models import Content, Version
from egide.services.access.policy import Principal
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
        wait_max_bytes: int | None = None,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        #: Larger uploads that may be held get their verdict after the answer.
        self.wait_max_bytes = max_bytes if wait_max_bytes is None else wait_max_bytes
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
            wait_max_bytes=settings.antivirus_wait_max_bytes,
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
        self._feed: QueuedFeed | None = None
        try:
            self._scan = scanner.client.instream()
        except ClamdUnavailable as exc:
            self._unreachable(exc)
        else:
            # Sent by a thread of its own: clamd's intake runs beside the encryption.
            self._feed = QueuedFeed(self._scan)

    def _unreachable(self, exc: ClamdUnavailable) -> None:
        self.close()
        log.warning("clamd unreachable", extra={"egide": {"detail": str(exc)}})
        if not self.may_hold:
            raise ScannerUnavailable() from exc

    def update(self, chunk: bytes) -> None:
        if self._feed is None or self._truncated:
            return
        room = self.scanner.max_bytes - self._fed
        if len(chunk) > room:
            # Never send more than clamd's StreamMaxLength: it would end the stream.
            self._truncated = True
            chunk = chunk[:room]
        self._fed += len(chunk)
        try:
            self._feed.put(chunk)
        except ClamdUnavailable as exc:
            self._unreachable(exc)

    def _sent(self) -> InstreamScan | None:
        """The scan once every chunk is sent (None: unreachable, and may hold)."""
        scan, feed = self._scan, self._feed
        self._scan, self._feed = None, None
        if scan is None or feed is None:
            return None
        try:
            feed.drain()
        except ClamdUnavailable as exc:
            scan.close()
            self._unreachable(exc)
            return None
        return scan

    def finish(self) -> ScanResult:
        """End the stream and wait for the verdict."""
        scan = self._sent()
        if scan is None:
            return ScanResult(ScanStatus.PENDING)
        try:
            verdict = scan.finish()
        except ClamdUnavailable as exc:
            self._unreachable(exc)
            return ScanResult(ScanStatus.PENDING)
        return _result(self.scanner, verdict, truncated=self._truncated, may_hold=self.may_hold)

    def finish_later(self) -> PendingVerdict | None:
        """End the stream and, when this upload may be held and is larger than
        `antivirus_wait_max_bytes`, hand its verdict over instead of waiting
        for it (the caller then stores the content pending). None: call `finish`."""
        if self._scan is None or not self.may_hold or self._fed <= self.scanner.wait_max_bytes:
            return None
        scan = self._sent()
        if scan is None:
            return None
        try:
            scan.end()
        except ClamdUnavailable as exc:
            self._unreachable(exc)
            return None
        return PendingVerdict(self.scanner, scan, truncated=self._truncated)

    def close(self) -> None:
        feed, scan = self._feed, self._scan
        self._feed, self._scan = None, None
        if feed is not None:
            feed.close()
        if scan is not None:
            scan.close()


#: Who settles a pending verdict: (the uploader, the version committed, its verdict).
SettleVerdict = Callable[[Principal, str, "PendingVerdict"], None]


class PendingVerdict:
    """The verdict of an upload whose stream has ended, read later (a thread of
    the antivirus service): the same scan, nothing sent to clamd again."""

    def __init__(self, scanner: Scanner, scan: InstreamScan, *, truncated: bool) -> None:
        self.scanner = scanner
        self._scan = scan
        self._truncated = truncated

    def result(self) -> ScanResult:
        """Wait for clamd's answer; PENDING (left to the rescans) when it fails."""
        try:
            verdict = self._scan.verdict()
        except ClamdUnavailable as exc:
            log.warning("clamd unreachable", extra={"egide": {"detail": str(exc)}})
            return ScanResult(ScanStatus.PENDING)
        return _result(self.scanner, verdict, truncated=self._truncated, may_hold=True)

    def close(self) -> None:
        """Abandon the scan (the upload was not committed)."""
        self._scan.close()


def _result(scanner: Scanner, verdict: Verdict, *, truncated: bool, may_hold: bool) -> ScanResult:
    version = scanner.db_version()
    if verdict.outcome is Outcome.INFECTED:
        # Found in what was sent: infected, even if the file was longer.
        return ScanResult(ScanStatus.INFECTED, verdict.signature, version)
    if verdict.outcome is Outcome.TOO_LARGE or truncated:
        if not may_hold:
            raise TooLargeToScan(scanner.max_bytes)
        return ScanResult(ScanStatus.TOO_LARGE, None, version)
    return ScanResult(ScanStatus.CLEAN, None, version)


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
