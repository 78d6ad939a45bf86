"""Commands the plugin system brings: plugins, schemes, alerts, approve, report."""
from __future__ import annotations

import csv
import shutil
import sys

import click

from . import pass_ctx
from .export_formats import emit_table, tabular_options, write_bytes
from .output import json_line, json_lines, line, table, table_lines, width


@click.group("plugins")
def plugins_group():
    """Plugins: what is loaded, from where, and what failed to load."""


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plugins_list(ctx, as_json):
    """Every plugin — the shipped department plugins too, marked "not enabled" until named in dangan.toml
    [plugins] enabled — with its departments, categories and roles; load problems last."""
    from ..plugins.listing import plugin_entries
    plugins = ctx.archive().plugins
    entries = plugin_entries(plugins)
    if as_json:
        json_lines(e.to_dict() for e in entries)
        json_lines({"problem": str(p)} for p in plugins.load_problems)
        return
    table([(e.name, e.state, ", ".join(e.departments), ", ".join(e.categories), ", ".join(e.roles))
           for e in entries], ["PLUGIN", "STATE", "DEPT", "CATEGORIES", "ROLES"], {3: 34})
    if any(e.state == "not enabled" for e in entries):
        click.echo('turn one on: [plugins] enabled = ["construction", ...] in dangan.toml;'
                   " details: dangan plugins show NAME", err=True)
    for p in plugins.load_problems:
        line(f"problem: {p}", err=True)


@plugins_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plugins_show(ctx, name, as_json):
    """One plugin: its state, source, departments, categories, roles (and what they may do) and hooks."""
    from ..plugins.listing import plugin_entry
    e = plugin_entry(ctx.archive().plugins, name)
    if as_json:
        json_line(e.to_dict())
        return
    for k, v in (("plugin", e.name), ("state", e.state), ("version", e.version), ("source", e.source),
                 ("departments", ", ".join(e.departments)), ("categories", ", ".join(e.categories)),
                 ("hooks", ", ".join(h.removeprefix("dangan_") for h in e.hooks))):
        if v:
            line(f"{k + ':':<13}{v}")
    for role, meaning in e.roles.items():
        line(f"{'role:':<13}{role} — {meaning}")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schemes(click_ctx, as_json):
    """Classification schemes: categories, codes, retention, secrecy, required fields (`schemes show CODE`:
    one category, every field it requires and how to give it)."""
    if click_ctx.invoked_subcommand:
        return
    rows = click_ctx.obj.archive().plugins.schemes().rows()
    if as_json:
        json_lines(rows)
        return
    lines = table_lines([(r["code"], r["name"], r["retention"], r["secrecy"], r["department"], r["plugin"])
                         for r in rows], ["CODE", "NAME", "RETENTION", "SECRECY", "DEPT", "PLUGIN"], {1: 30})
    room = max(30, shutil.get_terminal_size((80, 24)).columns - 1 - 17)
    click.echo(lines[0])
    for r, row_line in zip(rows, lines[1:]):        # the required fields under each row, wrapped, never cut
        click.echo(row_line)
        fields = [f for f in r["required"].split(", ") if f]
        for k, part in enumerate(_wrap(fields, room) if fields else []):
            line(f"       {'required: ' if k == 0 else ' ' * 10}{part}")


def _wrap(words: list[str], room: int) -> list[str]:
    lines = [""]
    for w in words:
        piece = (", " if lines[-1] else "") + w
        if lines[-1] and width(lines[-1] + piece) > room:
            lines[-1] += ","
            lines.append(w)
        else:
            lines[-1] += piece
    return lines


@schemes.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def schemes_show(ctx, code, as_json):
    """One category: its scheme and defaults, and every metadata field it requires, with how to give it."""
    registry = ctx.archive().plugins.schemes()
    registry.category(code)                         # unknown: refused with the known codes
    row = next(r for r in registry.rows() if r["code"] == code)
    if as_json:
        json_line(row)
        return
    for k in ("code", "name", "scheme", "plugin", "department", "class", "retention", "secrecy", "description"):
        if row[k]:
            line(f"{k + ':':<13}{row[k]}")
    if not row["fields"]:
        click.echo("required:    nothing beyond the file")
        return
    click.echo("required:")
    table([(f["field"], f["required"], f["give"]) for f in row["fields"]], ["FIELD", "WHEN", "GIVE IT AS"])


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include acknowledged alerts.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alerts(click_ctx, show_all, as_json):
    """Alerts raised by plugins (unacknowledged first; overdue ones flagged)."""
    if click_ctx.invoked_subcommand:
        return
    from ..core.management.alerts import list_alerts
    rows = list_alerts(click_ctx.obj.archive(), include_acknowledged=show_all)
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
    from ..core.management.alerts import acknowledge
    a = acknowledge(ctx.archive(), alert_id)
    line(f"alert {a['id']} acknowledged by {a['acknowledged_by']}")


@click.command()
@click.argument("ref")
@click.option("--note", default="")
@pass_ctx
def approve(ctx, ref, note):
    """Approve a record that is pending approval (it becomes visible and active)."""
    from ..core.management.approvals import approve as run
    rec = run(ctx.archive(), ref, note)
    line(f"{rec.id} approved (version {rec.version})")


@click.command()
@click.argument("name", required=False)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@click.option("--as-of", "as_of", help="Report date (YYYY-MM-DD), default today.")
@tabular_options("table", "csv", "json", "pdf", "xlsx")
@pass_ctx
def report(ctx, name, params, as_of, fmt, dest):
    """Run a report a plugin contributes (without NAME: list them); `stats` is core's statistics
    (--param by=department,year,...) unless a plugin defines a report of that name.
    --format pdf -o FILE prints it (contents_list and reference_sheet as their volume forms)."""
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
        from .mgmt_export import stats_rows
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


COMMANDS = [plugins_group, schemes, alerts, approve, report]
