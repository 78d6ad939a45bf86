"""`dangan inspect`: inspections, the six-monthly report, four-property checks."""
from __future__ import annotations

import click

from . import pass_ctx
from .options import as_of_date
from .export_formats import tabular_options, write_bytes
from .output import json_line, json_lines, line, table


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
    from ..core.service import inspection
    ids = inspection.record(ctx.archive(), refs, volume=volume, condition=condition, fading=fading, damage=damage,
                            environment=environment, notes=notes)
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
    from ..core.service import inspection
    rows = inspection.due(ctx.archive(), as_of_date(as_of))
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
    overdue loans, disposition due, the last backup, files in formats at risk, paper locations (recorded as an
    audit event); --format pdf -o FILE prints it."""
    import csv
    import sys

    from ..core.management.forms.inspection_report import report_rows
    from ..core.service import inspection
    r = inspection.report(ctx.archive(), sample=sample, as_of=as_of_date(as_of))
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

    from ..core.service import inspection
    out = inspection.four_property(ctx.archive(), refs, volume=volume)
    if as_json:
        json_lines(out["rows"])
    else:
        table([(r["record_id"], r["property"], r["item"], r["result"].upper() if r["result"] == "fail"
                else r["result"], r["detail"]) for r in out["rows"]], ["ID", "PROPERTY", "ITEM", "RESULT", "DETAIL"],
              {4: 60})
        click.echo(", ".join(f"{p} {v}" for p, v in out["summary"].items()), err=True)
    if out["failed"]:
        sys.exit(1)


COMMANDS = [inspect]
