"""`dangan disposition`: due dates, destruction lists (销毁清册) with approval, execution and certificates."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .options import as_of_date
from .export_formats import tabular_options, write_bytes
from .output import json_line, json_lines, line, table


@click.group("disposition")
def disposition():
    """Retention due dates, appraisal (鉴定) and destruction with approval."""


@disposition.command("due")
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default today).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def due_cmd(ctx, as_of, as_json):
    """Records whose retention has run out by --as-of, with their disposition action."""
    from ..core.service import disposition as service
    rows = service.due(ctx.archive(), as_of_date(as_of))
    if as_json:
        json_lines(rows)
        return
    table([(r["record_id"], r["archival_code"] or "", r["retention"], r["due"], r["action"],
            "HELD" if r["held"] else (r["on_list"] or ""), r["title"]) for r in rows],
          ["ID", "CODE", "RETENTION", "DUE", "ACTION", "HOLD/LIST", "TITLE"], {6: 40})


@disposition.command("propose")
@click.argument("refs", nargs=-1)
@click.option("--due", "due", is_flag=True, help="Every record due by --as-of (held ones are skipped).")
@click.option("--as-of", "as_of")
@click.option("--reason", default="", help="The appraisal's conclusion.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def propose_cmd(ctx, refs, due, as_of, reason, as_json):
    """Build a destruction list from an appraisal; prints its id."""
    from ..core.service import disposition as service
    out = service.propose(ctx.archive(), refs, due=due, as_of=as_of_date(as_of), reason=reason)
    if as_json:
        json_line(out)
        return
    line(f"destruction list {out['list']}: {len(out['records'])} record(s), awaiting approval")
    for s in out["skipped"]:
        line(f"skipped {s['record_id']}: {s['reason']}", err=True)


@disposition.command("approve")
@click.argument("list_id")
@click.option("--note", default="")
@pass_ctx
def approve_cmd(ctx, list_id, note):
    """Approve a destruction list (an approver role; never its proposer)."""
    from ..core.service import disposition as service
    lst = service.approve(ctx.archive(), list_id, note)
    line(f"destruction list {lst['id']} approved by {lst['decided_by']}")


@disposition.command("reject")
@click.argument("list_id")
@click.option("--reason", required=True)
@pass_ctx
def reject_cmd(ctx, list_id, reason):
    """Reject a destruction list: nothing on it is destroyed."""
    from ..core.service import disposition as service
    service.reject(ctx.archive(), list_id, reason)
    line(f"destruction list {list_id} rejected")


@disposition.command("execute")
@click.argument("list_id")
@click.option("--to", "transfer_to", type=click.Path(path_type=Path),
              help="For records whose action is transfer: the BagIt package folder to create for the receiver.")
@click.option("--dry-run", is_flag=True, help="List what would be destroyed or transferred; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask: destroy at once (needed without a terminal).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def execute_cmd(ctx, list_id, transfer_to, dry_run, yes, as_json):
    """Destroy (or transfer, with --to) what an approved list names (holds re-checked); issue its certificate.

    Shows the records first and asks; --yes skips the question, --dry-run only shows them."""
    import sys

    from ..core.service import disposition as service
    from ..errors import UsageError
    archive = ctx.archive()
    plan = service.plan(archive, list_id, transfer_to, dry_run=dry_run)
    going = [p for p in plan if not p["will"].startswith("skip")]
    if dry_run or not yes:
        if as_json and dry_run:
            json_lines(plan)
        else:
            table([(p["record_id"], p["archival_code"] or "", p["will"], p["title"] or "") for p in plan],
                  ["ID", "CODE", "WILL", "TITLE"], {3: 40})
    if dry_run:
        line(f"dry run: {len(going)} record(s) would be disposed of; nothing was changed", err=True)
        return
    if not yes:
        what = f"destroy or transfer {len(going)} record(s) of list {list_id}"
        if not sys.stdin.isatty():
            raise UsageError(f"this would {what}, for good: no terminal to ask on, so confirm with --yes"
                             " (or look first with --dry-run)")
        if not click.confirm(f"{what}? This cannot be undone", default=False, err=True):
            click.echo("not confirmed: nothing was destroyed", err=True)
            sys.exit(1)
    lst = service.execute(archive, list_id, transfer_to)
    cert = lst["certificate"]
    if as_json:
        json_line(cert)
        return
    for i in cert["items"]:
        line(f"{i['record_id']}  {i['archival_code'] or '':<28} {i['outcome']}")
    line(f"certificate {cert['certificate_sha256']}: {cert['destroyed']} destroyed, "
               + (f"{cert['transferred']} transferred, " if cert.get("transferred") else "")
               + f"{cert['not_destroyed']} not disposed of")
    if cert.get("transfer"):
        line(f"transfer package {cert['transfer']['bag']} (manifest sha512 {cert['transfer']['manifest_sha512']})")


@disposition.command("show")
@click.argument("list_id")
@tabular_options("table", "json", "pdf")
@pass_ctx
def show_cmd(ctx, list_id, fmt, dest):
    """A destruction list, its approval chain and (once executed) its certificate;
    --format pdf -o FILE prints the 销毁清册 (`dangan print certificate` the 销毁证明)."""
    from ..core.service import registers
    archive = ctx.archive()
    if fmt == "pdf":
        from ..core.service.forms import destruction_list
        write_bytes(destruction_list(archive, list_id), dest, f"destruction list {list_id}")
        return
    lst = registers.destruction_list(archive, list_id)
    if fmt == "json":
        json_line(lst)
        return
    line(f"list {lst['id']}  {lst['status']}  as of {lst['as_of']}")
    line(f"proposed by {lst['proposed_by']} at {lst['proposed_at']}")
    if lst["decided_by"]:
        line(f"decided by  {lst['decided_by']} at {lst['decided_at']}")
    if lst["executed_at"]:
        line(f"executed by {lst['executed_by']} at {lst['executed_at']}; certificate "
                   f"{lst['certificate']['certificate_sha256']}")
    table([(i["record_id"], i["archival_code"] or "", i["retention"], i["due"], i["action"], i["outcome"] or "",
            i["title"]) for i in lst["items"]], ["ID", "CODE", "RETENTION", "DUE", "ACTION", "OUTCOME", "TITLE"],
          {6: 30})


@disposition.command("lists")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def lists_cmd(ctx, as_json):
    """Every destruction list."""
    from ..core.service import registers
    archive = ctx.archive()
    rows = registers.destruction_lists(archive)
    if as_json:
        json_lines(rows)
        return
    table([(r["id"], r["status"], r["records"], r["proposed_by"], r["decided_by"] or "", r["executed_at"] or "")
           for r in rows], ["LIST", "STATUS", "RECORDS", "PROPOSED BY", "DECIDED BY", "EXECUTED"])


@disposition.command("extend")
@click.argument("ref")
@click.option("--until", required=True, help="Keep the record until this date (YYYY-MM-DD).")
@click.option("--reason", required=True)
@pass_ctx
def extend_cmd(ctx, ref, until, reason):
    """A review's outcome: keep a record longer (its due date moves)."""
    from ..core.service import disposition as service
    d = service.extend(ctx.archive(), ref, until=until, reason=reason)
    line(f"{d['record_id']} now due {d['due']}")


COMMANDS = [disposition]
