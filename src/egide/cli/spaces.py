"""`egide space ...`: spaces, quotas, members and folder roles."""

from __future__ import annotations

import typer
from rich.table import Table

from egide.cli.common import (
    JsonOption,
    console,
    handled_errors,
    human_size,
    out,
    parse_size,
    print_json,
    services,
)
from egide.services.access.policy import Principal

app = typer.Typer(help="Manage spaces and who may use them.", no_args_is_help=True)
SYSTEM = Principal.system()


@app.command("create")
def space_create(
    ctx: typer.Context,
    slug: str,
    title: str | None = typer.Option(None, help="Display title (stored encrypted)."),
    quota: str | None = typer.Option(None, help="Quota for current files, e.g. 50G."),
    history_quota: str | None = typer.Option(
        None,
        help="Limit for old versions (pruned once out of their protection window, never "
        "blocking an upload), e.g. 20G.",
    ),
    manager: list[str] = typer.Option(
        [], help="Give this user the manager role on the new space (repeatable)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create a space (a department, a team, a patient record)."""
    with handled_errors():
        svc = services(ctx)
        info = svc.spaces.create(
            SYSTEM,
            slug,
            title=title,
            quota_bytes=parse_size(quota),
            history_quota_bytes=parse_size(history_quota),
            managers=[f"user:{username}" for username in manager],
        )
    if json_output:
        print_json(info)
        return
    console.print(f"[green]Space {info.slug} created.[/]")


@app.command("list")
def space_list(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """List every space (administrator view)."""
    with handled_errors():
        items = services(ctx).spaces.list_spaces(SYSTEM)
    if json_output:
        print_json(items)
        return
    table = Table("space", "title", "used", "quota", "created")
    for space in items:
        table.add_row(
            space.slug,
            space.title,
            human_size(space.used_bytes),
            human_size(space.quota_bytes) if space.quota_bytes is not None else "unlimited",
            space.created_at.strftime("%Y-%m-%d"),
        )
    out.print(table)


@app.command("quota")
def space_quota(
    ctx: typer.Context,
    slug: str,
    quota: str | None = typer.Option(None, help="New quota (e.g. 100G; 'none' for unlimited)."),
    history_quota: str | None = typer.Option(None, help="New limit for old versions and trash."),
) -> None:
    """Change a space's quotas."""
    with handled_errors():
        svc = services(ctx)
        current = svc.spaces.get(SYSTEM, slug)
        # An option left out keeps its value ('none' makes a limit unlimited).
        svc.spaces.set_quota(
            SYSTEM,
            slug,
            quota_bytes=parse_size(quota) if quota is not None else current.quota_bytes,
            history_quota_bytes=(
                parse_size(history_quota)
                if history_quota is not None
                else current.history_quota_bytes
            ),
        )
    console.print(f"Quotas of {slug} updated.")


@app.command("grant")
def space_grant(
    ctx: typer.Context,
    slug: str,
    principal: str = typer.Argument(..., help="user:NAME or group:NAME"),
    role: str = typer.Argument(..., help="reader, contributor or manager"),
    path: str = typer.Option("", help="A folder or a file (default: the whole space)."),
) -> None:
    """Give a user or a group a role on a space, a folder (inherited below) or a file."""
    with handled_errors():
        view = services(ctx).spaces.grant(SYSTEM, slug, path, principal, role)
    console.print(f"{view.principal} is {view.role} on {slug}{view.path}.")


@app.command("revoke")
def space_revoke(
    ctx: typer.Context,
    slug: str,
    principal: str = typer.Argument(..., help="user:NAME or group:NAME"),
    path: str = typer.Option("", help="The folder or file the role was given on."),
) -> None:
    """Remove a role given on a space, a folder or a file."""
    with handled_errors():
        removed = services(ctx).spaces.revoke(SYSTEM, slug, path, principal)
    console.print("Role removed." if removed else "There was no such role to remove.")


@app.command("members")
def space_members(
    ctx: typer.Context,
    slug: str,
    path: str = typer.Option("", help="A folder or a file (default: the whole space)."),
    json_output: bool = JsonOption,
) -> None:
    """List the roles given directly on a space, a folder or a file."""
    with handled_errors():
        views = services(ctx).spaces.grants(SYSTEM, slug, path)
    if json_output:
        print_json(views)
        return
    table = Table("principal", "role", "on", "since")
    for view in views:
        table.add_row(view.principal, view.role, view.path, view.created_at.strftime("%Y-%m-%d"))
    out.print(table)
