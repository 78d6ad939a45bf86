"""Archive-wide commands: init, check, rebuild-catalogue, audit."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import pass_ctx
from .export_formats import emit_table, tabular_options
from .output import json_line, json_lines, line, table


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path), default=Path("."))
@click.option("--fonds", required=True, help="Fonds code (全宗号), e.g. Z109.")
@click.option("--name", default="", help="The organisation's name.")
@click.option("--group", metavar="GROUP", help="Let GROUP read the archive (2750/0640); default: only you (0700/0600).")
@pass_ctx
def init(ctx, path, fonds, name, group):
    """Create a new archive in PATH (default: here)."""
    from ..core.archive import Archive
    archive = Archive.init(path, fonds=fonds, name=name, actor=ctx.actor(), group=group)
    click.echo(f"created archive {archive.root} (fonds {fonds})")
    archive.close()


@click.command()
@click.option("--record", "ref", help="Check one record only.")
@click.option("--no-digests", is_flag=True, help="Skip recomputing digests (structure only).")
@click.option("--decrypt", is_flag=True, help="Also decrypt sealed records (volumes unlocked) and check plaintext digests.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def check(ctx, ref, no_digests, decrypt, as_json):
    """Verify every digest and compare store and catalogue; exit 6 on any problem."""
    from ..core.catalogue.health import check_pages
    from ..core.store.integrity import check as run_check
    archive = ctx.archive()
    if ref is None:
        check_pages(archive.conn, archive.catalogue_path)      # damage on pages no listing reads
    bar = None
    if sys.stderr.isatty() and not as_json and ref is None:
        def bar(i, n):
            click.echo(f"\rchecking {i}/{n}", nl=False, err=True)
    problems = run_check(archive, ref, digests=not no_digests, decrypt=decrypt, progress=bar)
    if bar:
        click.echo("", err=True)
    if as_json:
        json_lines(p.to_dict() for p in problems)
    else:
        for p in problems:
            line(f"{p.record_id}: {p.message}")         # messages name files: escaped
        click.echo("check passed" if not problems else f"{len(problems)} problem(s)", err=True)
    if problems:
        sys.exit(6)


@click.command("rebuild-catalogue")
@click.option("--yes", is_flag=True, help="Do not ask before replacing the record tables.")
@pass_ctx
def rebuild_catalogue(ctx, yes):
    """Rebuild the catalogue's record tables from the store alone."""
    from ..core.archive import Archive
    from ..core.store.recovery import rebuild
    from ..core.kernel.config import find_archive
    from ..core.catalogue import connection as catalogue
    from ..core.catalogue import health as catalogue_health
    from ..core.kernel.archive_trust import check_archive
    from ..core.kernel.permissions import apply_umask
    root = find_archive(ctx.archive_path)
    check_archive(root)
    apply_umask(root)
    path = root / "catalogue.sqlite"
    problem = catalogue_health.needs_setting_aside(path)
    if not yes and sys.stdin.isatty():
        click.confirm("Set the damaged catalogue aside and rebuild it from the store?" if problem else
                      "Replace the catalogue's record tables with what the store holds?", abort=True)
    if problem:
        aside = catalogue_health.set_aside(path)
        click.echo(f"the catalogue {problem}: set aside as {aside.name}", err=True)
    catalogue.connect(path, create=True).close()
    archive = Archive(root, ctx.actor())
    conflicts: list[str] = []
    n = rebuild(archive, conflicts=conflicts)
    archive.close()
    for conflict in conflicts:
        line(f"warning: {conflict}", err=True)
    click.echo(f"catalogue rebuilt: {n} record(s)")


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
    from ..core.catalogue.fields import parse_date
    from ..core.service.exports import AUDIT_COLUMNS, audit_events, audit_rows
    archive = ctx.archive()
    obj = archive.resolve(ref) if ref else None
    evs = audit_events(archive, obj=obj, action=action, limit=limit, actor=actor, outcome=outcome,
                       since=parse_date(since) if since else None, until=parse_date(until) if until else None)
    if fmt == "json":
        json_lines(e.to_dict() for e in evs)
        return
    if fmt in ("csv", "xlsx"):
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
    from ..core.catalogue.audit_verify import verify
    archive = ctx.archive()
    repository = None
    if backups or repo:
        from ..core.backup import api as backup
        from .passphrase import read_passphrase
        secret = read_passphrase("backup passphrase", fd=passphrase_fd, env=backup.PASSPHRASE_ENV)
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
    from ..core.catalogue.audit_verify import acknowledge
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


COMMANDS = [init, check, rebuild_catalogue, audit]
