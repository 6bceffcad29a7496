"""The documentation stays true to the code: a test fails when something is undocumented.

After Datasette's `tests/test_docs.py`. Checked here:

- every setting (`Settings` field) is a row of docs/configuration.md, as
  `EGIDE_<NAME>` with its TOML key and its default;
- every command of the `egide` CLI has a `### egide ...` section in
  docs/cli.md naming its arguments, and every option of it appears there;
- every exit code of `EXIT_CODES` is a row of the exit-code table of
  docs/cli.md;
- every `Action` of the access policy is a row of the policy table
  (docs/architecture.md or docs/threat-model.md) that says what the code
  decides: the role or global roles needed and the token scope;
- every module a document names (`core/...py`, `services/...py`, ...) exists;
- relative links between the documents resolve, anchors included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from egide.cli.common import EXIT_CODES
from egide.cli.main import app
from egide.core.config import Settings
from egide.services.access.policy import Action, AdminRule, ContentRule, rule_for

#: A click command as Typer builds it (Typer ships its own copy of click's classes).
Command = Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "egide"
POLICY_DOCS = ("architecture.md", "threat-model.md")

_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_MODULE = re.compile(r"`((?:src/egide/)?(?:core|services|web|cli)/[\w/]+\.py)")


@cache
def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def prose(text: str) -> str:
    """The text without its fenced code blocks (shell comments are not headings)."""
    return _FENCE.sub("", text)


def table_row(text: str, first_cell: str) -> list[str] | None:
    """The cells of the table row whose first cell is `first_cell`, if there is one."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells[0] == first_cell:
            return cells
    return None


# Settings -----------------------------------------------------------------------


def _rendered_default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    row = table_row(read("configuration.md"), f"`EGIDE_{field.upper()}`")
    assert row is not None, f"EGIDE_{field.upper()} has no row in docs/configuration.md"
    assert row[1] == f"`{field}`", f"the TOML key of EGIDE_{field.upper()} should be `{field}`"
    default = _rendered_default(Settings.model_fields[field].default)
    if default is not None:
        assert f"`{default}`" in row[2], f"the default of {field} is `{default}`"


# CLI ----------------------------------------------------------------------------


def _walk(command: Command, path: tuple[str, ...]) -> Iterator[tuple[str, Command]]:
    children = getattr(command, "commands", None)
    if children:
        for name in sorted(children):
            yield from _walk(children[name], (*path, name))
    else:
        yield " ".join(path), command


@cache
def cli_root() -> Command:
    return typer.main.get_command(app)


@cache
def cli_commands() -> dict[str, Command]:
    return dict(_walk(cli_root(), ("egide",)))


@cache
def cli_sections() -> dict[str, str]:
    """`### ` heading -> the text below it, up to the next heading of level 2 or 3."""
    parts = re.split(r"^(#{2,3} .*)$", prose(read("cli.md")), flags=re.MULTILINE)
    return {
        heading.removeprefix("### ").strip(): body
        for heading, body in zip(parts[1::2], parts[2::2], strict=True)
        if heading.startswith("### ")
    }


def _heading(path: str, command: Command) -> str:
    """`egide space grant SLUG PRINCIPAL ROLE`: the path, then the arguments in capitals."""
    arguments = [(p.name or "").upper() for p in command.params if p.param_type_name == "argument"]
    return " ".join([path, *arguments])


def _options(command: Command) -> list[str]:
    """The long flag of every option (its first `--` spelling)."""
    return [
        next(opt for opt in param.opts if opt.startswith("--"))
        for param in command.params
        if param.param_type_name == "option" and param.name != "help"
    ]


@pytest.mark.parametrize("path", sorted(cli_commands()))
def test_every_cli_command_is_documented(path: str) -> None:
    command = cli_commands()[path]
    heading = _heading(path, command)
    sections = cli_sections()
    assert heading in sections, f"docs/cli.md has no section `### {heading}`"
    for flag in _options(command):
        assert f"`{flag}" in sections[heading], f"{path}: option {flag} is not documented"


def test_cli_documents_no_command_that_does_not_exist() -> None:
    known = {_heading(path, command) for path, command in cli_commands().items()}
    stale = [h for h in cli_sections() if h.startswith("egide ") and h not in known]
    assert not stale, f"docs/cli.md documents commands the CLI does not have: {stale}"


def test_global_options_are_documented() -> None:
    for flag in _options(cli_root()):
        assert flag in read("cli.md"), f"global option {flag} is not documented"


def test_every_exit_code_is_documented() -> None:
    text = read("cli.md")
    for kind, code in EXIT_CODES.items():
        assert re.search(rf"^\| {code} \| `{kind.value}` \|", text, re.MULTILINE), (
            f"exit code {code} (`{kind.value}`) is missing from the table of docs/cli.md"
        )
    for code in (0, 1, 130):
        assert re.search(rf"^\| {code} \| +\|", text, re.MULTILINE), f"exit code {code}"


# The access policy -------------------------------------------------------------


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_every_policy_action_is_documented(action: Action) -> None:
    rows = [table_row(read(name), f"`{action.value}`") for name in POLICY_DOCS]
    row = next((r for r in rows if r is not None), None)
    assert row is not None, f"`{action.value}` has no row in the policy table"
    _, kind, allowed, scope = row[:4]
    rule = rule_for(action)
    if isinstance(rule, ContentRule):
        assert kind == "content"
        assert allowed.split(",")[0].strip() == rule.least.value
        assert ("any administrator" in allowed) == rule.admin_anywhere
    else:
        assert isinstance(rule, AdminRule), f"{action.value} has no rule: it is denied"
        assert kind == "administrative"
        assert {r.strip() for r in allowed.split(",")} == {r.value for r in rule.roles}
    assert scope == f"`{rule.scope.value}`"


# Module references and links ------------------------------------------------------


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_modules_exist(doc: Path) -> None:
    for name in _MODULE.findall(doc.read_text(encoding="utf-8")):
        path = ROOT / name if name.startswith("src/") else SRC / name
        assert path.is_file(), f"{doc.name} names {name}, which does not exist"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(prose(path.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        result.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return frozenset(result)


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    for link in _LINK.findall(prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):
            continue  # http:, https:, mailto:
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), (
                f"{doc.name} links to #{anchor}, not a heading of {path.name}"
            )
