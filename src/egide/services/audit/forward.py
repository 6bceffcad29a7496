"""Forwarding the audit log to a syslog collector (issue 4 item 6): RFC 5424 over TCP or UDP.

Each sequenced entry becomes one RFC 5424 message: PRI (facility 13, "log
audit"; severity by outcome), the entry's own time, APP-NAME, MSGID `audit`,
structured data `[egide@32473 seq="..." origin="..." leaf_hash="..."]` and,
as MSG, a UTF-8 BOM followed by the **exact leaf bytes** (FORMATS.md 3), so a
SIEM can re-hash them (leaf hash = SHA-256(0x00 | bytes)) and check them
against a checkpoint. The leaf holds ids only: no personal context leaves
Égide this way. (32473 is the private enterprise number RFC 5612 reserves
for examples: Égide has none of its own.)

How far the collector got is a durable cursor, the `syslog` row of
`audit_cursors` (the next `seq` to send), moved forward only after a batch
was delivered:

- TCP (octet-counting framing, RFC 6587 3.4.1): a batch is sent on a fresh
  connection, which is then half-closed; the batch counts as delivered only
  when the collector closes its side in turn (it read everything: a peer
  that closes with unread data resets the connection instead). Anything
  less (refused, reset, timeout) leaves the cursor where it was and the
  whole batch is sent again later. So: **at least once, in `seq` order,
  nothing skipped**; a crash or a failure between delivery and the cursor's
  update resends at most one batch, and every message carries its `seq` so
  the collector can drop the duplicates.
- UDP (RFC 5426): a datagram per entry, the cursor moved once the datagrams
  left; a collector that is down or a lost datagram is never noticed:
  **at most once**, so use TCP where nothing may be missed.

One forwarder at a time: on PostgreSQL a transaction-level advisory lock
(another process skips its turn); on SQLite (one server) two forwarders
(the server and `egide audit forward`) may both send a batch, never skip
one: the cursor only moves from the value each read (compare and set).

Entries already moved to an archive bundle by retention before they were
forwarded cannot be sent from the live log: the gap is logged (sizes only)
and forwarding goes on after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from egide.core.audit import merkle
from egide.core.db import Database
from egide.core.db.base import utcnow
from egide.core.db.models import AuditCursor, AuditLeaf
from egide.core.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from egide.core.config import Settings

log = logging.getLogger("egide.audit")

CURSOR: Final = "syslog"
#: Entries per batch: one TCP connection, one cursor update.
BATCH: Final = 500
#: The PostgreSQL advisory lock key of forwarding: "EgideFwd" as a big-endian int64.
FORWARD_LOCK: Final = int.from_bytes(b"EgideFwd", "big")
#: RFC 5424 6.3.2: an SD-ID of our own needs an enterprise number (RFC 5612's example one).
SD_ID: Final = "egide@32473"
#: RFC 5424 table 1: facility 13 is "log audit".
FACILITY: Final = 13
#: RFC 5424 table 2: informational, warning, error.
SEVERITY: Final = {"allowed": 6, "denied": 4, "error": 3}
#: Seconds allowed to connect, to send and to see the collector close.
TIMEOUT: Final = 5.0
#: Back-off after a failure: doubled each time, from the first to the last value.
BACKOFF: Final = (1.0, 60.0)
_BOM: Final = b"\xef\xbb\xbf"
_TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_PRINTABLE: Final = re.compile(r"[!-~]+")


class InvalidSyslogUrl(InvalidInput):
    code = "audit-invalid-syslog-url"


class NoSyslogCollector(InvalidInput):
    code = "audit-no-syslog-collector"


class CollectorUnavailable(Unavailable):
    code = "audit-syslog-unavailable"


@dataclass(frozen=True)
class Collector:
    """Where messages go: `tcp://host:port` or `udp://host:port`."""

    transport: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Collector:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in {"tcp", "udp"} or not parts.hostname or not port:
            raise InvalidSyslogUrl(
                "EGIDE_AUDIT_SYSLOG_URL must read tcp://host:port or udp://host:port "
                "(a port from 1 to 65535), for example tcp://siem.example:6514.",
                field="audit_syslog_url",
            )
        return cls(parts.scheme, parts.hostname, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}"


def message(seq: int, leaf: bytes, *, app_name: str, hostname: str, origin: str) -> bytes:
    """The RFC 5424 message of one entry: its leaf bytes, untouched, after a BOM."""
    try:
        fields = json.loads(leaf)
    except ValueError:
        fields = {}
    stamp = fields.get("time") if isinstance(fields, dict) else None
    outcome = fields.get("outcome") if isinstance(fields, dict) else None
    timestamp = stamp if isinstance(stamp, str) and _TIMESTAMP.fullmatch(stamp) else "-"
    pri = FACILITY * 8 + SEVERITY.get(outcome if isinstance(outcome, str) else "", 6)
    structured = (
        f'[{SD_ID} seq="{seq}" origin="{_sd_escape(origin)}" '
        f'leaf_hash="{merkle.leaf_hash(leaf).hex()}"]'
    )
    header = f"<{pri}>1 {timestamp} {hostname} {app_name} - audit {structured} "
    return header.encode("utf-8") + _BOM + leaf


def _sd_escape(value: str) -> str:
    """RFC 5424 6.3.3: `"`, `\\` and `]` are escaped inside a PARAM-VALUE."""
    return re.sub(r'(["\\\]])', r"\\\1", value)


def local_hostname() -> str:
    """The HOSTNAME field: this host's name in printable ASCII, or NILVALUE."""
    name = socket.gethostname()
    return name[:255] if _PRINTABLE.fullmatch(name or "") else "-"


