"""Benchmark the catalogue exports and the printed forms (issue 19.4, 19.5).

    .venv/bin/python bench/bench_exports.py [--records N] [--out DIR]

Builds an archive of N records (default 1,000; the Python API, ``ingest_batch``, in one process), all in
one volume, then times in fresh processes, median of 5 runs each:

- ``dangan ls --format csv --output F`` and ``--format xlsx --output F`` (every record), beside the
  peer ``sqlite3 -csv catalogue.sqlite "SELECT …"`` writing the same columns from the same catalogue
  (the floor: no policy, no audit, no BOM, no formula guard);
- ``dangan print contents-list V -o F`` (a 卷内文件目录 of all N records) and ``dangan print labels``.

Prints a markdown table with each command, the machine and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build(root: Path, n: int) -> None:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.catalogue.volumes import create_volume
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.batch import ingest_batch
    Archive.init(root, fonds="Z109", name="基准公司", actor=Actor("bench", "bench")).close()
    a = Archive(root, Actor("bench", "bench"))
    create_volume(a, "BGS-2021-01", "public", title="2021年办公室文件")
    src = root.parent / "src"
    src.mkdir()
    for i in range(n):
        (src / f"{i:05d}.txt").write_text(f"第{i}号文件 关于档案工作的通知 record {i}", encoding="utf-8")
    ingest_batch(a, [src], RecordFields(category="WS", department="BGS", date="2021-04-01", volume="BGS-2021-01"))
    a.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dangan-bench-exports-"))
    root = out / "archive"
    if not root.exists():
        build(root, args.records)
    dangan = [str(BIN / "dangan"), "--archive", str(root)]
    sql = ("SELECT archival_code, id, title, date, year, department, category, retention, secrecy, volume, status,"
           " created FROM records")
    rows = [
        ("dangan ls --format csv --output F", timed(dangan + ["ls", "--format", "csv", "--output", str(out / "a.csv")])),
        ("dangan ls --format xlsx --output F", timed(dangan + ["ls", "--format", "xlsx", "--output", str(out / "a.xlsx")])),
        ("peer: sqlite3 -csv -header catalogue.sqlite SELECT …",
         timed(["sh", "-c", f"sqlite3 -csv -header {root / 'catalogue.sqlite'} \"{sql}\" > {out / 'p.csv'}"])),
        ("dangan print contents-list V -o F", timed(dangan + ["print", "contents-list", "BGS-2021-01", "-o",
                                                               str(out / "c.pdf")])),
        ("dangan print labels --volume V -o F", timed(dangan + ["print", "labels", "--volume", "BGS-2021-01", "-o",
                                                                 str(out / "l.pdf")])),
    ]
    peer = rows[2][1]
    print(f"{args.records} records; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {dt.date.today()}")
    print("| command | median of 5 (s) | ratio to sqlite3 |")
    print("|---|---|---|")
    for name, t in rows:
        print(f"| `{name}` | {t:.2f} | {t / peer:.1f}× |")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
