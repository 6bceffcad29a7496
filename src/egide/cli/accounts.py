"""`egide user ...` and `egide group ...`: run as the local administrator."""

from __future__ import annotations

import secrets

import typer
from rich.table import Table

from egide.cli.common import (
    JsonOption,
    console,
    fail,
    handled_errors,
    out,
    print_json,
    read_secret_line,
    services,
)
from egide.services.access.policy import GlobalRole, Principal
from egide.services.mfa.errors import NoTotpFactor

users = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
groups = typer.Typer(help="Manage groups of users.", no_args_is_help=True)

SYSTEM = Principal.system()


def _roles(values: list[str]) -> list[GlobalRole]:
    parsed = []
    for value in values:
        try:
            parsed.append(GlobalRole(value.strip().lower()))
        except ValueError:
            fail(f"Unknown global role {value!r}: use admin, dpo or security.", code=2)
    return parsed


@users.command("add")
def user_add(
    ctx: typer.Context,
    username: str,
    display_name: str = typer.Option("", help="Full name shown in the interface."),
    email: str | None = typer.Option(None, help="E-mail address (for notifications)."),
    role: list[str] = typer.Option([], help="Global role: admin, dpo or security (repeatable)."),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input."),
    generate_password: bool = typer.Option(
        False, help="Generate a one-time password and print it once."
    ),
    no_password: bool = typer.Option(False, help="No password: single sign-on only."),
    json_output: bool = JsonOption,
) -> None:
    """Create a user account."""
    with handled_errors():
        svc = services(ctx)
        password: str | None
        if no_password:
            password = None
        elif generate_password:
            password = secrets.token_urlsafe(18)
        else:
            password = read_secret_line("Password", from_stdin=password_stdin)
        user = svc.accounts.create_user(
            SYSTEM,
            username,
            password=password,
            display_name=display_name,
            email=email,
            roles=_roles(role),
            must_change_password=generate_password,
        )
    if json_output:
        payload = {"user": user, "password": password if generate_password else None}
        print_json(payload)
        return
    console.print(f"[green]User {user.username} created.[/]")
    if generate_password and password:
        console.print("One-time password (give it to the user; it is not shown again):")
        out.print(password)


@users.command("list")
def user_list(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """List user accounts."""
    with handled_errors():
        items = services(ctx).accounts.list_users(SYSTEM)
    if json_output:
        print_json(items)
        return
    table = Table("username", "name", "roles", "status", "created")
    for user in items:
        table.add_row(
            user.username,
            user.display_name,
            ", ".join(sorted(str(r) for r in user.global_roles)),
            "disabled" if user.is_disabled else "active",
            user.created_at.strftime("%Y-%m-%d"),
        )
    out.print(table)


@users.command("disable")
def user_disable(ctx: typer.Context, username: str) -> None:
    """Disable an account at once (its API tokens are revoked)."""
    with handled_errors():
        services(ctx).accounts.disable_user(SYSTEM, username)
    console.print(f"User {username} disabled; every API token of theirs is revoked.")


@users.command("enable")
def user_enable(ctx: typer.Context, username: str) -> None:
    """Enable a disabled account again."""
    with handled_errors():
        services(ctx).accounts.enable_user(SYSTEM, username)
    console.print(f"User {username} enabled.")


@users.command("mfa-reset")
def user_mfa_reset(ctx: typer.Context, username: str) -> None:
    """Remove a user's second factors, authenticator app and passkeys, with the
    recovery codes (a lost or stolen phone or key).

    The user sets up a new one at the next sign-in (the MFA policy asks for it).
    """
    with handled_errors():
        svc = services(ctx)
        passkeys = svc.passkeys.remove_all(SYSTEM, username)
        try:
            svc.mfa.remove_totp(SYSTEM, username)
            app = True
        except NoTotpFactor:
            if not passkeys:
                raise
            app = False
    removed = (["the authenticator app"] if app else []) + (
        [f"{passkeys} passkey(s)"] if passkeys else []
    )
    console.print(
        f"Removed for {username}: {' and '.join(removed)}, with the recovery codes; they set up "
        "a new second factor at their next sign-in."
    )


@users.command("passwd")
def user_passwd(
    ctx: typer.Context,
    username: str,
    password_stdin: bool = typer.Option(False, help="Read the new password from standard input."),
    must_change: bool = typer.Option(
        True,
        help="The user must choose their own password at the next sign-in (the default for a "
        "reset); --no-must-change when the user is the one typing it here.",
    ),
) -> None:
    """Set a new password for a user (administrator reset).

    Every session of the user ends and every API token is revoked.
    """
    with handled_errors():
        password = read_secret_line("New password", from_stdin=password_stdin)
        services(ctx).accounts.change_password(SYSTEM, username, password, must_change=must_change)
    console.print(f"Password of {username} changed; its sessions and API tokens are ended.")


@users.command("roles")
def user_roles(
    ctx: typer.Context,
    username: str,
    role: list[str] = typer.Option([], help="Global roles to hold (repeatable); none clears."),
) -> None:
    """Set a user's global roles (admin, dpo, security)."""
    with handled_errors():
        services(ctx).accounts.set_roles(SYSTEM, username, _roles(role))
    console.print(f"Roles of {username}: {', '.join(role) or 'none'}.")


@groups.command("add")
def group_add(
    ctx: typer.Context, name: str, description: str = typer.Option("", help="What it is for.")
) -> None:
    """Create a group."""
    with handled_errors():
        services(ctx).accounts.create_group(SYSTEM, name, description)
    console.print(f"Group {name} created.")


@groups.command("rm")
def group_rm(ctx: typer.Context, name: str) -> None:
    """Delete a group (its members keep their own accounts)."""
    with handled_errors():
        services(ctx).accounts.delete_group(SYSTEM, name)
    console.print(f"Group {name} deleted.")


@groups.command("list")
def group_list(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """List groups."""
    with handled_errors():
        items = services(ctx).accounts.list_groups(SYSTEM)
    if json_output:
        print_json(items)
        return
    table = Table("group", "members", "description")
    for group in items:
        table.add_row(group.name, str(group.member_count), group.description)
    out.print(table)


@groups.command("add-member")
def group_add_member(ctx: typer.Context, group: str, username: str) -> None:
    """Add a user to a group."""
    with handled_errors():
        services(ctx).accounts.add_member(SYSTEM, group, username)
    console.print(f"{username} added to {group}.")


@groups.command("remove-member")
def group_remove_member(ctx: typer.Context, group: str, username: str) -> None:
    """Remove a user from a group."""
    with handled_errors():
        services(ctx).accounts.remove_member(SYSTEM, group, username)
    console.print(f"{username} removed from {group}.")


@groups.command("members")
def group_members(ctx: typer.Context, group: str, json_output: bool = JsonOption) -> None:
    """List a group's members."""
    with handled_errors():
        members = services(ctx).accounts.list_members(SYSTEM, group)
    if json_output:
        print_json(members)
        return
    for user in members:
        out.print(user.username)
