"""Helpers of the worker tests (tests/worker): queued jobs as the watcher leaves them, and a look at the catalogue."""
from __future__ import annotations

from pathlib import Path

from dangan.core.archive import Archive
from dangan.core.catalogue.fields import RecordFields
from dangan.core.kernel.actor import Actor
from dangan.core.store.deferred import enqueue
from dangan.core.store.ingest import Ingestor


def queue_jobs(root: Path, tmp_path: Path, n: int) -> dict[str, str]:
    """``n`` records archived without extraction and queued, as the watcher leaves them; id → its unique word."""
    src = tmp_path / "drop"
    src.mkdir()
    words = {}
    a = Archive(root, Actor("tester", "tester"))
    try:
        ing = Ingestor(a)                           # no extractor: archived first, extracted later
        for i in range(n):
            word = f"工单{i:02d}号 jobword{i:02d}x"
            p = src / f"job-{i:02d}.txt"
            p.write_text(f"第{i}件 {word}", encoding="utf-8")
            rec = ing.ingest(p, RecordFields(title=f"job {i}"))
            words[rec.id] = f"jobword{i:02d}x"
        with a.transaction() as conn:
            for rid in words:
                enqueue(conn, rid)
    finally:
        a.close()
    return words


def catalogue(root: Path, sql: str, *args) -> list[tuple]:
    a = Archive(root, Actor("tester", "tester"))
    try:
        return [tuple(r) for r in a.conn.execute(sql, args).fetchall()]
    finally:
        a.close()
