"""Crashes: `egide put` and `egide get` killed with SIGKILL at chosen instants.

Issue 2, "Bad input and faults": a process killed in the middle of a large
write leaves nothing partial visible, and `egide fsck` reports the store
clean once `egide gc` has run. The uploads and downloads run as real
processes (a kill must hit a real process); the checks after each kill run
in this process, except the final `gc` and `fsck`. SQLite in the data
directory only: these tests run once, not per database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from egide.cli.main import app

pytestmark = pytest.mark.heavy

MIB = 1 << 20
#: No single command may take longer than this: a hang fails the test, never stalls CI.
TIMEOUT = 120
#: The partial blob must have grown this much before the kill ("a few MiB").
GROWN = 8 * MIB
PASSWORD = "violet tramway harbour 1987"


@dataclass
class Vault:
    data_dir: Path
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "egide.cli.main", *args]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`egide ARGS` as a real process."""
        done = subprocess.run(
            self.argv(*args),
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        return done

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            return subprocess.Popen(
                self.argv(*args), env=self.env, stdout=subprocess.DEVNULL, stderr=sink
            )

    def invoke(self, *args: str) -> Result:
        """`egide ARGS` in this process (for the checks, where no kill is involved)."""
        previous = os.umask(0o022)
        os.umask(previous)
        try:
            result = CliRunner().invoke(app, list(args), env=self.env)
        finally:
            os.umask(previous)  # the CLI sets 0o077 for its whole process
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"egide {' '.join(args)} crashed") from result.exception
        assert "Traceback" not in result.output
        return result

    def listing(self) -> dict[str, dict[str, Any]]:
        result = self.invoke("ls", "cardio", "-u", "alice", "--json")
        assert result.exit_code == 0, result.output
        return {item["name"]: item for item in json.loads(result.stdout)}

    def blobs(self) -> set[Path]:
        return {p for p in (self.data_dir / "blobs").glob("??/*") if p.is_file()}

    def partial_sizes(self) -> list[int]:
        with os.scandir(self.data_dir / "blobs" / ".partial") as entries:
            return [e.stat().st_size for e in entries]


