"""Crash-safe writes and owner-only reads of the key file and the escrow file.

A key file half written by a crash would lose every master key, so each
write goes to a temporary file in the same directory, is fsynced, then
renamed over (or linked to) its final name, and the directory is fsynced so
the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from egide.core.crypto.errors import InsecureKeyFile, KeyFileExists, KeyUnavailable

#: Key and escrow files hold a few keys; anything larger is not one of ours.
MAX_FILE_SIZE: Final = 1 << 20

KEY_FILE_MISSING: Final = (
    "The key file {path} does not exist. Run `egide init` to create a new vault, or "
    "`egide keys recover` to rebuild it from the recovery escrow and your recovery code."
)
KEY_FILE_UNREADABLE: Final = (
    "The key file {path} cannot be read ({reason}). Check that it is a file owned by the "
    "user running Égide, then start again."
)
KEY_FILE_INSECURE: Final = (
    "The key file {path} is accessible to other users (mode {mode}). Run "
    "`chmod 600 {path}` and start again."
)
KEY_FILE_EXISTS: Final = (
    "The key file {path} already exists, and Égide never overwrites key material. If you "
    "really mean to replace it, move it away first."
)


def make_private_dir(directory: Path) -> None:
    """Create the directory (owner only) if missing; an existing one is left as it is."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `path` (mode 0600) so a crash leaves the old file or the new one.

    With `overwrite=False` the final step is a hard link, which fails if the
    name exists, so two concurrent `egide init` cannot both succeed.
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    # 0600 from creation: the key never sits in a file others could open.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            tmp.replace(path)
        else:
            _link_exclusive(tmp, path)
        fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _link_exclusive(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise KeyFileExists(KEY_FILE_EXISTS, path=str(path)) from None
    except OSError as exc:
        # Some file systems (FAT, a few FUSE mounts) have no hard links: fall
        # back to check-then-rename, which only loses the race protection.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        if os.path.lexists(path):
            raise KeyFileExists(KEY_FILE_EXISTS, path=str(path)) from None
        tmp.replace(path)


def read_private(path: Path) -> bytes:
    """The content of the key file, after checking that only its owner can use it."""
    try:
        # O_NONBLOCK: a FIFO put in the key file's place must not hang start-up.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyUnavailable(KEY_FILE_MISSING, path=str(path)) from None
    except OSError as exc:
        raise KeyUnavailable(KEY_FILE_UNREADABLE, path=str(path), reason=exc.strerror) from exc
    try:
        # fstat on the open descriptor: the checked file is the one read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyUnavailable(KEY_FILE_UNREADABLE, path=str(path), reason="not a file")
        if info.st_mode & 0o077:
            raise InsecureKeyFile(
                KEY_FILE_INSECURE, path=str(path), mode=f"{stat.S_IMODE(info.st_mode):04o}"
            )
        if info.st_size > MAX_FILE_SIZE:
            raise KeyUnavailable(KEY_FILE_UNREADABLE, path=str(path), reason="too large")
        return _read_all(fd)
    except OSError as exc:
        raise KeyUnavailable(KEY_FILE_UNREADABLE, path=str(path), reason=exc.strerror) from exc
    finally:
        os.close(fd)


def read_plain(path: Path, missing: str) -> bytes:
    """The content of a file that needs no secrecy (the escrow file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyUnavailable(missing, path=str(path)) from None
    except OSError as exc:
        raise KeyUnavailable(
            "The file {path} cannot be read ({reason}).", path=str(path), reason=exc.strerror
        ) from exc
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_FILE_SIZE:
            break
    return b"".join(chunks)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Exclusive advisory lock on a directory: one key rotation at a time.

    The lock is on the directory, not on the key file, because the key file
    is replaced by a rename and a lock on its old inode would not exclude a
    process that opened the new one.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
