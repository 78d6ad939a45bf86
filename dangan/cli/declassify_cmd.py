"""`dangan declassify`: lowering a record's secrecy with another person's approval."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table


@click.group("declassify")
def declassify():
    """Declassification (解密/降密): request, approve (applies it), refuse, list."""


def _show(d: dict, as_json: bool, verb: str) -> None:
    if as_json:
        json_line(d)
    else:
        line(f"declassification {d['id']} of record {d['record_id']} ({d['from_level']} → {d['to_level']}) {verb}")


@declassify.command("request")
@click.argument("ref")
@click.option("--to", "to_level", required=True, help="The lower level (public, internal, ... or 公开, 内部, ...).")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def request_cmd(ctx, ref, to_level, reason, as_json):
    """Ask for a record's secrecy to be lowered; a security officer (per policy) approves."""
    from ..core.service import declassification
    _show(declassification.request(ctx.archive(), ref, to_level, reason), as_json, "requested")


@declassify.command("approve")
@click.argument("req")
@click.option("--note", default="")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def approve_cmd(ctx, req, note, as_json):
    """Approve a request: the record gets a new version at the lower level."""
    from ..core.service import declassification
    d = declassification.approve(ctx.archive(), req, note)
    _show(d, as_json, f"approved and applied in version {d['version']}")


@declassify.command("refuse")
@click.argument("req")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def refuse_cmd(ctx, req, reason, as_json):
    """Refuse a request."""
    from ..core.service import declassification
    _show(declassification.refuse(ctx.archive(), req, reason), as_json, "refused")


@declassify.command("list")
@click.option("--status", type=click.Choice(["requested", "approved", "applied", "refused"]))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_cmd(ctx, status, as_json):
    """Declassification requests and their decisions."""
    from ..core.service import declassification
    rows = declassification.listing(ctx.archive(), status)
    if as_json:
        json_lines(rows)
        return
    table([(r["id"], r["record_id"], r["from_level"], r["to_level"], r["status"], r["requested_by"],
            r["decided_by"] or "") for r in rows], ["REQUEST", "RECORD", "FROM", "TO", "STATUS", "BY", "DECIDED"])


COMMANDS = [declassify]