class _SendFailed(Exception):
    """Sending stopped: `delivered` messages (from the first) are known to have left."""

    def __init__(self, delivered: int, cause: OSError) -> None:
        super().__init__(str(cause))
        self.delivered = delivered
        self.cause = cause


def _send_tcp(collector: Collector, messages: Sequence[bytes], timeout: float) -> int:
    """Send a batch on one connection; delivered only once the collector closed its side."""
    try:
        with socket.create_connection((collector.host, collector.port), timeout=timeout) as sock:
            for payload in messages:
                # RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG.
                sock.sendall(f"{len(payload)} ".encode() + payload)
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            while sock.recv(4096):  # a collector says nothing; read to its close
                if time.monotonic() > deadline:
                    raise TimeoutError("the collector did not close the connection")
    except OSError as exc:
        raise _SendFailed(0, exc) from exc
    return len(messages)


def _send_udp(collector: Collector, messages: Sequence[bytes], timeout: float) -> int:
    """One datagram per message (RFC 5426); nothing tells whether one arrived."""
    sent = 0
    try:
        address = socket.getaddrinfo(collector.host, collector.port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(address[0], socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            for payload in messages:
                sock.sendto(payload, address[4])
                sent += 1
    except OSError as exc:
        raise _SendFailed(sent, exc) from exc
    return sent


class SyslogForwarder:
    """Sends the sequenced entries the collector has not had yet, batch by batch."""

    def __init__(
        self,
        db: Database,
        collector: Collector,
        *,
        origin: str,
        app_name: str = "egide",
        hostname: str | None = None,
        batch: int = BATCH,
        timeout: float = TIMEOUT,
    ) -> None:
        if batch < 1:
            raise ValueError("a batch holds at least one entry")
        self.db = db
        self.collector = collector
        self.origin = origin
        self.app_name = app_name
        self.hostname = local_hostname() if hostname is None else hostname
        self.batch = batch
        self.timeout = timeout
        self._backoff = 0.0
        self._retry_at = 0.0

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> SyslogForwarder | None:
        """The forwarder the settings ask for; None when `audit_syslog_url` is unset."""
        if settings.audit_syslog_url is None:
            return None
        return cls(
            db,
            Collector.parse(settings.audit_syslog_url),
            origin=settings.resolved_audit_origin,
            app_name=settings.audit_syslog_app_name,
        )

    @property
    def retry_in(self) -> float:
        """Seconds before `run_once` tries the collector again (0: at the next call)."""
        return max(0.0, self._retry_at - time.monotonic())

    def next_seq(self) -> int:
        """The durable cursor: the first entry the collector has not had."""
        with self.db.read() as session:
            return _cursor(session)

    def run_once(self) -> int:
        """One batch for the worker loop, unless backing off; never raises for the collector.

        A failure is logged (the collector's address and the cursor, no entry
        content) and the next try waits 1, 2, 4 ... up to 60 seconds.
        """
        if time.monotonic() < self._retry_at:
            return 0
        try:
            sent = self.forward_batch()
        except CollectorUnavailable as exc:
            self._backoff = min(BACKOFF[1], max(BACKOFF[0], self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
            fields = {
                "code": exc.code,
                "detail": exc.render(),
                "retry_in": self._backoff,
            }
            log.warning("audit syslog forwarding failed", extra={"egide": fields})
            return 0
        if self._backoff:
            log.info(
                "audit syslog forwarding resumed",
                extra={"egide": {"collector": str(self.collector), "sent": sent}},
            )
        self._backoff = self._retry_at = 0.0
        return sent

    def forward_pending(self, max_batches: int = 1_000_000) -> int:
        """Send batches until the collector has everything sequenced now; return how many.

        Raises `CollectorUnavailable` at the first failure (what was delivered stays so).
        """
        total = 0
        for _ in range(max_batches):
            sent = self.forward_batch()
            total += sent
            if sent < self.batch:
                break
        return total

    def forward_batch(self) -> int:
        """Send the next batch and move the cursor past what was delivered; return how many."""
        with self._turn() as mine:
            if not mine:
                return 0
            with self.db.read() as session:
                start = _cursor(session)
                rows = session.execute(
                    select(AuditLeaf.seq, AuditLeaf.leaf)
                    .where(AuditLeaf.seq >= start)
                    .order_by(AuditLeaf.seq)
                    .limit(self.batch)
                ).all()
            if not rows:
                return 0
            first = int(rows[0].seq)
            if first != start:
                log.warning(
                    "audit entries archived before they were forwarded",
                    extra={"egide": {"first": start, "end": first}},
                )
            leaves = _contiguous(first, [(int(seq), bytes(leaf)) for seq, leaf in rows])
            payloads = [
                message(
                    seq,
                    leaf,
                    app_name=self.app_name,
                    hostname=self.hostname,
                    origin=self.origin,
                )
                for seq, leaf in leaves
            ]
            send = _send_tcp if self.collector.transport == "tcp" else _send_udp
            try:
                delivered = send(self.collector, payloads, self.timeout)
            except _SendFailed as failed:
                if failed.delivered or first != start:
                    self._advance(start, first + failed.delivered)
                raise CollectorUnavailable(
                    "The syslog collector {collector} cannot be reached or did not take the "
                    "audit entries ({reason}). Entries from {seq} on are kept and sent again "
                    "once it answers; check that it runs and listens there.",
                    collector=str(self.collector),
                    reason=failed.cause.strerror or type(failed.cause).__name__,
                    seq=first + failed.delivered,
                ) from failed.cause
            self._advance(start, first + delivered)
            return delivered

    @contextlib.contextmanager
    def _turn(self) -> Iterator[bool]:
        """Whether this forwarder may send now: PostgreSQL's try-lock; always on SQLite."""
        if self.db.is_sqlite:
            yield True
            return
        with self.db.write() as session:
            mine = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FORWARD_LOCK}
            ).scalar_one()
            yield bool(mine)

    def _advance(self, expected: int, next_seq: int) -> None:
        """Compare and set: move the cursor from `expected` only (another forwarder may have)."""
        with self.db.write() as session:
            row = session.get(AuditCursor, CURSOR)
            if row is None:
                session.add(AuditCursor(name=CURSOR, next_seq=next_seq, updated_at=utcnow()))
            elif row.next_seq == expected:
                row.next_seq = next_seq
                row.updated_at = utcnow()


def _cursor(session: Session) -> int:
    value = session.execute(
        select(AuditCursor.next_seq).where(AuditCursor.name == CURSOR)
    ).scalar_one_or_none()
    return 0 if value is None else int(value)


def _contiguous(first: int, rows: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The rows up to the first gap: an archived range is only skipped at the start."""
    run = []
    for expected, (seq, leaf) in enumerate(rows, start=first):
        if seq != expected:
            break
        run.append((seq, leaf))
    return run
