"""`egide space ...`: spaces, quotas, roles on a space and on a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli


def spaces(cli: Cli) -> dict[str, dict[str, Any]]:
    return {s["slug"]: s for s in cli.json("space", "list")}


def members(cli: Cli, slug: str, *path: str) -> dict[str, str]:
    return {m["principal"]: m["role"] for m in cli.json("space", "members", slug, *path)}


def test_create_with_a_quota_and_a_manager(cli: Cli, bob: str, tmp_path: Path) -> None:
    info = cli.json(
        "space", "create", "neuro", "--title", "Neurologie", "--quota", "1M", "--manager", bob
    )

    assert info["slug"] == "neuro"
    listed = spaces(cli)["neuro"]
    assert listed["title"] == "Neurologie"
    assert listed["quota_bytes"] == 1 << 20
    assert listed["used_bytes"] == 0
    assert members(cli, "neuro") == {f"user:{bob}": "manager"}
    # The manager can write there at once.
    (tmp_path / "a.txt").write_bytes(b"x" * 1000)
    cli.ok("put", "a.txt", "neuro/a.txt", "-u", bob)
    assert spaces(cli)["neuro"]["used_bytes"] == 1000


def test_space_list_table(cli: Cli, recovery_code: str) -> None:
    cli.ok("space", "create", "neuro", "--quota", "2G")

    table = cli.ok("space", "list").stdout

    assert "neuro" in table
    assert "2.0 GiB" in table


def test_quota_changes(cli: Cli, recovery_code: str) -> None:
    cli.ok("space", "create", "neuro", "--quota", "1M")

    cli.ok("space", "quota", "neuro", "--quota", "2M", "--history-quota", "10M")
    assert spaces(cli)["neuro"]["quota_bytes"] == 2 << 20
    assert spaces(cli)["neuro"]["history_quota_bytes"] == 10 << 20

    cli.ok("space", "quota", "neuro", "--quota", "none")
    assert spaces(cli)["neuro"]["quota_bytes"] is None


def test_an_unreadable_quota_says_how_to_write_one(cli: Cli, recovery_code: str) -> None:
    message = cli.fails(2, "space", "create", "neuro", "--quota", "12X")

    assert "K, M, G or T" in message
    assert "neuro" not in spaces(cli)


@pytest.mark.parametrize("slug", ["Bad Slug", "x", "-neuro", "dr-dupont/jean"])
def test_a_bad_slug_is_refused_with_the_rule(cli: Cli, recovery_code: str, slug: str) -> None:
    message = cli.fails(2, "space", "create", "--", slug)

    assert "lower-case letters, digits and dashes" in message
    assert spaces(cli) == {}


def test_a_taken_slug_is_a_conflict(cli: Cli, recovery_code: str) -> None:
    cli.ok("space", "create", "neuro")

    assert "already exists" in cli.fails(6, "space", "create", "neuro")


def test_grant_and_revoke_on_the_space(cli: Cli, alice: str, bob: str, tmp_path: Path) -> None:
    (tmp_path / "cr.txt").write_bytes(b"compte rendu")
    cli.ok("put", "cr.txt", "cardio/cr.txt", "-u", alice)
    cli.fails(5, "get", "cardio/cr.txt", "-", "-u", bob)

    cli.ok("space", "grant", "cardio", f"user:{bob}", "reader")

    assert members(cli, "cardio") == {f"user:{alice}": "contributor", f"user:{bob}": "reader"}
    assert cli.ok("get", "cardio/cr.txt", "-", "-u", bob).stdout_bytes == b"compte rendu"

    assert "Role removed" in cli.ok("space", "revoke", "cardio", f"user:{bob}").output

    assert members(cli, "cardio") == {f"user:{alice}": "contributor"}
    cli.fails(5, "get", "cardio/cr.txt", "-", "-u", bob)
    assert "no such role" in cli.ok("space", "revoke", "cardio", f"user:{bob}").output


def test_grant_on_a_folder_is_inherited_below_it_only(
    cli: Cli, alice: str, bob: str, tmp_path: Path
) -> None:
    (tmp_path / "cr.txt").write_bytes(b"dossier de M. X")
    cli.ok("mkdir", "-p", "cardio/dossier/2026", "-u", alice)
    cli.ok("put", "cr.txt", "cardio/dossier/2026/cr.txt", "-u", alice)
    cli.ok("put", "cr.txt", "cardio/other.txt", "-u", alice)

    cli.ok("space", "grant", "cardio", f"user:{bob}", "reader", "--path", "dossier")

    assert members(cli, "cardio", "--path", "dossier") == {f"user:{bob}": "reader"}
    assert f"user:{bob}" not in members(cli, "cardio")
    got = cli.ok("get", "cardio/dossier/2026/cr.txt", "-", "-u", bob).stdout_bytes
    assert got == b"dossier de M. X"
    cli.fails(5, "get", "cardio/other.txt", "-", "-u", bob)

    cli.ok("space", "revoke", "cardio", f"user:{bob}", "--path", "dossier")

    assert members(cli, "cardio", "--path", "dossier") == {}
    cli.fails(5, "get", "cardio/dossier/2026/cr.txt", "-", "-u", bob)


def test_grant_errors(cli: Cli, alice: str, tmp_path: Path) -> None:
    (tmp_path / "cr.txt").write_bytes(b"x")
    cli.ok("put", "cr.txt", "cardio/cr.txt", "-u", alice)

    assert "reader, contributor" in cli.fails(2, "space", "grant", "cardio", "user:alice", "boss")
    # A role on a single file is a share of that file (issue 7): accepted.
    cli.ok("space", "grant", "cardio", "user:alice", "reader", "--path", "cr.txt")
    cli.fails(5, "space", "grant", "cardio", "user:nobody", "reader")
    cli.fails(5, "space", "grant", "nowhere", "user:alice", "reader")
    assert members(cli, "cardio") == {"user:alice": "contributor"}


def test_create_with_an_unknown_manager_creates_nothing(cli: Cli, recovery_code: str) -> None:
    message = cli.fails(5, "space", "create", "neuro", "--manager", "nobody")

    assert "No user named nobody" in message
    assert "neuro" not in spaces(cli)


def test_quota_changes_only_the_limit_given(cli: Cli, recovery_code: str) -> None:
    cli.ok("space", "create", "labo", "--quota", "10M", "--history-quota", "5M")
    cli.ok("space", "quota", "labo", "--quota", "20M")
    listed = {s["slug"]: s for s in json.loads(cli.ok("space", "list", "--json").stdout)}
    assert listed["labo"]["quota_bytes"] == 20 * 1024 * 1024
    assert listed["labo"]["history_quota_bytes"] == 5 * 1024 * 1024
    cli.ok("space", "quota", "labo", "--history-quota", "none")
    listed = {s["slug"]: s for s in json.loads(cli.ok("space", "list", "--json").stdout)}
    assert listed["labo"]["quota_bytes"] == 20 * 1024 * 1024
    assert listed["labo"]["history_quota_bytes"] is None
