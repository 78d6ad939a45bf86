"""`dangan hold` (legal holds) and `dangan inspect` (inspections, the six-monthly report, four-property checks)."""
from __future__ import annotations

import click

from . import pass_ctx
from .mgmt_lend import _as_of
from .export_formats import emit_table, tabular_options, write_bytes
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
    from ..core.management.holds import add_hold
    h = add_hold(ctx.archive(), list(refs), volume=volume, query=query, reason=reason, authority=authority)
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
    from ..core.management.holds import release_hold
    h = release_hold(ctx.archive(), hold_id, reason)
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
        from ..core.service.exports import HOLD_COLUMNS, hold_rows
        emit_table(archive, "holds", fmt, dest, HOLD_COLUMNS, hold_rows(rows))
        return
    table([(h["id"], h["scope_kind"], h["scope"], len(h["records"]), h["authority"], h["created"][:10],
            "released" if h["released_at"] else "in force", h["reason"]) for h in rows],
          ["HOLD", "KIND", "SCOPE", "RECORDS", "AUTHORITY", "SINCE", "STATE", "REASON"], {2: 30, 7: 40})


@click.group("inspect")
def inspect():
    """Inspections of files (condition, fading, damage, storage environment)."""


@inspect.command("record")
@click.argument("refs", nargs=-1)
@click.option("--volume", help="Inspect a whole volume (counts for each record in it).")
@click.option("--condition", required=True, type=click.Choice(["good", "fair", "poor"]))
@click.option("--fading", default="none", show_default=True, type=click.Choice(["none", "slight", "severe"]))
@click.option("--damage", default="")
@click.option("--environment", default="", help='E.g. "20°C 45% RH, no pests".')
@click.option("--notes", default="")
@pass_ctx
def inspect_record(ctx, refs, volume, condition, fading, damage, environment, notes):
    """Record an inspection of records or a volume."""
    from ..core.management.inspection import record_inspection
    ids = record_inspection(ctx.archive(), list(refs), volume=volume, condition=condition, fading=fading,
                            damage=damage, environment=environment, notes=notes)
    line(f"inspection recorded ({len(ids)} entr{'y' if len(ids) == 1 else 'ies'})")


@inspect.command("list")
@click.option("--record")
@click.option("--volume")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def inspect_list(ctx, record, volume, as_json):
    """Inspections recorded."""
    from ..core.service import registers
    archive = ctx.archive()
    rows = registers.inspections(archive, record=record, volume=volume)
    if as_json:
        json_lines(rows)
        return
    table([(i["id"], i["inspected_at"][:10], i["record_id"] or f"volume {i['volume']}", i["inspector"],
            i["condition"], i["fading"], i["damage"], i["environment"]) for i in rows],
          ["ID", "DATE", "WHAT", "BY", "CONDITION", "FADING", "DAMAGE", "ENVIRONMENT"], {6: 30, 7: 30})


@inspect.command("due")
@click.option("--as-of", "as_of")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def inspect_due(ctx, as_of, as_json):
    """Records whose six-monthly inspection is due."""
    from ..core.management.inspection import due
    rows = due(ctx.archive(), _as_of(as_of))
    if as_json:
        json_lines(rows)
        return
    table([(r["record_id"], r["archival_code"] or "", r["volume"] or "", r["last_inspection"] or "never", r["due"],
            r["days_overdue"]) for r in rows], ["ID", "CODE", "VOLUME", "LAST", "DUE", "DAYS OVERDUE"])


@inspect.command("report")
@click.option("--sample", type=int, help="Re-open the files of this many records (default: all).")
@click.option("--as-of", "as_of")
@tabular_options("table", "csv", "json", "pdf")
@pass_ctx
def inspect_report(ctx, sample, as_of, fmt, dest):
    """The six-monthly inspection report: fixity, readability, catalogue ↔ store, counts and bytes, holds,
    overdue loans, disposition due, the last backup (recorded as an audit event); --format pdf -o FILE prints it."""
    import csv
    import sys
    from ..core.management.forms.inspection_report import report_rows
    from ..core.management.inspection import inspection_report
    r = inspection_report(ctx.archive(), sample=sample, as_of=_as_of(as_of))
    if fmt == "json":
        json_line(r)
        return
    if fmt == "pdf":
        from ..core.service.forms import inspection_report as form
        write_bytes(form(r), dest, "inspection report")
        return
    rows = report_rows(r)
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(["section", "item", "value"])
        w.writerows(rows)
        return
    line(f"inspection report of {r['archive'] or r['fonds']} as of {r['as_of']}: "
               + ("no findings" if r["ok"] else "FINDINGS"))
    table(rows, ["SECTION", "ITEM", "VALUE"], {2: 70})


@inspect.command("four-property")
@click.argument("refs", nargs=-1)
@click.option("--volume")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def inspect_four_property(ctx, refs, volume, as_json):
    """DA/T 70 four-property checks (authenticity, integrity, usability, security), item by item."""
    import sys
    from ..core.management.four_property import four_property
    out = four_property(ctx.archive(), list(refs), volume=volume)
    if as_json:
        json_lines(out["rows"])
    else:
        table([(r["record_id"], r["property"], r["item"], r["result"].upper() if r["result"] == "fail"
                else r["result"], r["detail"]) for r in out["rows"]], ["ID", "PROPERTY", "ITEM", "RESULT", "DETAIL"],
              {4: 60})
        click.echo(", ".join(f"{p} {v}" for p, v in out["summary"].items()), err=True)
    if out["failed"]:
        sys.exit(1)


COMMANDS = [hold, inspect]
