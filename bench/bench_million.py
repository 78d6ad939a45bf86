"""The search benchmark at a million records: build the index as ``dangan reindex`` does, then time searches.

    nice -n 19 /usr/bin/time -v .venv/bin/python bench/bench_million.py build DIR [--docs 1000000]
    nice -n 19 .venv/bin/python bench/bench_million.py measure DIR [--no-recoll]

``build`` makes an archive (``dangan init DIR/archive``) and streams the records of
``bench_search.iter_docs`` -- the same generator as the 10k and 100k sets, so the first 10,000
records are the 10k set -- into its tantivy index through ``SearchIndex.add`` in batches of
``REINDEX_BATCH`` (2,500), which is what ``dangan reindex`` does once it has read each record's
metadata from the store.  Nothing is held beyond one batch, so peak RSS (``/usr/bin/time -v``)
is the index writer's heap plus one batch.  It prints progress and writes ``DIR/build.json``
after every commit: a build stopped early leaves an index of the records committed so far, and
``measure`` reports the size it found.

``measure`` times, on that index: in-process queries (the 25 of ``bench_search.QUERIES``, three
rounds, exact totals counted: p50/p95 wall and CPU per kind), and ``dangan --archive A search Q
--limit 20`` in fresh processes (the real CLI, with a bytecode cache, after one warm-up; GNU time
for CPU and RSS).  The records are generated data: the set is kept out of the repository and out
of the test suite (about 6 GB of index at 1M).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import QUERIES, iter_docs, percentile, timed  # noqa: E402


def build(base: Path, n: int, batch: int) -> None:
    from installed import installed_env
    from dangan.core.search.indexing import REINDEX_BATCH
    from dangan.index import open_index
    batch = batch or REINDEX_BATCH
    archive = base / "archive"
    env = installed_env(base)
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "dangan", "init", str(archive), "--fonds", "Z109"], check=True,
                       env=env, capture_output=True)
    ix = open_index(archive / "index" / "tantivy", engine="tantivy")
    have = ix.doc_count()
    t0 = time.perf_counter()
    done = have
    chunk = []
    for i, doc in enumerate(iter_docs(n)):
        if i < have:
            continue                       # resumed: these are in the index already
        chunk.append(doc)
        if len(chunk) >= batch:
            ix.add(chunk)
            done += len(chunk)
            chunk = []
            _progress(base, done, n, time.perf_counter() - t0, have)
    if chunk:
        ix.add(chunk)
        done += len(chunk)
        _progress(base, done, n, time.perf_counter() - t0, have)
    ix.close()


def _progress(base: Path, done: int, n: int, elapsed: float, start: int) -> None:
    rate = (done - start) / elapsed if elapsed else 0.0
    size = sum(p.stat().st_size for p in (base / "archive" / "index" / "tantivy").iterdir() if p.is_file())
    state = {"records": done, "of": n, "seconds": round(elapsed, 1), "docs_per_s": round(rate, 1),
             "index_bytes": size, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    (base / "build.json").write_text(json.dumps(state), encoding="utf-8")
    print(json.dumps(state), flush=True)


def measure(base: Path, rounds: int) -> None:
    from installed import compile_ahead, installed_env
    from dangan.index import open_index
    archive = base / "archive"
    ix = open_index(archive / "index" / "tantivy", engine="tantivy", create=False)
    n = ix.doc_count()
    print(f"index holds {n} records", flush=True)
    rows: list[tuple[str, str]] = []
    every_wall: list[float] = []
    every_cpu: list[float] = []
    for kind, qs in QUERIES.items():
        walls, cpus = [], []
        for _ in range(rounds):
            for q, _r in qs:
                t, c = time.perf_counter(), time.process_time()
                ix.search(q, limit=20)           # exact total (tantivy's count collector) and 20 snippets
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
        every_wall += walls
        every_cpu += cpus
        rows.append((f"in-process {kind}", f"p50 {percentile(walls, 50) * 1e3:.1f} / p95 "
                     f"{percentile(walls, 95) * 1e3:.1f} ms wall; CPU p50 {percentile(cpus, 50) * 1e3:.1f} / "
                     f"p95 {percentile(cpus, 95) * 1e3:.1f} ms"))
    rows.append(("in-process, every query", f"p95 {percentile(every_wall, 95) * 1e3:.1f} ms wall, "
                 f"{percentile(every_cpu, 95) * 1e3:.1f} ms CPU ({len(every_wall)} queries)"))
    counts = {q: ix.count(q) for qs in QUERIES.values() for q, _r in qs}
    ix.close()

    env = installed_env(base)
    compile_ahead(env)
    cli = [sys.executable, "-m", "dangan", "--archive", str(archive), "search"]
    timed([*cli, "warm", "--limit", "20"], env)
    fresh: dict[str, tuple[float, float, float]] = {}
    for qs in QUERIES.values():
        for q, _r in qs:
            wall, cpu, _out, mib = timed([*cli, q, "--limit", "20"], env)
            fresh[q] = (wall, cpu, mib)
    ws = sorted(v[0] for v in fresh.values())
    rows.append(("fresh-process `dangan search Q --limit 20`",
                 f"median {statistics.median(ws):.3f} s wall, max {ws[-1]:.3f} s; median "
                 f"{statistics.median(v[1] for v in fresh.values()):.3f} s CPU; peak RSS "
                 f"{max(v[2] for v in fresh.values()):.0f} MiB over {len(ws)} queries"))
    print("\n| query | hits | fresh wall s | fresh CPU s |\n|---|---|---|---|")
    for q, (wall, cpu, _m) in fresh.items():
        print(f"| `{q}` | {counts[q]} | {wall:.3f} | {cpu:.3f} |")
    load = os.getloadavg()
    print(f"\n{n} records; machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="stream the records into DIR/archive's tantivy index (resumes)")
    b.add_argument("dir", type=Path)
    b.add_argument("--docs", type=int, default=1_000_000)
    b.add_argument("--batch", type=int, default=0, help="records per commit (default: reindex's)")
    m = sub.add_parser("measure", help="time in-process and fresh-process searches on DIR's index")
    m.add_argument("dir", type=Path)
    m.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.cmd == "build":
        build(args.dir, args.docs, args.batch)
    else:
        measure(args.dir, args.rounds)


if __name__ == "__main__":
    main()
