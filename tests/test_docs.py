"""Documentation stays true to the code: a test fails when something is undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tools.gen_cli_doc import commands

from egide.cli.common import EXIT_CODES
from egide.core.config import Settings
from egide.services.access.policy import Action

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`EGIDE_{field.upper()}`" in read("configuration.md")


@pytest.mark.parametrize("path", [path for path, _ in commands()])
def test_every_cli_command_is_documented(path: str) -> None:
    assert re.search(rf"^### {re.escape(path)}( |$)", read("cli.md"), re.MULTILINE)


def test_every_exit_code_is_documented() -> None:
    text = read("cli.md")
    for kind, code in EXIT_CODES.items():
        assert f"| {code} | `{kind.value}`" in text


@pytest.mark.parametrize("action", [a.value for a in Action])
def test_every_policy_action_is_documented(action: str) -> None:
    assert f"`{action}`" in read("threat-model.md")


def test_relative_links_resolve() -> None:
    sources = [ROOT / "README.md", *DOCS.rglob("*.md")]
    for source in sources:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", source.read_text(encoding="utf-8")):
            assert (source.parent / target).exists(), f"{source.name} links to missing {target}"
