"""`dangan audit`: log, verify, acknowledge — the hash-chained audit trail."""
from __future__ import annotations

import sys

import click

from . import pass_ctx
from .export_formats import emit_table, tabular_options
from .output import json_line, json_lines, table


@click.group()
def audit():
    """The audit trail: every state change, hash-chained."""


@audit.command("log")
@click.option("--record", "ref", help="Events of one record.")
@click.option("--action", help="Only this action (e.g. record.ingest).")
@click.option("--actor", help="Only events of this user.")
@click.option("--outcome", help="Only this outcome (success, denied, failure...).")
@click.option("--from", "since", help="From this day (YYYY-MM-DD), included.")
@click.option("--to", "until", help="To this day (YYYY-MM-DD), included.")
@click.option("--limit", type=int, help="The last N events.")
@tabular_options("table", "json", "csv", "xlsx")
@pass_ctx
def audit_log(ctx, ref, action, actor, outcome, since, until, limit, fmt, dest):
    """Show audit events, oldest first (all of them to auditors and admins; to others, the events about the
    records they may see and their own); --format csv|xlsx -o FILE exports them."""
    from ..core.service import audit as service
    archive = ctx.archive()
    evs = service.log(archive, ref=ref, action=action, limit=limit, actor=actor, outcome=outcome, since=since,
                      until=until)
    if fmt == "json":
        json_lines(e.to_dict() for e in evs)
        return
    if fmt in ("csv", "xlsx"):
        from ..core.service.sheets import AUDIT_COLUMNS, audit_rows
        emit_table(archive, "audit log", fmt, dest, AUDIT_COLUMNS, audit_rows(evs))
        return
    table([(e.seq, e.time[:19], e.actor, e.action, e.object, e.outcome) for e in evs],
          ["SEQ", "TIME", "ACTOR", "ACTION", "OBJECT", "OUTCOME"])


@audit.command("verify")
@click.option("--backups", is_flag=True, help="Also compare the checkpoint each backup snapshot keeps.")
@click.option("--repo", metavar="TARGET", help="The backup repository for --backups (default: [backup] repo).")
@click.option("--passphrase-fd", type=int, metavar="N", help="Read the backup passphrase from file descriptor N.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def audit_verify(ctx, backups, repo, passphrase_fd, as_json):
    """Check the hash chain, the keyed head and the checkpoint log (and backups); exit 6 on any problem."""
    from ..core.service.audit import verify
    archive = ctx.archive()
    repository = None
    if backups or repo:
        from ..core.backup.api import PASSPHRASE_ENV
        from ..core.service import backup
        from .passphrase import read_passphrase
        secret = read_passphrase("backup passphrase", fd=passphrase_fd, env=PASSPHRASE_ENV)
        repository = backup.open_repo(archive, repo, secret)
    report = verify(archive, repository)
    if as_json:
        json_line(report.to_dict())
    else:
        for p in report.problems:
            click.echo(p)
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"audit trail intact: {report.events} events" if report.ok
                   else f"audit trail BROKEN: {len(report.problems)} problem(s)", err=not report.ok)
    if not report.ok:
        sys.exit(6)


@audit.command("acknowledge")
@click.option("--reason", required=True, help="Why the trail is accepted as it is (kept in the trail).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def audit_acknowledge(ctx, reason, as_json):
    """Accept a broken audit trail after looking into it (admin); writers refuse until then."""
    from ..core.service.audit import acknowledge
    archive = ctx.archive()
    out = acknowledge(archive, reason)
    if as_json:
        json_line(out)
        return
    for p in out["problems"]:
        click.echo(f"acknowledged: {p}")
    if out["new_key"]:
        click.echo("a new audit key was made: earlier checkpoints can no longer be authenticated", err=True)
    click.echo(f"audit trail acknowledged at event {out['event']} (checkpoint {out['checkpoint']})")


COMMANDS = [audit]
