"""A real ClamAV `clamd` for the tests and the HTTP benchmark (docs/antivirus.md).

`ClamdServer` runs Debian's /usr/sbin/clamd as a child with its own
configuration on a free loopback port, its database and temporary
directory under /dev/shm (tmpfs: no plaintext of a scanned stream reaches a
disk), and a signature database built here, since freshclam cannot download
anything on the test machines (sigtool's `--md5` is an MD5 and a size, done
in Python):

- `test.hdb`: the EICAR test file (`Test.Eicar`) and ClamAV's own test
  executable (`Test.ClamExe`, also caught inside clam.zip and clam.pdf);
- `test.ndb`: a body signature `Egide.Test.Marker` matching `MARKER`
  anywhere in a file;
- more body signatures given to `start`/`restart` (a "signature update").

If clamd is missing the fixture fails with the command to install it:
these tests must not be skipped silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

CLAMD: Final = Path("/usr/sbin/clamd")
#: The EICAR anti-virus test file (68 bytes): harmless, caught by every scanner.
EICAR: Final = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#: Bytes the custom body signature `Egide.Test.Marker` matches.
MARKER: Final = b"EGIDE-TEST-SIGNATURE-7f3a9c2e-do-not-store"
CLAM_EXE: Final = Path("/usr/share/clamav-testfiles/clam.exe")
#: clamd's StreamMaxLength in the tests' configuration (bytes).
STREAM_MAX: Final = 100 * 1024 * 1024


class ClamdMissing(RuntimeError):
    pass


def require_clamd() -> None:
    if not CLAMD.exists():
        raise ClamdMissing(
            "clamd is not installed: run `apt-get install -y --no-install-recommends "
            "clamav-daemon clamav-testfiles` (the antivirus tests need a real clamd)."
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_database(directory: Path, bodies: Mapping[str, bytes] | None = None) -> None:
    """Write a tiny signature database into `directory` (replacing what is there)."""
    for old in directory.glob("*.[hn]db"):
        old.unlink()
    hashes = [f"{hashlib.md5(EICAR, usedforsecurity=False).hexdigest()}:{len(EICAR)}:Test.Eicar"]
    if CLAM_EXE.exists():
        data = CLAM_EXE.read_bytes()
        hashes.append(
            f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}:{len(data)}:Test.ClamExe"
        )
    (directory / "test.hdb").write_text("\n".join(hashes) + "\n")
    signatures = {"Egide.Test.Marker": MARKER, **(bodies or {})}
    (directory / "test.ndb").write_text(
        "".join(f"{name}:0:*:{body.hex()}\n" for name, body in signatures.items())
    )


class ClamdServer:
    """One clamd child process; `address` is its `tcp://127.0.0.1:PORT`."""

    def __init__(
        self, root: Path | None = None, *, stream_max: int = STREAM_MAX, cache: bool = True
    ) -> None:
        require_clamd()
        shm = Path("/dev/shm")  # noqa: S108 - tmpfs on purpose: scanned plaintext stays in memory
        parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        self._tmp = tempfile.TemporaryDirectory(prefix="egide-clamd-", dir=root or parent)
        self.dir = Path(self._tmp.name)
        self.db_dir = self.dir / "db"
        self.scratch = self.dir / "tmp"
        self.db_dir.mkdir()
        self.scratch.mkdir()
        self.port = free_port()
        self.stream_max = stream_max
        #: clamd's cache of clean files (by hash): off to measure real scans.
        self.cache = cache
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        path = self.dir / "clamd.conf"
        path.write_text(
            "Foreground yes\n"
            f"DatabaseDirectory {self.db_dir}\n"
            f"TemporaryDirectory {self.scratch}\n"
            "TCPAddr 127.0.0.1\n"
            f"TCPSocket {self.port}\n"
            f"PidFile {self.dir / 'clamd.pid'}\n"
            f"LogFile {self.dir / 'clamd.log'}\n"
            f"StreamMaxLength {self.stream_max}\n"
            f"MaxScanSize {max(self.stream_max, 400 * 1024 * 1024)}\n"
            f"MaxFileSize {self.stream_max}\n"
            "AlertExceedsMax yes\n"
            "MaxThreads 4\n"
            f"DisableCache {'no' if self.cache else 'yes'}\n"
            "ReadTimeout 30\n"
            "CommandReadTimeout 30\n"
        )
        return path

    def start(self, bodies: Mapping[str, bytes] | None = None) -> ClamdServer:
        build_database(self.db_dir, bodies)
        log = (self.dir / "clamd.out").open("ab")
        self.proc = subprocess.Popen(
            [str(CLAMD), "--config-file", str(self._config())],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"clamd exited at start:\n{self.output()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                sock.sendall(b"zPING\0")
                if sock.recv(16).startswith(b"PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"clamd did not answer PING within 30 s:\n{self.output()}")

    def output(self) -> str:
        texts = []
        for name in ("clamd.out", "clamd.log"):
            path = self.dir / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(texts)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def restart(self, bodies: Mapping[str, bytes] | None = None) -> None:
        """Stop, rebuild the database (a signature update), start on the same port."""
        self.stop()
        self.start(bodies)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        self._tmp.cleanup()


@contextlib.contextmanager
def running_clamd(bodies: Mapping[str, bytes] | None = None) -> Iterator[ClamdServer]:
    server = ClamdServer()
    try:
        yield server.start(bodies)
    finally:
        server.close()
