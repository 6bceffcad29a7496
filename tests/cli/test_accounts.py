"""`egide user ...` and `egide group ...`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from egide.core.config import Settings
from egide.services.accounts.errors import BadCredentials
from egide.services.registry import Services, build_services
from tests.cli.conftest import PASSWORD, Cli, said
from tests.passkey_authenticator import SoftPasskey

OTHER_PASSWORD = "quiet orchard lantern 5521"


@pytest.fixture
def services(cli: Cli, recovery_code: str, database_url: str) -> Iterator[Services]:
    """The same vault seen through the services, to check what the CLI stored."""
    svc = build_services(Settings(data_dir=cli.data_dir, database_url=database_url))
    yield svc
    svc.close()


def users(cli: Cli) -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in cli.json("user", "list")}


def can_log_in(svc: Services, username: str, password: str) -> bool:
    try:
        svc.accounts.authenticate(username, password)
    except BadCredentials:
        return False
    return True


def test_user_add_with_password_from_stdin(cli: Cli, services: Services) -> None:
    payload = cli.json(
        "user",
        "add",
        "carol",
        "--display-name",
        "Carol Martin",
        "--email",
        "carol@example.org",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )

    assert payload["user"]["username"] == "carol"
    assert payload["password"] is None
    listed = users(cli)["carol"]
    assert listed["display_name"] == "Carol Martin"
    assert listed["email"] == "carol@example.org"
    assert can_log_in(services, "carol", PASSWORD)
    assert not can_log_in(services, "carol", OTHER_PASSWORD)


def test_user_add_with_a_generated_password(cli: Cli, services: Services) -> None:
    payload = cli.json("user", "add", "dave", "--generate-password")

    generated = payload["password"]
    assert isinstance(generated, str)
    assert len(generated) >= 12
    assert can_log_in(services, "dave", generated)


def test_a_generated_password_is_printed_once_on_stdout(cli: Cli, services: Services) -> None:
    result = cli.ok("user", "add", "erin", "--generate-password")

    generated = result.stdout.strip()
    assert result.output.count(generated) == 1
    assert can_log_in(services, "erin", generated)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pass", "too short"),
        ("password1234", "list of common passwords"),
        ("Xcarol-2024-spring", "must not contain your username"),
    ],
    ids=["too-short", "common", "contains-username"],
)
def test_a_weak_password_is_refused_with_the_reason(
    cli: Cli, recovery_code: str, password: str, why: str
) -> None:
    message = cli.fails(2, "user", "add", "carol", "--password-stdin", stdin=password + "\n")

    assert why in message
    assert "carol" not in users(cli)


def test_a_password_on_empty_stdin_is_refused(cli: Cli, recovery_code: str) -> None:
    message = cli.fails(2, "user", "add", "carol", "--password-stdin", stdin="")

    assert "standard input" in message
    assert "carol" not in users(cli)


def test_a_taken_username_is_a_conflict(cli: Cli, recovery_code: str) -> None:
    cli.ok("user", "add", "carol", "--generate-password")

    message = cli.fails(6, "user", "add", "CAROL", "--generate-password")

    assert "already taken" in message


def test_disable_and_enable(cli: Cli, alice: str) -> None:
    cli.ok("user", "disable", alice)

    assert users(cli)[alice]["is_disabled"] is True
    message = cli.fails(3, "ls", "cardio", "-u", alice)
    assert "disabled" in message

    cli.ok("user", "enable", alice)

    assert users(cli)[alice]["is_disabled"] is False
    cli.ok("ls", "cardio", "-u", alice)


def test_disable_an_unknown_user(cli: Cli, recovery_code: str) -> None:
    message = cli.fails(5, "user", "disable", "nobody")

    assert "No user named nobody" in message


def test_passwd(cli: Cli, alice: str, services: Services) -> None:
    cli.ok("user", "passwd", alice, "--password-stdin", stdin=OTHER_PASSWORD + "\n")

    assert can_log_in(services, alice, OTHER_PASSWORD)
    assert not can_log_in(services, alice, PASSWORD)


def test_passwd_refuses_a_weak_password_and_keeps_the_old_one(
    cli: Cli, alice: str, services: Services
) -> None:
    message = cli.fails(2, "user", "passwd", alice, "--password-stdin", stdin="alice-1234567\n")

    assert "username" in message
    assert can_log_in(services, alice, PASSWORD)


def test_roles(cli: Cli, alice: str) -> None:
    cli.ok("user", "roles", alice, "--role", "dpo", "--role", "Security")
    assert sorted(users(cli)[alice]["global_roles"]) == ["dpo", "security"]

    cli.ok("user", "roles", alice)
    assert users(cli)[alice]["global_roles"] == []


def test_an_unknown_role_is_refused(cli: Cli, alice: str) -> None:
    message = cli.fails(2, "user", "roles", alice, "--role", "wizard")

    assert "Unknown global role 'wizard'" in message
    assert "admin, dpo or security" in message


def test_the_command_line_can_disable_and_enable_the_last_admin(cli: Cli) -> None:
    # The web refuses to lock every administrator out; the local administrator
    # (who holds the data directory) may, and is the way back in.
    cli.ok("init", "--admin", "root.admin", "--admin-password-stdin", stdin=PASSWORD)

    cli.ok("user", "disable", "root.admin")
    assert users(cli)["root.admin"]["is_disabled"] is True

    cli.ok("user", "enable", "root.admin")
    assert users(cli)["root.admin"]["is_disabled"] is False


def test_groups(cli: Cli, alice: str, bob: str) -> None:
    cli.ok("group", "add", "nurses", "--description", "Night shift")
    cli.ok("group", "add-member", "nurses", alice)
    cli.ok("group", "add-member", "nurses", bob)

    groups = {g["name"]: g for g in cli.json("group", "list")}
    assert groups["nurses"]["member_count"] == 2
    assert groups["nurses"]["description"] == "Night shift"
    members = cli.json("group", "members", "nurses")
    assert sorted(m["username"] for m in members) == [alice, bob]

    cli.ok("group", "remove-member", "nurses", bob)

    assert [m["username"] for m in cli.json("group", "members", "nurses")] == [alice]
    assert cli.ok("group", "members", "nurses").stdout.split() == [alice]

    cli.ok("group", "rm", "nurses")

    assert cli.json("group", "list") == []
    assert {alice, bob} <= set(users(cli))


def test_group_errors(cli: Cli, alice: str) -> None:
    cli.ok("group", "add", "nurses")

    assert "already exists" in cli.fails(6, "group", "add", "nurses")
    assert "No group named ghosts" in cli.fails(5, "group", "members", "ghosts")
    assert "No user named nobody" in cli.fails(5, "group", "add-member", "nurses", "nobody")


def test_a_group_role_gives_its_members_access(cli: Cli, alice: str, bob: str) -> None:
    (cli.data_dir.parent / "note.txt").write_bytes(b"shift notes")
    cli.ok("put", "note.txt", "cardio/note.txt", "-u", alice)
    cli.ok("group", "add", "nurses")
    cli.ok("space", "grant", "cardio", "group:nurses", "reader")
    cli.fails(5, "get", "cardio/note.txt", "-", "-u", bob)

    cli.ok("group", "add-member", "nurses", bob)

    assert cli.ok("get", "cardio/note.txt", "-", "-u", bob).stdout_bytes == b"shift notes"
    # A reader reads, but does not write.
    message = cli.fails(4, "put", "note.txt", "cardio/other.txt", "-u", bob)
    assert "other.txt" not in cli.ls("cardio", alice)
    assert "Ask a manager of the space for the contributor role" in message


def test_an_administrator_resets_a_lost_authenticator(
    cli: Cli, alice: str, database_url: str
) -> None:
    settings = Settings(data_dir=cli.data_dir, database_url=database_url)
    svc = build_services(settings)
    try:
        who = svc.accounts.principal_for_username(alice)
        uri = svc.mfa.begin_totp(who).uri
        secret = parse_qs(urlparse(uri).query)["secret"][0]
        svc.mfa.confirm_totp(who, pyotp.TOTP(secret).now())
        assert svc.mfa.status(who).totp
    finally:
        svc.close()
    result = cli.ok("user", "mfa-reset", alice)
    assert "Removed for alice: the authenticator app, with the recovery codes" in said(result)
    svc = build_services(settings)
    try:
        assert not svc.mfa.status(svc.accounts.principal_for_username(alice)).totp
    finally:
        svc.close()
    assert "No authenticator app is set up" in cli.fails(5, "user", "mfa-reset", alice)


def test_mfa_reset_also_removes_passkeys(cli: Cli, alice: str, database_url: str) -> None:
    settings = Settings(data_dir=cli.data_dir, database_url=database_url)
    svc = build_services(settings)
    try:
        _, pending = svc.sessions.login(alice, PASSWORD)
        passkey = SoftPasskey(settings.resolved_public_url)
        options = svc.sessions.passkey_registration_options(pending.cookie)
        svc.sessions.register_passkey(pending.cookie, "Clé USB", passkey.create_json(options))
        assert svc.mfa.status(svc.accounts.principal_for_username(alice)).passkeys == 1
    finally:
        svc.close()
    result = cli.ok("user", "mfa-reset", alice)
    assert "Removed for alice: 1 passkey(s), with the recovery codes" in said(result)
    svc = build_services(settings)
    try:
        status = svc.mfa.status(svc.accounts.principal_for_username(alice))
        assert (status.passkeys, status.recovery_codes_left) == (0, 0)
    finally:
        svc.close()
