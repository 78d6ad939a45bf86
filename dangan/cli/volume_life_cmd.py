"""`dangan volume show|rename|close|reopen`: a volume's life (added to the `volume` group)."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, line, table, width


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show(ctx, name, as_json):
    """A volume's fields, counts, pages, date range, retention, filer, checker and status, and its records
    in the volume's order (item numbers as on the contents list)."""
    from ..core.service import volumes
    v = volumes.show(ctx.archive(), name)
    if as_json:
        json_line(v)
        return
    dates = f"{v['date_from']} — {v['date_to']}" if v["date_from"] else ""
    pages = f"{v['pages']}" + (f" ({v['without_pages']} record(s) without a page count)" if v["without_pages"] else "")
    status = (f"closed (封卷) {v['closed_at'][:16]} by {v['closed_by']}" if v["status"] == "closed" else "open")
    for label, value in (("volume", v["name"]), ("title", v["title"]), ("secrecy", v["secrecy"]),
                         ("department", v["department"] or ""), ("category", v["category"] or ""),
                         ("year", v["year"] or ""), ("retention", v["retention"] or ""),
                         ("records", v["records"]), ("pages", pages), ("dates", dates),
                         ("filer 立卷人", v["filer"]), ("checker 检查人", v["checker"] or ""), ("status", status)):
        line(f"{label}:" + " " * max(1, 16 - width(label) - 1) + str(value))
    if v["items"]:
        click.echo()
        table([(i["item"], i["archival_code"] or "", i["date"] or "", i["title"]) for i in v["items"]],
              ["ITEM", "CODE", "DATE", "TITLE"], fill=3)


@click.command("rename")
@click.argument("name")
@click.argument("title")
@pass_ctx
def rename(ctx, name, title):
    """Give a volume a new title (案卷题名); its name (案卷号), which its records carry, stays."""
    from ..core.service import volumes
    v = volumes.rename(ctx.archive(), name, title)
    line(f"volume {v['name']}: title is now {v['title']}")


@click.command("close")
@click.argument("name")
@click.option("--checker", required=True, help="The user who checked the volume (检查人); not its filer.")
@click.option("--filer", help="The user who formed the volume (立卷人; default: who created it).")
@click.option("--notes", help="The reference sheet's notes (说明).")
@pass_ctx
def close(ctx, name, checker, filer, notes):
    """Close a volume (封卷): no record is filed into it or moved out of it until it is re-opened."""
    from ..core.service import volumes
    v = volumes.close(ctx.archive(), name, checker=checker, filer=filer, notes=notes)
    line(f"volume {v['name']} closed: filer {v['filer']}, checker {v['checker']}")


@click.command("reopen")
@click.argument("name")
@click.option("--reason", required=True, help="Why the closed volume is opened again (kept in the audit trail).")
@pass_ctx
def reopen(ctx, name, reason):
    """Re-open a closed volume (a manager or admin; audited with the reason)."""
    from ..core.service import volumes
    v = volumes.reopen(ctx.archive(), name, reason=reason)
    line(f"volume {v['name']} re-opened")


def add_to(group: click.Group) -> None:
    for cmd in (show, rename, close, reopen):
        group.add_command(cmd)
