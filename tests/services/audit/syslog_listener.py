"""Real syslog collectors on 127.0.0.1 for the forwarding tests: TCP (RFC 6587) and UDP.

The TCP one reads octet-counted frames until the sender half-closes, then
closes its side, as rsyslog's imtcp does; the UDP one takes one message per
datagram. Both keep what they received, in arrival order.
"""

from __future__ import annotations

import re
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

_SD = re.compile(
    rb"^<(\d+)>1 (\S+) (\S+) (\S+) - audit "
    rb'\[egide@32473 seq="(\d+)" origin="([^"]*)" leaf_hash="([0-9a-f]{64})"\] \xef\xbb\xbf'
)


@dataclass(frozen=True)
class Received:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    seq: int
    origin: str
    leaf_hash: str
    leaf: bytes


def parse(message: bytes) -> Received:
    match = _SD.match(message)
    assert match is not None, message[:200]
    return Received(
        pri=int(match.group(1)),
        timestamp=match.group(2).decode(),
        hostname=match.group(3).decode(),
        app_name=match.group(4).decode(),
        seq=int(match.group(5)),
        origin=match.group(6).decode(),
        leaf_hash=match.group(7).decode(),
        leaf=message[match.end() :],
    )


class _TcpServer(socketserver.ThreadingTCPServer):
    # Restarted on the same port in the tests ("the collector is back").
    allow_reuse_address = True
    daemon_threads = True


class Collector:
    """A listener on 127.0.0.1 in a thread; `messages` in arrival order."""

    def __init__(self, transport: str, port: int = 0) -> None:
        self.transport = transport
        self.messages: list[bytes] = []
        self._lock = threading.Lock()
        handler = self._tcp_handler() if transport == "tcp" else self._udp_handler()
        self.server: socketserver.BaseServer
        if transport == "tcp":
            self.server = _TcpServer(("127.0.0.1", port), handler)
        else:
            self.server = socketserver.UDPServer(("127.0.0.1", port), handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.port}"

    def received(self) -> list[Received]:
        with self._lock:
            return [parse(message) for message in self.messages]

    def seqs(self) -> list[int]:
        return [item.seq for item in self.received()]

    def wait_for(self, count: int, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return
            time.sleep(0.01)
        pytest.fail(f"the collector got {len(self.messages)} messages, not {count}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def _keep(self, message: bytes) -> None:
        with self._lock:
            self.messages.append(message)

    def _tcp_handler(self) -> type[socketserver.StreamRequestHandler]:
        keep = self._keep

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for _ in range(1_000_000):  # bounded: far more frames than any test sends
                    length = b""
                    while (char := self.rfile.read(1)) not in {b" ", b""}:
                        length += char
                    if not length:
                        return  # the sender half-closed: socketserver closes our side
                    keep(self.rfile.read(int(length)))

        return Handler

    def _udp_handler(self) -> type[socketserver.DatagramRequestHandler]:
        keep = self._keep

        class Handler(socketserver.DatagramRequestHandler):
            def handle(self) -> None:
                keep(self.rfile.read())

        return Handler


CollectorFactory = Callable[..., Collector]
