"""`dangan hold`: legal holds (add, release, list)."""
from __future__ import annotations

import click

from . import pass_ctx
from .export_formats import emit_table, tabular_options
from .output import json_line, json_lines, line, table


@click.group("hold")
def hold():
    """Legal holds (冻结): held records cannot be destroyed or revised."""


@hold.command("add")
@click.argument("refs", nargs=-1)
@click.option("--volume")
@click.option("--query", help="A filter (dept:BGS year:2019); the records it matches now are held.")
@click.option("--reason", required=True)
@click.option("--authority", required=True, help="Who ordered the hold (court, auditor...).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def hold_add(ctx, refs, volume, query, reason, authority, as_json):
    """Place a hold on records, a volume (also records added later) or a query's records."""
    from ..core.service import holds
    h = holds.add(ctx.archive(), refs, volume=volume, query=query, reason=reason, authority=authority)
    if as_json:
        json_line(h)
    else:
        line(f"hold {h['id']} placed on {h['scope_kind']} {h['scope']} ({len(h['records'])} record(s))")


@hold.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True)
@pass_ctx
def hold_release(ctx, hold_id, reason):
    """Release a hold (other holds on the same records stay)."""
    from ..core.service import holds
    h = holds.release(ctx.archive(), hold_id, reason)
    line(f"hold {h['id']} released")


@hold.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released holds.")
@click.option("--record")
@tabular_options("table", "json", "csv", "xlsx")
@pass_ctx
def hold_list(ctx, show_all, record, fmt, dest):
    """Holds in force (with --record: those covering one record; --format csv|xlsx -o FILE to export)."""
    from ..core.service import registers
    archive = ctx.archive()
    rows = registers.holds(archive, include_released=show_all, record=record)
    if fmt == "json":
        json_lines(rows)
        return
    if fmt in ("csv", "xlsx"):
        from ..core.service.sheets import HOLD_COLUMNS, hold_rows
        emit_table(archive, "holds", fmt, dest, HOLD_COLUMNS, hold_rows(rows))
        return
    table([(h["id"], h["scope_kind"], h["scope"], len(h["records"]), h["authority"], h["created"][:10],
            "released" if h["released_at"] else "in force", h["reason"]) for h in rows],
          ["HOLD", "KIND", "SCOPE", "RECORDS", "AUTHORITY", "SINCE", "STATE", "REASON"], {2: 30, 7: 40})


COMMANDS = [hold]
