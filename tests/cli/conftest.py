"""The `egide` command run in-process (typer's CliRunner) on a real data directory.

Settings come from the environment, as for a user: `EGIDE_DATA_DIR` points
at a directory under tmp_path and `EGIDE_DATABASE_URL` at this test's
database (SQLite, or PostgreSQL when EGIDE_TEST_DATABASE_URL is set), so
every test here runs on both databases.
"""

from __future__ import annotations

import json
import os
import re
import stat
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argon2
import pytest
from typer.testing import CliRunner, Result

from egide.cli.main import app

#: Long enough, in no list of common passwords, unrelated to the test usernames.
PASSWORD = "violet tramway harbour 1987"
RECOVERY_CODE = re.compile(r"^[A-Z2-7]{5}(?:-[A-Z2-7]{5}){10}$")


def said(result: Result) -> str:
    """Everything the command printed (stdout and stderr), whitespace collapsed.

    Rich wraps long messages at the console width; collapsing the whitespace
    lets a test look for a sentence wherever the line breaks fell.
    """
    return " ".join(result.output.split())


@dataclass
class Cli:
    """`egide ARGS...` in this process, on the test's data directory and database."""

    runner: CliRunner
    data_dir: Path

    def __call__(self, *args: str, stdin: str | bytes | None = None) -> Result:
        result = self.runner.invoke(app, list(args), input=stdin)
        # A typed error ends in SystemExit with its exit code; anything else
        # escaping the command is what a user would see as a traceback.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"`egide {' '.join(args)}` crashed instead of failing cleanly:\n{trace}")
        assert "Traceback" not in result.output
        return result

    def ok(self, *args: str, stdin: str | bytes | None = None) -> Result:
        result = self(*args, stdin=stdin)
        assert result.exit_code == 0, f"`egide {' '.join(args)}` failed: {result.output}"
        return result

    def json(self, *args: str, stdin: str | bytes | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin).stdout)

    def fails(self, code: int, *args: str, stdin: str | bytes | None = None) -> str:
        """Run a command that must fail with `code`; returns its collapsed output."""
        result = self(*args, stdin=stdin)
        assert result.exit_code == code, (
            f"`egide {' '.join(args)}` exited {result.exit_code}, expected {code}: {result.output}"
        )
        assert said(result).startswith("Error:"), result.output
        return said(result)

    # Paths of the vault --------------------------------------------------------

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys" / "egide.keys"

    @property
    def escrow_file(self) -> Path:
        return self.data_dir / "recovery-escrow.json"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def blobs(self) -> list[Path]:
        """Published blob files (`<blob dir>/<shard>/<uuid>`), partial writes excluded."""
        return sorted(p for p in self.blob_dir.glob("??/*") if p.is_file())

    def partials(self) -> list[Path]:
        return sorted((self.blob_dir / ".partial").iterdir())

    def ls(self, target: str, user: str = "alice") -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in self.json("ls", target, "-u", user)}


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    # The root callback of the CLI sets umask 0o077 for the whole process.
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


@pytest.fixture
def cli(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    insecure_fast_argon2: argon2.PasswordHasher,
) -> Cli:
    for name in list(os.environ):
        if name.startswith("EGIDE_") and name != "EGIDE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("EGIDE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EGIDE_DATABASE_URL", database_url)
    # Wide enough that paths in messages are not folded in the middle.
    monkeypatch.setenv("COLUMNS", "1000")
    # Hashing with toy argon2 parameters keeps the many `user add` fast; the
    # production parameters are tested with the account service.
    monkeypatch.setattr("egide.services.accounts.base.default_hasher", lambda: insecure_fast_argon2)
    monkeypatch.chdir(tmp_path)
    return Cli(CliRunner(), data_dir)


@pytest.fixture
def recovery_code(cli: Cli) -> str:
    """An initialised vault; the recovery code `egide init` printed."""
    code = cli.json("init")["recovery_code"]
    assert isinstance(code, str)
    return code


@pytest.fixture
def alice(cli: Cli, recovery_code: str) -> str:
    """User alice, contributor of the space `cardio` (no quota)."""
    cli.ok("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    cli.ok("space", "create", "cardio")
    cli.ok("space", "grant", "cardio", "user:alice", "contributor")
    return "alice"


@pytest.fixture
def bob(cli: Cli, recovery_code: str) -> str:
    """User bob, with no role anywhere."""
    cli.ok("user", "add", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    return "bob"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
