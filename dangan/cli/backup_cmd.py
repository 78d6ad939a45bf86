"""`dangan backup`: init, create, list, verify, restore, prune, purge, unlock, status."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table
from .passphrase import read_passphrase

repo_opt = click.option("--repo", metavar="TARGET",
                        help="The backup repository (a folder); default: [backup] repo in dangan.toml.")
passphrase_fd = click.option("--passphrase-fd", type=int, metavar="N",
                             help="Read the backup passphrase from file descriptor N "
                                  "(else $DANGAN_BACKUP_PASSPHRASE, a prompt, or one line on stdin).")


def _archive(ctx, required: bool = True):
    from ..errors import ArchiveNotFound
    try:
        return ctx.archive()
    except ArchiveNotFound:
        if required:
            raise
        return None


def _open(ctx, repo, fd, *, archive_required: bool = True):
    from ..core.backup.api import PASSPHRASE_ENV
    from ..core.service import backup
    archive = _archive(ctx, archive_required)
    secret = read_passphrase("backup passphrase", fd=fd, env=PASSPHRASE_ENV)
    return archive, backup.open_repo(archive, repo, secret)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.group("backup")
def backup():
    """Versioned, encrypted, destruction-aware backups of the whole archive (not the keystore)."""


@backup.command("init")
@repo_opt
@passphrase_fd
@pass_ctx
def init(ctx, repo, passphrase_fd):
    """Set up an empty folder as a backup repository with its own backup key."""
    from ..core.backup.api import PASSPHRASE_ENV, configured_repo
    from ..core.service import backup as core
    archive = _archive(ctx, required=False)
    secret = read_passphrase("new backup passphrase", fd=passphrase_fd, confirm=True, env=PASSPHRASE_ENV)
    r = core.init(archive, repo, secret)
    line(f"backup repository {r.id[:12]} set up at {r.location}")
    if archive is not None and not configured_repo(archive):
        click.echo(f'hint: add [backup] repo = "{r.location}" to {archive.root / "dangan.toml"}')
    click.echo("keep the passphrase safe: without it the backups cannot be read. "
               "The keystore is not in the backups: export it with `dangan volume export-key`.")


@backup.command("create")
@repo_opt
@passphrase_fd
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create(ctx, repo, passphrase_fd, as_json):
    """Take a snapshot of the archive (store, catalogue, configuration, audit checkpoint)."""
    from ..core.service import backup as core
    from ..core.backup.create import summary
    archive, r = _open(ctx, repo, passphrase_fd)
    m = core.create(archive, r)
    if as_json:
        json_line({**summary(m), "seconds": m["seconds"], "warnings": m["warnings"]})
        return
    for w in m["warnings"]:
        line(f"dangan: warning: {w}", err=True)
    if m.get("purge"):
        line(f"purged {len(m['purge']['records'])} destroyed record(s) from "
                   f"{len(m['purge']['snapshots'])} snapshot(s)")
    c, s = m["counts"], m["sizes"]
    line(f"snapshot {m['id']}: {c['records']} records, {c['files']} files, {_size(s['total'])}; "
               f"new: {m['new_blobs']} blobs, {_size(s['new'])} ({m['seconds']:.2f} s)")


@backup.command("list")
@repo_opt
@passphrase_fd
@click.option("--json", "as_json", is_flag=True, help="One JSON object per snapshot.")
@pass_ctx
def list_(ctx, repo, passphrase_fd, as_json):
    """The snapshots in the repository, oldest first."""
    from ..core.service import backup as core
    _a, r = _open(ctx, repo, passphrase_fd, archive_required=False)
    rows = core.snapshots(r)
    if as_json:
        json_lines(rows)
        return
    table([(s["id"], s["time"], s["counts"]["records"], s["counts"]["destroyed"], s["counts"]["files"],
            _size(s["sizes"]["total"]), _size(s["sizes"]["new"]), ", ".join(s["purged"])) for s in rows],
          ["SNAPSHOT", "TIME", "RECORDS", "DESTROYED", "FILES", "SIZE", "NEW", "PURGED"])


def _percent(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.rstrip("%"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a percentage such as 10%") from None


@backup.command("verify")
@repo_opt
@passphrase_fd
@click.option("--read-data", is_flag=True, help="Decrypt and check every blob (slow: reads the whole repository).")
@click.option("--sample", metavar="N%", help="Decrypt and check a random N% of the blobs.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def verify(ctx, repo, passphrase_fd, read_data, sample, as_json):
    """Check that every snapshot's blobs are there and whole; name the records a damaged blob affects."""
    from ..core.service import backup as core
    from ..errors import IntegrityError
    archive, r = _open(ctx, repo, passphrase_fd, archive_required=False)
    report = core.verify(archive, r, read_data=read_data, sample=_percent(sample))
    if as_json:
        json_line(report)
    else:
        for p in report["problems"]:
            click.echo(p["message"])
        line(f"{report['snapshots']} snapshots, {report['blobs']} blobs, {report['blobs_read']} read: "
                   f"{len(report['problems'])} problems")
    if report["problems"]:
        affected = ", ".join(report["records_affected"][:10]) or "the archive's own files"
        raise IntegrityError(f"the backup repository is damaged: {len(report['problems'])} problems "
                             f"(records affected: {affected})")


