"""`egide init` and what every command does before it starts: settings, data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import PASSWORD, RECOVERY_CODE, Cli, mode_of, said


def test_init_creates_the_vault_and_prints_the_recovery_code_once(cli: Cli) -> None:
    result = cli.ok("init")

    code = result.stdout.strip()
    assert RECOVERY_CODE.match(code), result.stdout
    # Shown once, on standard output alone (a script can capture it).
    assert result.output.count(code) == 1
    assert code not in result.stderr
    assert mode_of(cli.key_file) == 0o600
    assert cli.escrow_file.is_file()
    assert (cli.blob_dir / ".partial").is_dir()
    assert "Vault created" in said(result)


def test_init_json_holds_the_recovery_code(cli: Cli) -> None:
    payload = cli.json("init")

    assert RECOVERY_CODE.match(payload["recovery_code"])
    assert Path(payload["key_file"]) == cli.key_file
    assert Path(payload["escrow_file"]) == cli.escrow_file
    assert payload["admin"] is None
    assert mode_of(cli.key_file) == 0o600


def test_init_twice_is_a_conflict_and_keeps_the_key_file(cli: Cli, recovery_code: str) -> None:
    key_before = cli.key_file.read_bytes()
    escrow_before = cli.escrow_file.read_bytes()

    message = cli.fails(6, "init")

    assert "already exists" in message
    assert "never overwrites key material" in message
    assert cli.key_file.read_bytes() == key_before
    assert cli.escrow_file.read_bytes() == escrow_before
    assert recovery_code not in message


def test_init_with_an_admin(cli: Cli) -> None:
    payload = cli.json("init", "--admin", "root.admin", "--admin-password-stdin", stdin=PASSWORD)

    assert payload["admin"] == "root.admin"
    users = {u["username"]: u for u in cli.json("user", "list")}
    assert users["root.admin"]["global_roles"] == ["admin"]
    assert users["root.admin"]["is_disabled"] is False


def test_init_with_an_admin_and_a_weak_password_says_why(cli: Cli) -> None:
    message = cli.fails(
        2, "init", "--admin", "root.admin", "--admin-password-stdin", stdin="short\n"
    )

    assert "too short" in message
    # Checked before anything is made: no half-made vault whose recovery code was never shown.
    assert not (cli.data_dir / "keys").exists()
    assert not (cli.data_dir / "recovery-escrow.json").exists()


def test_init_admin_password_without_a_terminal_asks_for_the_stdin_option(cli: Cli) -> None:
    message = cli.fails(2, "init", "--admin", "root.admin", stdin="")

    assert "--*-stdin" in message


def test_a_missing_data_dir_says_to_run_init(cli: Cli, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"

    message = cli.fails(13, "--data-dir", str(nowhere), "ls", "cardio", "-u", "alice")

    assert "does not exist" in message
    assert "egide init" in message
    assert not nowhere.exists()


def test_a_data_dir_that_is_a_file_is_unavailable(cli: Cli, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data.txt"
    not_a_dir.write_text("not a vault")

    message = cli.fails(13, "--data-dir", str(not_a_dir), "user", "list")

    assert str(not_a_dir) in message
    assert not_a_dir.read_text() == "not a vault"


def test_an_empty_data_dir_says_to_run_init(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    message = cli.fails(13, "--data-dir", str(empty), "ls", "cardio", "-u", "alice")

    assert "key file" in message
    assert "egide init" in message


def test_the_data_dir_from_the_environment(cli: Cli, recovery_code: str) -> None:
    # The fixture passes it only through EGIDE_DATA_DIR; init found it there.
    assert cli.key_file.is_file()
    assert cli.json("user", "list") == []


def test_a_missing_blob_directory_is_unavailable(cli: Cli, alice: str) -> None:
    (cli.blob_dir / ".partial").rmdir()
    cli.blob_dir.rmdir()

    message = cli.fails(13, "ls", "cardio", "-u", alice)

    assert "blob directory" in message
    assert "egide init" in message


def test_an_invalid_setting_names_the_variable(
    cli: Cli, recovery_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGIDE_SEGMENT_SIZE", "huge")

    message = cli.fails(2, "user", "list")

    assert "segment_size" in message
    assert "EGIDE_" in message


def test_an_unparseable_database_url_is_a_configuration_error(
    cli: Cli, recovery_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGIDE_DATABASE_URL", "not a database url")

    message = cli.fails(2, "user", "list")

    assert "EGIDE_DATABASE_URL" in message


def test_an_unreachable_database_is_unavailable(
    cli: Cli, recovery_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on the loopback: refused at once, no waiting on a timeout.
    monkeypatch.setenv("EGIDE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/egide")

    message = cli.fails(13, "user", "list")

    assert "database" in message.lower()


def test_json_outputs_are_plain_json(cli: Cli, recovery_code: str) -> None:
    # Nothing but the JSON document on standard output (messages go to stderr).
    result = cli.ok("space", "list", "--json")
    assert json.loads(result.stdout) == []


def test_a_missing_or_malformed_config_file_is_reported(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EGIDE_CONFIG", str(tmp_path / "absent.toml"))
    assert "EGIDE_CONFIG" in cli.fails(2, "user", "list")
    broken = tmp_path / "broken.toml"
    broken.write_text("protection_days = = 3\n")
    monkeypatch.setenv("EGIDE_CONFIG", str(broken))
    assert "EGIDE_CONFIG" in cli.fails(2, "user", "list")
