"""``dangan worker``: take extraction (OCR) and index jobs from the catalogue's queue (any number, any machine)."""
from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from . import pass_ctx


def _jobs(ctx, param, value: str) -> tuple[str, ...]:
    from ..core.store.leased_jobs import JOBS
    kinds = tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
    bad = [k for k in kinds if k not in JOBS]
    if bad or not kinds:
        raise click.BadParameter(f"{', '.join(bad) or '(none)'}: choose from {', '.join(JOBS)} (comma-separated)")
    return kinds


@click.command()
@click.option("--once", is_flag=True, help="Do every job waiting now (and any a dead worker held), then exit.")
@click.option("--jobs", default="extract,index", show_default=True, callback=_jobs,
              help="Which jobs to take: extract (text and OCR), index (drain the index outbox here).")
@click.option("--lease", "lease_seconds", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds a claimed job is held; a worker dead longer has its job taken by another.")
@click.option("--idle", "idle_seconds", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds to wait between looks at an empty queue.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@pass_ctx
def worker(ctx, once, jobs, lease_seconds, idle_seconds, as_json, verbose):
    """Take extraction and index jobs from the catalogue's queue until stopped (SIGTERM/Ctrl-C)."""
    from ..core.service.worker import work
    from .output import json_line
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s dangan worker: %(levelname)s %(message)s")
    archive = ctx.archive()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    summary = work(archive, jobs=jobs, once=once, lease_seconds=lease_seconds, idle_seconds=idle_seconds, stop=stop)
    data = summary.as_dict()
    if as_json:
        json_line(data)
    else:
        click.echo(f"工作进程 {data['worker']}: 提取 {data['extracted']}, 跳过 {data['skipped'] + data['gone']}, "
                   f"失败 {data['failed']}, 推迟 {data['postponed']}, 接管 {data['taken_over']}, 索引 {data['indexed']}")
    if once and summary.failed:
        sys.exit(1)


COMMANDS = [worker]
