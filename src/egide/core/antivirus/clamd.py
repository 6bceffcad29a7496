"""A blocking client for ClamAV's `clamd` (docs/antivirus.md).

It speaks the daemon's own protocol over TCP (`tcp://127.0.0.1:3310`) or a
unix socket (`unix:///run/clamav/clamd.ctl`, or a bare absolute path):

- `PING` -> `PONG`, `VERSION` -> `ClamAV 1.4.6/27480/Mon Nov 30 ...` (the
  number after the first slash is the signature database version);
- `INSTREAM`: the bytes in chunks, each prefixed by its 4-byte big-endian
  length, then a zero length; the answer is `stream: OK`,
  `stream: NAME FOUND` or `INSTREAM size limit exceeded. ERROR`.

The write path runs in a worker thread, so the sockets are blocking, with a
timeout on connecting and on every send and receive. Every failure to talk
to the daemon is a `ClamdUnavailable`, which the caller turns into its
"unreachable" policy; nothing here decides what a verdict means for a file.
Commands use clamd's `z` form (NUL-terminated), so one answer is one line.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Final

#: The largest chunk sent in one INSTREAM frame (clamd reads frames into a
#: buffer of its own; big frames are split, small ones go as they come).
MAX_FRAME: Final = 1 << 20
_ANSWER_LIMIT: Final = 4096


class ClamdUnavailable(Exception):
    """clamd could not be reached, or stopped answering (timeout, reset, garbage).

    The message names the address and the socket error only (no content)."""


class Outcome(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    #: Longer than the scanner accepts: never reported clean.
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    #: The signature's name when infected (e.g. `Eicar-Signature`).
    signature: str | None = None


@dataclass(frozen=True)
class Address:
    """Where clamd listens: ("tcp", host, port) or ("unix", path)."""

    family: str
    host: str
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        """`tcp://HOST:PORT`, `unix:///PATH` or `/PATH`; ValueError otherwise."""
        value = text.strip()
        if value.startswith("unix://"):
            value = value.removeprefix("unix://")
        if value.startswith("/"):
            return cls("unix", value)
        if value.startswith("tcp://"):
            host, sep, port = value.removeprefix("tcp://").rpartition(":")
            host = host.strip("[]")
            if sep and host and port.isdigit() and 0 < int(port) < 65536:
                return cls("tcp", host, int(port))
        raise ValueError(
            "expected tcp://HOST:PORT (e.g. tcp://127.0.0.1:3310) or unix:///PATH "
            "(e.g. unix:///run/clamav/clamd.ctl)"
        )

    def __str__(self) -> str:
        return f"unix://{self.host}" if self.family == "unix" else f"tcp://{self.host}:{self.port}"


class ClamdClient:
    """Opens one connection per command; thread-safe (it keeps no socket)."""

    def __init__(
        self, address: Address | str, *, connect_timeout: float = 2.0, timeout: float = 60.0
    ) -> None:
        self.address = address if isinstance(address, Address) else Address.parse(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        addr = self.address
        try:
            if addr.family == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                try:
                    sock.connect(addr.host)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(
                    (addr.host, addr.port), timeout=self.connect_timeout
                )
        except OSError as exc:
            raise ClamdUnavailable(f"cannot connect to clamd at {addr}: {_reason(exc)}") from exc
        sock.settimeout(self.timeout)
        return sock

    def _command(self, name: str) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + name.encode("ascii") + b"\0")
                return _read_answer(sock, self.address)
            except OSError as exc:
                raise ClamdUnavailable(
                    f"clamd at {self.address} failed on {name}: {_reason(exc)}"
                ) from exc

    def ping(self) -> bool:
        """True when clamd answers PONG (raises ClamdUnavailable when it cannot be reached)."""
        return self._command("PING") == "PONG"

    def version(self) -> str:
        """The whole VERSION answer, e.g. `ClamAV 1.4.6/27480/Mon Nov 30 08:20:00 2026`."""
        return self._command("VERSION")

    def reload(self) -> bool:
        """Ask clamd to load its signature database again (scans in flight keep theirs)."""
        return self._command("RELOAD") == "RELOADING"

    def instream(self) -> InstreamScan:
        """Start a scan: feed it the bytes, then `finish()` for the verdict."""
        sock = self._connect()
        try:
            sock.sendall(b"zINSTREAM\0")
        except OSError as exc:
            sock.close()
            raise ClamdUnavailable(
                f"clamd at {self.address} refused INSTREAM: {_reason(exc)}"
            ) from exc
        return InstreamScan(sock, self.address)

    def scan_bytes(self, data: bytes) -> Verdict:
        with self.instream() as scan:
            scan.feed(data)
            return scan.finish()


def database_version(answer: str) -> str:
    """The signature database part of a VERSION answer (`27480`), or the
    engine's own version when clamd runs on local databases only (`ClamAV 1.4.6`)."""
    parts = answer.split("/")
    return parts[1].strip() if len(parts) >= 3 and parts[1].strip() else parts[0].strip()


