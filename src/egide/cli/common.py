"""What every command shares: settings, services, the acting user, output, errors.

Errors map to exit codes in exactly one table (`EXIT_CODES`); a typed error
prints its message (which says what to do) and never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from egide.core.config import Settings
from egide.core.errors import EgideError, ErrorKind
from egide.core.i18n import gettext_noop, language_from_environment, render, text
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services

console = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


def transfer_progress() -> Progress:
    """A byte progress bar (size, rate, time left) on standard error, only on a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@contextmanager
def count_progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar of items done on standard error (only on a terminal); yields the
    `progress(done, total)` callback the services take."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


#: Exit status per error kind (documented in docs/cli.md).
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 2,
    ErrorKind.UNAUTHENTICATED: 3,
    ErrorKind.FORBIDDEN: 4,
    ErrorKind.NOT_FOUND: 5,
    ErrorKind.CONFLICT: 6,
    ErrorKind.PRECONDITION: 7,
    ErrorKind.TOO_LARGE: 8,
    ErrorKind.REJECTED: 9,
    ErrorKind.LOCKED: 10,
    ErrorKind.THROTTLED: 11,
    ErrorKind.INTEGRITY: 12,
    ErrorKind.UNAVAILABLE: 13,
}

UserOption = typer.Option(
    None,
    "--user",
    "-u",
    envvar="EGIDE_USER",
    help="Act as this user: content commands are allowed by that user's roles (env EGIDE_USER).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


class CliState:
    """Settings and services for one command invocation (built lazily)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # pragma: no cover - set by the root callback
        raise TypeError("egide CLI state missing")
    return obj


def services(ctx: typer.Context) -> Services:
    return state(ctx).services


def acting_user(ctx: typer.Context, username: str | None) -> Principal:
    """The principal a content command acts as (`--user`)."""
    if not username:
        fail(
            "Say which user this command acts as with --user NAME (or EGIDE_USER): file "
            "access follows that user's roles, even for administrators.",
            code=2,
        )
    return services(ctx).accounts.principal_for_username(username)


def fail(message: str, *, code: int = 1) -> NoReturn:
    console.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


ERROR_PREFIX = gettext_noop("Error:")
INTERRUPTED = gettext_noop("Interrupted: nothing partial was kept.")


@contextmanager
def handled_errors() -> Iterator[None]:
    """Typed errors and Ctrl-C as a message and an exit code, in the language of the
    environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG; English unless French)."""
    try:
        yield
    except EgideError as exc:
        language = language_from_environment(os.environ)
        console.print(f"[bold red]{text(language, ERROR_PREFIX)}[/] {render(exc, language)}")
        raise typer.Exit(EXIT_CODES.get(exc.kind, 1)) from None
    except KeyboardInterrupt:
        language = language_from_environment(os.environ)
        console.print(f"[yellow]{text(language, INTERRUPTED)}[/]")
        raise typer.Exit(130) from None


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in asdict(value).items() if not k.startswith("_")}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    out.print_json(json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True))


def read_secret_line(prompt: str, *, from_stdin: bool) -> str:
    """One secret line: from standard input when asked (scripts), else a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail(f"Expected {prompt.lower()} on standard input, got nothing.", code=2)
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail(f"No terminal to ask for {prompt.lower()}: pass it with the --*-stdin option.", code=2)
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


def split_target(target: str) -> tuple[str, str]:
    """ "SPACE/PATH" into (space, path); the path may be empty (the space root)."""
    space, _, path = target.strip().lstrip("/").partition("/")
    if not space:
        fail(
            f"Give a target as SPACE/PATH (for example cardiologie/rapports), not {target!r}.",
            code=2,
        )
    return space, path


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str | None) -> int | None:
    """'10G', '500M', '1024' into bytes; 'none' or empty for unlimited."""
    if text is None or text.strip().lower() in {"", "none", "unlimited"}:
        return None
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (raw[:-1], raw[-1]) if raw and raw[-1] in _UNITS else (raw, "")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        fail(
            f"Cannot read the size {text!r}: use a number with K, M, G or T (for example 10G).",
            code=2,
        )
    if value < 0:
        fail("A size cannot be negative.", code=2)
    return int(value)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


Command = Callable[..., Any]
