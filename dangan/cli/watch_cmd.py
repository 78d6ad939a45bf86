"""``dangan watch``: archive what is dropped into folders (a foreground service; logs to stderr)."""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from . import pass_ctx


@click.command()
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--department", "--dept", "department", help="Default department of the records.")
@click.option("--category", help="Default category (门类), e.g. WS.")
@click.option("--volume", help="File into this volume (a confidential one: records are sealed).")
@click.option("--secrecy", help="public, internal, secret, confidential, top-secret (or 公开…绝密)")
@click.option("--retention", help="permanent, long-term, short-term, or Y, D30, D10")
@click.option("--year", type=int)
@click.option("--tag", "tags", multiple=True)
@click.option("--pattern", help='Sub-folder → fields, e.g. "{year}/{category}/".')
@click.option("--include", multiple=True, metavar="GLOB", help="Take only files matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Never take files matching (repeatable).")
@click.option("--once", is_flag=True, help="Archive what is waiting now, finish its extraction, and exit (for cron).")
@click.option("--poll", is_flag=True, default=None, help="Poll instead of inotify (network shares).")
@click.option("--settle", "settle_seconds", type=float, help="Seconds a file must stay unchanged (default 1).")
@click.option("--rescan", "rescan_seconds", type=float, help="Seconds between full rescans (default 60).")
@click.option("--done-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Move archived files here (default: FOLDER/done).")
@click.option("--delete", is_flag=True, help="Delete archived files instead of moving them to done/.")
@click.option("--duplicates", type=click.Choice(["skip", "quarantine", "archive"]),
              help="Content already archived: move to done/ and log (skip, default), quarantine, or archive again.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@pass_ctx
def watch(ctx, folders, department, category, volume, secrecy, retention, year, tags, pattern, include, exclude,
          once, poll, settle_seconds, rescan_seconds, done_dir, delete, duplicates, verbose):
    """Archive files dropped into FOLDERS (or the [[watch.folders]] of dangan.toml) as they arrive."""
    from ..core.catalogue.fields import RecordFields
    from ..core.watch.config import cli_folders, configured_folders, watch_settings
    from ..core.service.watch import watcher as watching
    from ..errors import UsageError
    if done_dir and delete:
        raise UsageError("--done-dir and --delete exclude each other")
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s dangan watch: %(levelname)s %(message)s")
    archive = ctx.archive()
    settings = watch_settings(archive.config)
    if folders:
        defaults = RecordFields(department=department, category=category, volume=volume, secrecy=secrecy,
                                retention=retention, year=year, tags=list(tags))
        drop = cli_folders(list(folders), defaults, pattern=pattern, include=tuple(include) or None,
                           exclude=tuple(exclude) or None, duplicates=duplicates, after="delete" if delete else None,
                           done_dir=done_dir.resolve() if done_dir else None, settle_seconds=settle_seconds,
                           poll=poll if poll is not None else (settings["poll"] or None))
    else:
        drop = configured_folders(archive.config, archive.root)
        if not drop:
            raise UsageError("no drop folders: name them (dangan watch DIR ...) or add [[watch.folders]] to dangan.toml")
    watcher = watching(archive, drop, rescan_seconds=rescan_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: watcher.stop())
    counts = watcher.run(once=once)
    logging.getLogger("dangan.watch").info("stopped: %s", ", ".join(f"{v} {k}" for k, v in counts.as_dict().items()))
    if once and counts.failed:
        sys.exit(1)


COMMANDS = [watch]
