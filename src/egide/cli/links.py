"""`egide link ...` (external links) and `egide space links` (a space's link policy).

The command line acts as the local administrator (the system principal): it
sees and revokes every link, and sets the policy of any space.
"""

from __future__ import annotations

import typer
from rich.table import Table

from egide.cli import spaces
from egide.cli.common import JsonOption, console, handled_errors, out, print_json, services
from egide.services.access.policy import Principal

app = typer.Typer(help="List and revoke external share links.", no_args_is_help=True)
SYSTEM = Principal.system()


@app.command("list")
def link_list(
    ctx: typer.Context,
    space: str | None = typer.Option(None, help="Only the links of this space."),
    active: bool = typer.Option(False, "--active", help="Only links that still open."),
    json_output: bool = JsonOption,
) -> None:
    """List every external link: who made it, its expiry, how often it was used."""
    with handled_errors():
        links = services(ctx).sharing.list_links(SYSTEM, all_links=True)
    links = [
        link
        for link in links
        if (space is None or link.space == space) and (not active or link.state == "active")
    ]
    if json_output:
        print_json(links)
        return
    table = Table("id", "space", "path", "by", "expires", "state", "opens", "downloads", "to")
    for link in links:
        limit = "" if link.max_downloads is None else f"/{link.max_downloads}"
        table.add_row(
            link.id,
            link.space,
            link.path or "(in the trash)",
            link.created_by or "",
            link.expires_at.strftime("%Y-%m-%d %H:%M"),
            link.state,
            str(link.opens),
            f"{link.downloads}{limit}",
            ", ".join(link.recipients),
        )
    out.print(table)


@app.command("revoke")
def link_revoke(ctx: typer.Context, link_id: str) -> None:
    """Withdraw a link now: its token, codes and recipients' sessions stop working."""
    with handled_errors():
        info = services(ctx).sharing.revoke_link(SYSTEM, link_id)
    console.print(f"Link {info.id} revoked.")


@spaces.app.command("links")
def space_links(
    ctx: typer.Context,
    slug: str,
    allow: bool | None = typer.Option(
        None, "--allow/--forbid", help="Allow or forbid external links in this space."
    ),
    require_verification: bool | None = typer.Option(
        None,
        "--require-verification/--optional-verification",
        help="Whether every link must make recipients prove their address with a code.",
    ),
    max_days: int | None = typer.Option(
        None, help="Longest expiry of a new link, in days (0: the links_max_days setting)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Show or set what a space allows for external links."""
    with handled_errors():
        svc = services(ctx)
        if allow is None and require_verification is None and max_days is None:
            policy = svc.sharing.link_policy(SYSTEM, slug)
        else:
            policy = svc.sharing.set_link_policy(
                SYSTEM,
                slug,
                links_allowed=allow,
                max_days=max_days,
                verification_required=require_verification,
            )
    if json_output:
        print_json(policy)
        return
    console.print(
        f"{policy.space}: links {'allowed' if policy.links_allowed else 'forbidden'}, "
        f"at most {policy.max_days} days, verification "
        f"{'required' if policy.verification_required else 'optional'}."
    )
