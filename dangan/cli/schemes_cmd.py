"""`dangan schemes`: classification schemes and the fields each category requires."""
from __future__ import annotations

import shutil

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table, table_lines, width


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


COMMANDS = [schemes]
