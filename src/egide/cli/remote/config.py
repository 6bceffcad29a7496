"""The remotes file, `$XDG_CONFIG_HOME/egide/remotes.toml` (default `~/.config/egide`).

It holds one API token per remote, so it is private: mode 0600 from its
creation (never chmod-ed after the fact), in a directory of mode 0700, and
replaced atomically (temporary file, fsync, rename) so a crash never leaves
half a file. A file readable by others is refused, like the server's key file.

    default = "default"

    [remotes."default"]
    url = "https://egide.chu-exemple.fr"
    username = "alice"
    token_id = "0b9c..."
    token = "egd_..."

TOML is read with tomllib; it is written by `render` below (strings only).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from egide.cli.remote.errors import RemoteError
from egide.core.errors import ErrorKind

REMOTES_FILE = "remotes.toml"
#: The name `--remote default` resolves to the default remote when none has that name.
DEFAULT_NAME = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    username: str
    token_id: str
    token: str = field(repr=False)


@dataclass
class Remotes:
    default: str | None = None
    remotes: dict[str, Remote] = field(default_factory=dict)

    def resolve(self, name: str) -> Remote:
        """The remote called `name`; `default` also names the default remote."""
        wanted = name.strip().lower()
        if wanted in self.remotes:
            return self.remotes[wanted]
        if wanted == DEFAULT_NAME and self.default in self.remotes:
            return self.remotes[self.default]
        if not self.remotes:
            raise RemoteError(
                "No remote is configured: log in first with `egide login URL`.",
                kind=ErrorKind.INVALID,
            )
        raise RemoteError(
            f"No remote is called {name!r}; the configured ones are "
            f"{', '.join(sorted(self.remotes))}. Log in with `egide login URL "
            f"--remote-name {wanted}` to add it.",
            kind=ErrorKind.INVALID,
        )

    def add(self, remote: Remote) -> None:
        self.remotes[remote.name] = remote
        if self.default not in self.remotes:
            self.default = remote.name

    def remove(self, name: str) -> None:
        self.remotes.pop(name, None)
        if self.default == name:
            self.default = min(self.remotes) if self.remotes else None


def check_name(name: str) -> str:
    value = name.strip().lower()
    if not _NAME.fullmatch(value):
        raise RemoteError(
            f"Cannot use {name!r} as a remote name: use 1 to 63 characters a-z, 0-9, '.', "
            "'_' or '-', starting with a letter or digit.",
            kind=ErrorKind.INVALID,
        )
    return value


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec: a relative value is invalid and must be ignored.
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "egide"


def private_dir() -> Path:
    """The configuration directory, created with mode 0700 if missing."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically by a file of mode 0600 holding `data`."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # The rename itself survives a crash only once the directory is synced.
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_private(path: Path) -> bytes | None:
    """The content of a private file; None if missing; refused if others may read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise RemoteError(
            f"{path} is readable by other users (mode {mode:04o}) and holds API tokens: "
            f"run `chmod 600 {path}`, and log in again if others could have read it.",
            kind=ErrorKind.UNAVAILABLE,
        )
    return path.read_bytes()


def _quoted(value: str) -> str:
    """A TOML basic string (TOML 1.0, section "String")."""
    escaped = []
    for char in value:
        if char in {'"', "\\"}:
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def render(remotes: Remotes) -> str:
    lines = [
        "# Égide remotes, written by `egide login`. Holds API tokens: keep it mode 0600.",
    ]
    if remotes.default:
        lines.append(f"default = {_quoted(remotes.default)}")
    for name in sorted(remotes.remotes):
        remote = remotes.remotes[name]
        lines += [
            "",
            f"[remotes.{_quoted(name)}]",
            f"url = {_quoted(remote.url)}",
            f"username = {_quoted(remote.username)}",
            f"token_id = {_quoted(remote.token_id)}",
            f"token = {_quoted(remote.token)}",
        ]
    return "\n".join(lines) + "\n"


def remotes_path() -> Path:
    return config_dir() / REMOTES_FILE


def load() -> Remotes:
    path = remotes_path()
    data = read_private(path)
    if data is None:
        return Remotes()
    try:
        document = tomllib.loads(data.decode("utf-8"))
        table = document.get("remotes", {})
        remotes = Remotes(default=document.get("default"))
        for name, entry in table.items():
            remotes.remotes[name] = Remote(
                name=name,
                url=str(entry["url"]),
                username=str(entry["username"]),
                token_id=str(entry["token_id"]),
                token=str(entry["token"]),
            )
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        # The parser's message may quote a line of the file, hence a token: not shown.
        raise RemoteError(
            f"Cannot read {path}: it is not a remotes file written by `egide login`. Fix it "
            "by hand, or delete it and log in again.",
            kind=ErrorKind.INVALID,
        ) from None
    return remotes


def save(remotes: Remotes) -> Path:
    path = private_dir() / REMOTES_FILE
    write_private(path, render(remotes).encode("utf-8"))
    return path
