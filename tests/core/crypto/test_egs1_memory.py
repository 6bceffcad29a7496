"""EGS1 streams in constant memory: a 2 GiB content through a file, both ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import egide

#: Run in a fresh interpreter: the peak is a high-water mark, so the parent's
#: (pytest, hypothesis, other tests) would hide or inflate the figure.
WORKLOAD = r"""
import hashlib, json, os, struct, sys

from egide.core.crypto import egs1
from egide.core.crypto.keys import generate_key

path, mebibytes = sys.argv[1], int(sys.argv[2])


class FileReader:
    def __init__(self, fd):
        self._fd = fd
        self.size = os.fstat(fd).st_size

    def read_at(self, offset, length):
        return os.pread(self._fd, length, offset)

    def close(self):
        os.close(self._fd)


def chunks():
    # Random 1 MiB with a counter in front of each copy: not compressible,
    # not repeating, and no 2 GiB of os.urandom.
    base = memoryview(os.urandom(1 << 20))[8:]
    for i in range(mebibytes):
        yield struct.pack(">Q", i) + base


def peak_rss_kib():
    # VmHWM belongs to this program's own address space. ru_maxrss would not do:
    # it survives execve, so it may hold the forking parent's size (pytest's).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


dek = generate_key()
written = hashlib.sha256()
sealer = egs1.StreamSealer(dek)
with open(path, "wb", buffering=0) as out:
    out.write(sealer.header)
    for chunk in chunks():
        written.update(chunk)
        for segment in sealer.update(chunk):
            out.write(segment)
    out.write(sealer.finish())

read = hashlib.sha256()
reader = FileReader(os.open(path, os.O_RDONLY))
try:
    opener = egs1.StreamOpener(dek, reader, expected_blob_size=sealer.blob_size)
    for piece in opener.iter_plaintext():
        read.update(piece)
finally:
    reader.close()

print(json.dumps({
    "equal": written.digest() == read.digest(),
    "plaintext_size": sealer.plaintext_size,
    "blob_size": os.stat(path).st_size,
    "expected_blob_size": egs1.blob_size(mebibytes << 20, egs1.DEFAULT_SEGMENT_SIZE),
    "maxrss_kib": peak_rss_kib(),
}))
"""


@pytest.mark.heavy
def test_two_gibibytes_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    blob = tmp_path / "two-gib.egs1"
    env = dict(os.environ)
    src = str(Path(egide.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    try:
        result = subprocess.run(
            [sys.executable, "-c", WORKLOAD, str(blob), "2048"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
    finally:
        blob.unlink(missing_ok=True)
    assert report["equal"]
    assert report["plaintext_size"] == 2 << 30
    assert report["blob_size"] == report["expected_blob_size"]
    # The whole run stays under 200 MiB.
    assert report["maxrss_kib"] < 200 * 1024, report