class InstreamScan:
    """One INSTREAM conversation. `feed` as the bytes come, then `finish` once
    (or `end` and, later and maybe from another thread, `verdict`): clamd
    spools the stream and scans it only once it has ended.

    When clamd stops the stream early (its StreamMaxLength reached, it answers
    and closes), further `feed` calls do nothing and the verdict is
    TOO_LARGE. Closing without a verdict abandons the scan."""

    def __init__(self, sock: socket.socket, address: Address) -> None:
        self._sock: socket.socket | None = sock
        self._address = address
        self._early: str | None = None
        self._ended = False
        self.fed = 0

    def __enter__(self) -> InstreamScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            # shutdown first: it also ends a send blocked in another thread.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def feed(self, data: bytes | memoryview) -> None:
        if self._sock is None or self._early is not None or not data:
            return
        view = memoryview(data)
        try:
            for start in range(0, len(view), MAX_FRAME):
                frame = view[start : start + MAX_FRAME]
                # One write per frame: its length prefix, then its bytes.
                self._sock.sendall(struct.pack(">I", len(frame)) + frame)
                self.fed += len(frame)
        except OSError as exc:
            # clamd may have answered and closed (size limit): read why.
            self._early = self._answer_after_failure(exc)

    def finish(self) -> Verdict:
        """End the stream and wait for the verdict (closes the conversation)."""
        self.end()
        return self.verdict()

    def end(self) -> None:
        """Send the zero length that ends the stream: clamd starts scanning now.
        The verdict is read by `verdict`, possibly from another thread."""
        if self._sock is None:
            raise ClamdUnavailable(f"the scan on clamd at {self._address} was closed")
        if self._early is not None or self._ended:
            return
        self._ended = True
        try:
            self._sock.sendall(struct.pack(">I", 0))
        except OSError as exc:
            try:
                self._early = self._answer_after_failure(exc)
            except ClamdUnavailable:
                self.close()
                raise

    def verdict(self) -> Verdict:
        """clamd's answer once the stream has ended (closes the conversation)."""
        if not self._ended:
            self.end()
        if self._sock is None:
            raise ClamdUnavailable(f"the scan on clamd at {self._address} was closed")
        try:
            answer = self._early or _read_answer(self._sock, self._address)
        except OSError as exc:
            raise ClamdUnavailable(
                f"clamd at {self._address} did not answer the scan: {_reason(exc)}"
            ) from exc
        finally:
            self.close()
        return parse_answer(answer, self._address)

    def _answer_after_failure(self, exc: OSError) -> str:
        sock = self._sock
        if sock is None:  # pragma: no cover - only called while the socket is open
            raise ClamdUnavailable(f"the scan on clamd at {self._address} was closed") from exc
        try:
            answer = _read_answer(sock, self._address)
        except (OSError, ClamdUnavailable):
            raise ClamdUnavailable(
                f"clamd at {self._address} dropped the scan: {_reason(exc)}"
            ) from exc
        return answer


