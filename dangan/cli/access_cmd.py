"""`dangan access`: access approvals on file (grant, revoke, list)."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, line, table


@click.group("access")
def access():
    """Approvals on file (e.g. export or copy approvals the plugins and core ask for)."""


@access.command("grant")
@click.argument("action")
@click.argument("refs", nargs=-1, required=True)
@click.option("--to", "grantee", required=True, help="The user the approval is for.")
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--reason", required=True)
@pass_ctx
def access_grant(ctx, action, refs, grantee, days, reason):
    """Approve ACTION (export, copy, read, lend...) on records for a user, for some days."""
    from ..core.service import users
    ids = users.grant(ctx.archive(), action, refs, grantee, days=days, reason=reason)
    line(f"approved {action} for {grantee} on {len(ids)} record(s): approval {', '.join(map(str, ids))}")


@access.command("revoke")
@click.argument("grant_id", type=int)
@click.option("--reason", default="")
@pass_ctx
def access_revoke(ctx, grant_id, reason):
    """Withdraw an approval."""
    from ..core.service import users
    users.revoke(ctx.archive(), grant_id, reason)
    line(f"approval {grant_id} revoked")


@access.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired and revoked approvals.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def access_list(ctx, show_all, as_json):
    """Approvals on file."""
    from ..core.service import registers
    archive = ctx.archive()
    rows = registers.grants(archive, active_only=not show_all)
    if as_json:
        json_lines(rows)
        return
    table([(g["id"], g["action"], g["record_id"], g["grantee"], g["granted_by"], g["expires_at"],
            "revoked" if g["revoked_at"] else "", g["reason"]) for g in rows],
          ["ID", "ACTION", "RECORD", "FOR", "BY", "UNTIL", "STATE", "REASON"], {7: 40})


COMMANDS = [access]
