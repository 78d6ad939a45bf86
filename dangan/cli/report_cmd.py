"""`dangan report`: reports plugins contribute, and core's statistics."""
from __future__ import annotations

import csv
import sys

import click

from . import pass_ctx
from .export_formats import emit_table, tabular_options, write_bytes
from .output import json_line, json_lines, table


@click.command()
@click.argument("name", required=False)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@click.option("--as-of", "as_of", help="Report date (YYYY-MM-DD), default today.")
@tabular_options("table", "csv", "json", "pdf", "xlsx")
@pass_ctx
def report(ctx, name, params, as_of, fmt, dest):
    """Run a report a plugin contributes (without NAME: list them); `stats` is core's statistics
    (--param by=department,year,...) unless a plugin defines a report of that name.
    --format pdf|xlsx -o FILE writes it (contents_list and reference_sheet print as their volume forms)."""
    import datetime as dt

    from ..core.catalogue.fields import parse_date, parse_meta
    from ..core.service.reports import run_report
    archive = ctx.archive()
    plugins = archive.plugins
    reports = plugins.reports()
    if not name:
        rows = [(s.name, ", ".join(s.params), s.description) for s in reports.values()]
        if "stats" not in reports:
            rows.append(("stats", "by", "core statistics: records by department, year, category, retention, "
                                        "secrecy...; items lent by loan status"))
        if fmt == "json":
            json_lines({"report": r, "params": p, "description": d} for r, p, d in rows)
        else:
            table(rows, ["REPORT", "PARAMS", "DESCRIPTION"], {2: 70})
        return
    if name == "stats" and "stats" not in reports:
        from ..core.service.reports import run_stats
        from ..errors import UsageError
        from .stats_cmd import stats_rows
        p = parse_meta(params)
        by = p.pop("by", "department,year")
        if p:
            raise UsageError(f"report stats takes only --param by=FIELD,... (not {', '.join(sorted(p))})")
        out = run_stats(archive, by)
        if fmt == "pdf":
            from ..core.service.forms import report_table
            write_bytes(report_table(archive, "统计 (statistics)", out["columns"], out["rows"]), dest, "report stats")
            return
        if fmt == "xlsx" or (fmt == "csv" and dest is not None):
            emit_table(archive, "stats", fmt, dest, out["columns"], out["rows"])
            return
        stats_rows(out, fmt)
        return
    day = dt.date.fromisoformat(parse_date(as_of)) if as_of else None
    result = run_report(archive, name, parse_meta(params), day)
    if fmt == "pdf":
        _report_pdf(archive, name, parse_meta(params), result, dest)
    elif fmt == "xlsx" or (fmt == "csv" and dest is not None):
        emit_table(archive, f"report {name}", fmt, dest, result.columns, result.rows)
    elif fmt == "json":
        json_line({"title": result.title, "columns": result.columns, "rows": result.rows, "notes": result.notes})
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=result.columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(result.rows)
    else:
        if result.title:
            click.echo(result.title)
        table([[r.get(c, "") for c in result.columns] for r in result.rows], result.columns, {})
        for n in result.notes:
            click.echo(n, err=True)


def _report_pdf(archive, name, params, result, dest) -> None:
    """A report as PDF: the volume reports of the general office as their printed forms, others as a table."""
    from ..core.service import forms
    forms_of = {"contents_list": "contents-list", "reference_sheet": "reference-sheet"}
    if name in forms_of and params.get("volume"):
        pdf = forms.volume_form(archive, params["volume"], forms_of[name])
    else:
        pdf = forms.report_table(archive, result.title or name, result.columns, result.rows, result.notes)
    write_bytes(pdf, dest, f"report {name}")


COMMANDS = [report]
