"""How long one ingest holds the catalogue's write lock on PostgreSQL + SeaweedFS (issue 17, ingest scale-out).

    .venv/bin/python bench/bench_write_lock.py [--small 640] [--big 4] [--big-mb 50]

One ``dangan ingest`` (in this process, so every write transaction of it is timed: ``Archive.transaction``
wrapped) of N small text files and then of a few large random files into a fresh cluster archive
(tests/pg_service.py's PostgreSQL, tests/s3_service.py's SeaweedFS, as bench_cluster.py).  On PostgreSQL every
write transaction takes the one advisory write lock first, so the time inside them is the time no other machine
can write: ``wall ÷ locked`` bounds how many ingest machines could file at once before they queue for it.
Prints one markdown row per kind of file: wall time, time under the lock (all write transactions; of it the
groups' bucket publish, ``ocfl_group.publish_new_objects``; the longest transaction), the share of the wall time
under the lock, and the load average before and after.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from bench_s3 import MB, big_files, small_files  # noqa: E402
import pg_service  # noqa: E402
import s3_service  # noqa: E402


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=640)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mb", type=int, default=50)
    args = ap.parse_args()
    import dangan
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.actor import Actor
    from dangan.core.service.records import ingest
    held: list[float] = []
    transaction = Archive.transaction

    @contextmanager
    def timed(self):
        t = time.perf_counter()
        try:
            with transaction(self) as conn:
                yield conn
        finally:
            held.append(time.perf_counter() - t)
    Archive.transaction = timed  # type: ignore[method-assign]
    from dangan.repository import ocfl_group
    published: list[float] = []          # the group publishes (inside the group's transaction)
    publish = ocfl_group.publish_new_objects

    def timed_publish(*a, **kw):
        t = time.perf_counter()
        try:
            return publish(*a, **kw)
        finally:
            published.append(time.perf_counter() - t)
    ocfl_group.publish_new_objects = timed_publish  # type: ignore[assignment]

    base = Path(tempfile.mkdtemp(prefix="dangan-bench-lock-"))
    pg = pg_service.start()
    s3 = s3_service.start(base / "weed")
    try:
        os.environ.update({k: v for k, v in s3.env.items() if k.startswith("AWS_")})
        small_files(base / "small", args.small)
        big_files(base / "big", args.big, args.big_mb * MB)
        fields = RecordFields(category="WS", department="BGS", retention="Y", date="2021-03-01")
        print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, dangan from {Path(dangan.__file__).parent}\n")
        print("| ingest (one process) | wall | under the write lock | of it, bucket publish | longest transaction"
              " | share | load |")
        print("|---|---|---|---|---|---|---|")
        for what, folder, label in (("small", base / "small", f"{args.small:,} small text files"),
                                    ("big", base / "big", f"{args.big} × {args.big_mb} MB random")):
            root = base / f"archive-{what}"
            bucket = s3.make_bucket(f"lock-{uuid.uuid4().hex[:12]}")
            Archive.init(root, fonds="Z109", actor=Actor("bench", "bench"), catalogue_url=pg.new_database(),
                         store_url=f"s3://{bucket}/fonds-z109", store_endpoint=s3.endpoint).close()
            a = Archive(root, Actor("bench", "bench"))
            try:
                before = load()
                held.clear()
                published.clear()
                t = time.perf_counter()
                outcomes = ingest(a, [folder], fields)
                wall = time.perf_counter() - t
            finally:
                a.close()
            assert all(o.status == "archived" for o in outcomes), {o.status for o in outcomes}
            locked = sum(held)
            print(f"| {label} | {wall:.1f} s | {locked:.1f} s in {len(held)} transactions | {sum(published):.1f} s"
                  f" in {len(published)} groups | {max(held) * 1000:.0f} ms | {locked / wall:.2f}"
                  f" | {before} → {load()} |", flush=True)
    finally:
        s3.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