class QueuedFeed:
    """Feeds an `InstreamScan` from a thread of its own.

    clamd takes a stream in at a few hundred MB/s, spooling it to its
    temporary directory; fed from the write path itself, that intake would
    add to the time of every chunk. Here `put` only queues the chunk (up to
    `budget` bytes in flight, then it waits) and a thread sends it, beside
    the encryption. `drain` waits until everything was sent; a failure of
    the thread is raised by the next `put` or `drain`. Chunks must not
    change once given (bytes)."""

    def __init__(self, scan: InstreamScan, *, budget: int = 8 * MAX_FRAME) -> None:
        self.scan = scan
        self._budget = budget
        self._chunks: collections.deque[bytes | memoryview] = collections.deque()
        self._queued = 0
        self._ended = False
        self._error: ClamdUnavailable | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="egide-clamd-feed", daemon=True)
        self._thread.start()

    def put(self, chunk: bytes | memoryview) -> None:
        with self._changed:
            while self._queued >= self._budget and self._error is None and not self._ended:
                self._changed.wait()
            self._raise_error()
            if self._ended:
                raise ClamdUnavailable("the scan was closed before the end of the stream")
            self._chunks.append(chunk)
            self._queued += len(chunk)
            self._changed.notify_all()

    def drain(self) -> None:
        """Everything put is sent (or the thread's failure is raised); the thread ends."""
        with self._changed:
            self._ended = True
            self._changed.notify_all()
        self._thread.join()
        self._raise_error()

    def close(self) -> None:
        """Abandon: the thread ends without sending the rest; the scan is closed."""
        with self._changed:
            self._ended = True
            self._chunks.clear()
            self._changed.notify_all()
        self.scan.close()  # unblocks a send in progress
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._chunks and not self._ended:
                    self._changed.wait()
                if not self._chunks:
                    return
                chunk = self._chunks.popleft()
            try:
                self.scan.feed(chunk)
            except ClamdUnavailable as exc:
                error: ClamdUnavailable | None = exc
            except OSError as exc:  # the scan was closed under the send (close)
                error = ClamdUnavailable(f"the scan was closed: {_reason(exc)}")
            else:
                error = None
            with self._changed:
                self._queued -= len(chunk)
                if error is not None:
                    self._error = error
                    self._chunks.clear()
                    self._ended = True
                self._changed.notify_all()
                if error is not None:
                    return


def parse_answer(answer: str, address: Address | str = "clamd") -> Verdict:
    """The verdict of an INSTREAM answer; ClamdUnavailable when it is an error."""
    if answer.startswith("stream: "):
        body = answer.removeprefix("stream: ")
        if body == "OK":
            return Verdict(Outcome.CLEAN)
        if body.endswith(" FOUND"):
            return _found(body.removesuffix(" FOUND").strip())
    if "size limit exceeded" in answer or "AlertExceedsMax" in answer:
        return Verdict(Outcome.TOO_LARGE)
    if answer.endswith(" FOUND"):
        return _found(answer.removesuffix(" FOUND").split(": ")[-1].strip())
    raise ClamdUnavailable(f"clamd at {address} answered an error: {answer[:200]}")


def _found(signature: str) -> Verdict:
    # With `AlertExceedsMax yes`, clamd reports its own limits (MaxFileSize,
    # MaxScanSize...) as a "signature": the file was not fully scanned.
    if signature.startswith("Heuristics.Limits.Exceeded"):
        return Verdict(Outcome.TOO_LARGE)
    return Verdict(Outcome.INFECTED, signature[:200])


def _read_answer(sock: socket.socket, address: Address) -> str:
    buf = bytearray()
    while len(buf) < _ANSWER_LIMIT:
        data = sock.recv(_ANSWER_LIMIT)
        if not data:
            break
        buf += data
        if b"\0" in data or b"\n" in data:
            break
    text = bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if not text:
        raise ClamdUnavailable(f"clamd at {address} closed the connection without an answer")
    return text


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or type(exc).__name__
