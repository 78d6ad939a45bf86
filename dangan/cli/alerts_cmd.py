"""`dangan alerts`: alerts raised by plugins, and acknowledging them."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, line, table


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include acknowledged alerts.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alerts(click_ctx, show_all, as_json):
    """Alerts raised by plugins (unacknowledged first; overdue ones flagged)."""
    if click_ctx.invoked_subcommand:
        return
    from ..core.service import alerts as service
    rows = service.listing(click_ctx.obj.archive(), include_acknowledged=show_all)
    if as_json:
        json_lines(rows)
        return
    table([(a["id"], a["due_at"], "OVERDUE" if a["overdue"] else ("acknowledged" if a["acknowledged_at"] else "open"),
            a["recipient"], a["record_id"], a["message"]) for a in rows],
          ["ALERT", "DUE", "STATE", "TO", "RECORD", "MESSAGE"], {5: 50})


@alerts.command("ack")
@click.argument("alert_id")
@pass_ctx
def alerts_ack(ctx, alert_id):
    """Acknowledge an alert (recorded with who and when)."""
    from ..core.service import alerts as service
    a = service.acknowledge(ctx.archive(), alert_id)
    line(f"alert {a['id']} acknowledged by {a['acknowledged_by']}")


COMMANDS = [alerts]