@backup.command("restore")
@click.argument("snapshot")
@click.option("--to", "dest", type=click.Path(path_type=Path), help="Restore the whole archive into this new folder.")
@click.option("--record", "record", metavar="ID", help="Bring this one record back into the live archive.")
@repo_opt
@passphrase_fd
@pass_ctx
def restore(ctx, snapshot, dest, record, repo, passphrase_fd):
    """Restore SNAPSHOT (an id, a unique prefix, or `latest`): --to DIR, or --record ID."""
    from ..core.service import backup as core
    from ..errors import UsageError
    if (dest is None) == (record is None):
        raise UsageError("give exactly one of --to DIR or --record ID")
    archive, r = _open(ctx, repo, passphrase_fd, archive_required=record is not None)
    if dest is not None:
        res = core.restore_to(archive, r, snapshot, dest, actor=ctx.actor())
        line(f"snapshot {res['snapshot']} restored to {res['to']}: {res['objects']} objects, "
                   f"{_size(res['bytes'])}; run `dangan --archive {res['to']} reindex` to search it")
    else:
        res = core.restore_record(archive, r, snapshot, record)
        line(f"record {res['record_id']}: {res['outcome']}"
                   + (f" ({len(res['files'])} files)" if res["files"] else ""))


@backup.command("prune")
@repo_opt
@passphrase_fd
@click.option("--keep-last", type=click.IntRange(0), default=0)
@click.option("--keep-daily", type=click.IntRange(0), default=0)
@click.option("--keep-monthly", type=click.IntRange(0), default=0)
@click.option("--keep-yearly", type=click.IntRange(0), default=0)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def prune(ctx, repo, passphrase_fd, keep_last, keep_daily, keep_monthly, keep_yearly, dry_run, as_json):
    """Remove the snapshots the policy does not keep, and the blobs only they used."""
    from ..core.service import backup as core
    from ..core.backup.prune import Policy
    policy = Policy(keep_last, keep_daily, keep_monthly, keep_yearly)
    archive, r = _open(ctx, repo, passphrase_fd, archive_required=False)
    res = core.prune(archive, r, policy, dry_run=dry_run)
    if as_json:
        json_line(res)
        return
    verb = "would remove" if dry_run else "removed"
    line(f"kept {len(res['kept'])} snapshots, {verb} {len(res['removed'])}"
               + ("" if dry_run else f"; {res['blobs_deleted']} blobs deleted, {_size(res['bytes_freed'])} freed"))


@backup.command("purge")
@repo_opt
@passphrase_fd
@click.option("--all-destroyed", is_flag=True, help="Check every destroyed record of the archive, not only owed ones.")
@pass_ctx
def purge(ctx, repo, passphrase_fd, all_destroyed):
    """Carry out the destruction purges this archive owes the repository now."""
    from ..core.service import backup as core
    archive, r = _open(ctx, repo, passphrase_fd)
    res = core.purge(archive, r, everything=all_destroyed)
    if not res:
        click.echo("nothing to purge")
    else:
        line(f"purged {len(res['records'])} record(s) from {len(res['snapshots'])} snapshot(s); "
                   f"{res['blobs_deleted']} blobs deleted")


@backup.command("unlock")
@repo_opt
@pass_ctx
def unlock(ctx, repo):
    """Break the repository's lock (only when you know its holder is gone, e.g. on another host)."""
    from ..core.service import backup as core
    holder = core.unlock(_archive(ctx, required=False), repo)
    click.echo("the repository was not locked" if holder is None else
               f"lock of pid {holder.get('pid')} on {holder.get('host')} ({holder.get('op')}) removed")


@backup.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx, as_json):
    """Age of the last good backup, and whether it is older than [backup] interval_hours."""
    from ..core.service import backup as core
    st = core.status(ctx.archive())
    if as_json:
        json_line(st)
    else:
        click.echo(("warning: " if st["overdue"] else "") + st["message"])


COMMANDS = [backup]
