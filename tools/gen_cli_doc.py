"""Print the command reference of docs/cli.md from the Typer app (checked by tests/test_docs.py).

python tools/gen_cli_doc.py > /tmp/commands.md
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from egide.cli.main import app


def commands(
    command: Any = None, prefix: tuple[str, ...] = ("egide",)
) -> Iterator[tuple[str, Any]]:
    command = command or typer.main.get_command(app)
    children = getattr(command, "commands", None)
    if children:
        for name in sorted(children):
            yield from commands(children[name], (*prefix, name))
    else:
        yield " ".join(prefix), command


def main() -> None:
    for path, command in commands():
        arguments = [p.name.upper() for p in command.params if p.param_type_name == "argument"]
        print(f"### {path}" + (" " + " ".join(arguments) if arguments else ""))  # noqa: T201
        print()  # noqa: T201
        print((command.help or "").strip().split("\n")[0])  # noqa: T201
        print()  # noqa: T201
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                helptext = f" — {param.help}" if getattr(param, "help", None) else ""
                print(f"- `{'/'.join(param.opts)}`{helptext}")  # noqa: T201
        print()  # noqa: T201


if __name__ == "__main__":
    main()
