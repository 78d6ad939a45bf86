"""Benchmark the catalogue on PostgreSQL beside the embedded one (issue 17, part A).

    .venv/bin/python bench/bench_catalogue.py [--files N] [--reads R]

Two fresh archives on the same machine, the same N small text files: one embedded (catalogue.sqlite), one
with ``dangan init --catalogue URL`` on a throw-away PostgreSQL 15 (tests/pg_service.py: the server of the
image on a Unix socket, default settings, fsync on).  Timed, each in a fresh process as a user runs it:

* ``dangan ingest`` of the N files (one command), and the same split over two processes at once;
* ``dangan ls`` (all records), ``dangan ls dept:办公室`` and ``dangan show ID``, R times each (median).

Prints a markdown table with the ratio (embedded time / PostgreSQL time: ≥ 1 means PostgreSQL is as fast).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pg_service  # noqa: E402
sys.path.insert(0, str(ROOT / "bench"))
from installed import compile_ahead, installed_env  # noqa: E402

DANGAN = [sys.executable, "-m", "dangan"]
CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01"]


def run(root: Path, *args: object, env=None) -> subprocess.CompletedProcess:
    r = subprocess.run([*DANGAN, "--archive", str(root), "--as", "bench", *map(str, args)], capture_output=True,
                       text=True, env=env)
    if r.returncode:
        sys.exit(f"dangan {args[0]} failed: {r.stderr[-2000:]}")
    return r


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def files(base: Path, n: int, tag: str) -> list[Path]:
    base.mkdir(parents=True)
    out = []
    for i in range(n):
        p = base / f"{tag}-{i:05d}.txt"
        p.write_text(f"{tag} 第{i}件 档案管理制度 record {i} " * 8, encoding="utf-8")
        out.append(p)
    return out


def measure(tmp: Path, label: str, urls: tuple[str, str] | None, n: int, reads: int, env) -> dict[str, float]:
    """``urls``: the PostgreSQL databases of the one-process and two-process archives (None: embedded)."""
    one, two = tmp / f"{label}-one", tmp / f"{label}-two"
    out: dict[str, float] = {}
    for i, root in enumerate((one, two)):
        extra = ["--catalogue", urls[i]] if urls else []
        subprocess.run([*DANGAN, "init", str(root), "--fonds", "Z109", *extra], check=True, capture_output=True,
                       env=env)
    batch = files(tmp / f"{label}-files", n, label)
    out["ingest"] = timed(lambda: run(one, "ingest", *batch, *CODE, env=env))
    half = n // 2
    a, b = files(tmp / f"{label}-a", half, label + "a"), files(tmp / f"{label}-b", n - half, label + "b")

    def both():
        ps = [subprocess.Popen([*DANGAN, "--archive", str(two), "--as", "bench", "ingest", *map(str, part), *CODE],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for part in (a, b)]
        for p in ps:
            if p.wait():
                sys.exit(p.stderr.read().decode()[-2000:])
    out["ingest2"] = timed(both)
    rid = run(one, "ls", "--json", "--limit", "1", env=env).stdout.split('"id": "')[1].split('"')[0]
    for key, args in (("ls", ("ls",)), ("ls_filter", ("ls", "dept:bgs title:檔案")), ("show", ("show", rid))):
        out[key] = statistics.median(timed(lambda: run(one, *args, env=env)) for _ in range(reads))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--reads", type=int, default=5)
    args = ap.parse_args()
    server = pg_service.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            env = installed_env(tmp, {"HOME": str(tmp / "home")})
            compile_ahead(env)              # timed children run as an installed copy does: from .pyc files
            sqlite = measure(tmp, "sq", None, args.files, args.reads, env)
            pg = measure(tmp, "pg", (server.new_database(), server.new_database()), args.files, args.reads, env)
    finally:
        server.stop()
    rows = [("ingest", f"`dangan ingest` {args.files} small files, one process"),
            ("ingest2", f"the same {args.files} files, two processes at once"),
            ("ls", f"`dangan ls` ({args.files} records)"), ("ls_filter", "`dangan ls dept:bgs title:檔案` (folded filters)"),
            ("show", "`dangan show ID`")]
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; command: .venv/bin/python bench/bench_catalogue.py --files {args.files}"
          f" --reads {args.reads}\n")
    print("| what | embedded (SQLite) | PostgreSQL 15 | ratio embedded/PG |")
    print("|---|---|---|---|")
    for key, what in rows:
        print(f"| {what} | {sqlite[key]:.2f} s | {pg[key]:.2f} s | {sqlite[key] / pg[key]:.2f} |")


if __name__ == "__main__":
    main()