def make_file(path: Path, size_mib: int) -> str:
    """A file of `size_mib` MiB, quickly: one random MiB repeated, each copy numbered.

    Returns its SHA-256.
    """
    block = bytearray(os.urandom(MIB))
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for i in range(size_mib):
            block[:8] = i.to_bytes(8, "little")
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def wait_until(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float
) -> bool:
    """Poll `condition` every millisecond or so until it holds, the process ends or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.001)
    return False


def kill(proc: subprocess.Popen[bytes]) -> int:
    proc.kill()  # SIGKILL; nothing if the process already ended
    return proc.wait(timeout=TIMEOUT)


def assert_gc_then_fsck_clean(vault: Vault) -> None:
    """`egide gc --grace 0s`, then `egide fsck` clean; only committed files' blobs remain."""
    gc = vault.run("gc", "--grace", "0s")
    assert gc.returncode == 0, gc.stderr
    fsck = vault.run("fsck")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert "Store clean." in fsck.stdout
    report = json.loads(vault.run("fsck", "--json").stdout)
    assert report["clean"] is True
    # Every file in these tests has content of its own and a single version.
    assert len(vault.blobs()) == report["checked"] == len(vault.listing())
    assert vault.partial_sizes() == []


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    """A vault made with the CLI: user alice, manager of the space `cardio`."""
    data_dir = tmp_path_factory.mktemp("crash") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGIDE_")}
    env |= {"EGIDE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    made = Vault(data_dir, env)
    assert made.run("init").returncode == 0
    assert made.run("user", "add", "alice", "--password-stdin", stdin=PASSWORD).returncode == 0
    assert made.run("space", "create", "cardio", "--manager", "alice").returncode == 0
    yield made
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A directory for large local files, emptied at the end of the test."""
    yield tmp_path
    for path in tmp_path.iterdir():
        if path.is_file():
            path.unlink()


def test_sigkill_during_a_large_upload_leaves_nothing_visible(vault: Vault, scratch: Path) -> None:
    big = scratch / "big.bin"
    make_file(big, 400)
    blobs_before = vault.blobs()

    proc = vault.start("put", str(big), "cardio/big.bin", "-u", "alice", log=scratch / "put.log")
    try:
        grown = wait_until(lambda: any(s > GROWN for s in vault.partial_sizes()), proc, 60)
    finally:
        returncode = kill(proc)

    assert grown, f"no partial blob grew past {GROWN} bytes: {(scratch / 'put.log').read_text()}"
    assert returncode == -signal.SIGKILL, "the upload ended before it could be killed"
    assert "big.bin" not in vault.listing()
    assert vault.blobs() == blobs_before
    fsck = vault.run("fsck")
    assert fsck.returncode == 1
    assert "interrupted write(s)" in fsck.stdout
    assert "run `egide gc`" in fsck.stdout
    gc = vault.run("gc", "--grace", "0s")
    assert "interrupted writes removed: 1" in gc.stdout
    assert_gc_then_fsck_clean(vault)
    assert "big.bin" not in vault.listing()


@dataclass(frozen=True)
class KillAt:
    """When to kill an upload: after `delay` seconds, once the partial blob holds
    `partial` bytes, or once the blob is published (`published`)."""

    label: str
    delay: float | None = None
    partial: int | None = None
    published: bool = False


def test_uploads_killed_at_many_instants_are_all_or_nothing(vault: Vault, scratch: Path) -> None:
    size_mib = 60
    # A complete upload first: it sets the time scale of the kills below.
    reference = scratch / "reference.bin"
    reference_sha = make_file(reference, size_mib)
    started = time.monotonic()
    done = vault.run("put", str(reference), "cardio/reference.bin", "-u", "alice")
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert vault.listing()["reference.bin"]["sha256"] == reference_sha

    instants = [
        KillAt("during start-up", delay=0.05),
        KillAt("a quarter in", delay=0.25 * duration),
        KillAt("half-way", delay=0.5 * duration),
        KillAt("once the partial blob exists", partial=0),
        KillAt("half-way through the blob", partial=size_mib * MIB // 2),
        # Usually lands between the publication of the blob and the commit of
        # its row, which leaves an orphan blob.
        KillAt("once the blob is published", published=True),
        KillAt("near the end", delay=0.95 * duration),
        KillAt("at the expected end", delay=duration),
        KillAt("well after the end", delay=3.0 * duration),
    ]
    outcomes: dict[str, tuple[int, bool]] = {}
    for n, at in enumerate(instants):
        source = scratch / f"run-{n}.bin"
        expected_sha = make_file(source, size_mib)
        name = f"run-{n}.bin"
        blobs_before = vault.blobs()

        started = time.monotonic()

        def moment(
            at: KillAt = at, before: set[Path] = blobs_before, start: float = started
        ) -> bool:
            if at.published:
                return bool(vault.blobs() - before)
            if at.partial is not None:
                return any(size >= at.partial for size in vault.partial_sizes())
            assert at.delay is not None
            return time.monotonic() >= start + at.delay

        proc = vault.start("put", str(source), f"cardio/{name}", "-u", "alice", log=scratch / "log")
        try:
            wait_until(moment, proc, TIMEOUT)
        finally:
            returncode = kill(proc)

        listing = vault.listing()
        listed = name in listing
        outcomes[at.label] = (returncode, listed)
        if returncode == 0:
            assert listed, f"{at.label}: the upload succeeded but the file is not listed"
        elif not listed:
            assert returncode == -signal.SIGKILL, (scratch / "log").read_text()
            missing = vault.invoke("get", f"cardio/{name}", str(scratch / "absent"), "-u", "alice")
            assert missing.exit_code == 5
            if vault.blobs() - blobs_before:
                # Killed between publication and commit: an orphan, reported by
                # fsck, and kept by gc within its grace period (it could belong
                # to a write still in flight).
                report = json.loads(vault.invoke("fsck", "--json").stdout)
                assert report["orphan_blobs"] >= 1
                assert vault.invoke("gc").exit_code == 0
                assert vault.blobs() - blobs_before
        if listed:
            assert listing[name]["size"] == size_mib * MIB
            assert listing[name]["sha256"] == expected_sha
            download = scratch / "download.bin"
            got = vault.invoke("get", f"cardio/{name}", str(download), "-u", "alice", "--force")
            assert got.exit_code == 0, f"{at.label}: listed but cannot be read: {got.output}"
            assert file_sha256(download) == expected_sha, f"{at.label}: listed with wrong content"
            download.unlink()
        source.unlink()

    # The spread is wide enough to see both ends: killed before anything was
    # committed, and complete.
    assert outcomes["during start-up"] == (-signal.SIGKILL, False)
    assert outcomes["well after the end"] == (0, True)
    assert_gc_then_fsck_clean(vault)
    for n, at in enumerate(instants):
        assert (f"run-{n}.bin" in vault.listing()) == outcomes[at.label][1]


def test_sigkill_during_a_download_never_leaves_a_partial_destination(
    vault: Vault, scratch: Path
) -> None:
    source = scratch / "scan.bin"
    expected_sha = make_file(source, 300)
    stored = vault.invoke("put", str(source), "cardio/scan.bin", "-u", "alice")
    assert stored.exit_code == 0, stored.output
    source.unlink()
    destination = scratch / "scan-copy.bin"
    part = scratch / ".scan-copy.bin.egide-part"

    def part_grown() -> bool:
        try:
            return part.stat().st_size > GROWN
        except FileNotFoundError:
            return False

    proc = vault.start(
        "get", "cardio/scan.bin", str(destination), "-u", "alice", log=scratch / "log"
    )
    try:
        grown = wait_until(part_grown, proc, 60)
    finally:
        returncode = kill(proc)

    assert grown, (scratch / "log").read_text()
    assert returncode == -signal.SIGKILL, "the download ended before it could be killed"
    # The leftover hidden part file is acceptable; the destination name never
    # holds partial content.
    assert not destination.exists()
    # Downloading again replaces the leftover and completes.
    again = vault.invoke("get", "cardio/scan.bin", str(destination), "-u", "alice")
    assert again.exit_code == 0, again.output
    assert file_sha256(destination) == expected_sha
    assert not part.exists()
    assert_gc_then_fsck_clean(vault)
