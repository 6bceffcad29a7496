"""`egide link ...` (external links) and `egide space links` (a space's link policy).

The command line acts as the local administrator (the system principal): it
sees and revokes every link, and sets the policy of any space.
"""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from egide.cli import spaces
from egide.cli.common import (
    JsonOption,
    UserOption,
    acting_user,
    console,
    handled_errors,
    out,
    print_json,
    services,
    split_target,
)
from egide.services.access.policy import Principal
from egide.services.sharing.common import RECIPIENT_PAGE

app = typer.Typer(
    help="List and revoke external share links; make file requests.", no_args_is_help=True
)
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
    table = Table(
        "id", "kind", "space", "path", "by", "expires", "state", "opens", "downloads", "to"
    )
    for link in links:
        limit = "" if link.max_downloads is None else f"/{link.max_downloads}"
        used = f"{link.downloads}{limit}"
        if link.kind == "request":
            used = f"{link.received_files} received"
        table.add_row(
            link.id,
            link.kind,
            link.space,
            link.path or "(in the trash)",
            link.created_by or "",
            link.expires_at.strftime("%Y-%m-%d %H:%M"),
            link.state,
            str(link.opens),
            used,
            ", ".join(link.recipients),
        )
    out.print(table)


@app.command("request")
def link_request(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE/PATH of the folder that receives the files."),
    user: str | None = UserOption,
    recipient: list[str] = typer.Option(
        [], "--recipient", "-r", help="An address that may send (repeat for several)."
    ),
    days: int | None = typer.Option(
        None, min=1, help="Days before the request closes (default 7, at most the maximum)."
    ),
    max_file_bytes: int | None = typer.Option(
        None, min=1, help="Largest file, in bytes (default: file_request_max_bytes)."
    ),
    max_total_bytes: int | None = typer.Option(
        None, min=1, help="All files together, in bytes (default: file_request_max_bytes)."
    ),
    max_files: int | None = typer.Option(None, min=1, help="Files accepted, at most."),
    password: bool = typer.Option(
        False, "--password", help="Ask for a password that senders must give (prompted)."
    ),
    verify: bool = typer.Option(
        True,
        "--verify/--no-verify",
        help="Senders prove their address with a mailed code (the space may require it).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Make a file request: an upload-only link to a folder; prints its address once."""
    space, path = split_target(target)
    secret = None
    if password:
        secret = typer.prompt("Password for the request", hide_input=True, confirmation_prompt=True)
    with handled_errors():
        svc = services(ctx)
        actor = acting_user(ctx, user)
        expires = None
        if days is not None:
            expires = svc.link_access.clock.now() + dt.timedelta(days=days)
        created = svc.sharing.create_request(
            actor,
            space,
            path,
            expires_at=expires,
            password=secret,
            recipients=recipient,
            require_verification=verify,
            max_file_bytes=max_file_bytes,
            max_total_bytes=max_total_bytes,
            max_files=max_files,
        )
    url = svc.settings.resolved_public_url + RECIPIENT_PAGE.format(token=created.token)
    if json_output:
        print_json({"link": created.link, "token": created.token, "url": url})
        return
    console.print(
        f"File request {created.link.id} to {created.link.path}, open until "
        f"{created.link.expires_at:%Y-%m-%d %H:%M} UTC. Give this address to the senders "
        "(it is shown only now):"
    )
    out.print(url, soft_wrap=True)


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
