"""Benchmark ``dangan worker`` (issue 17.5): queued extraction jobs done by one and two worker processes, beside
the embedded peer (the watcher's in-process extractor: ``dangan watch --once`` on an empty drop folder drains
the same queue), on catalogue.sqlite and on PostgreSQL.

    .venv/bin/python bench/bench_worker.py [--quick] [--jobs N]

Each archive is fresh; N plain text records are archived without extraction and queued (as the watcher leaves
them); then the command is timed in fresh child processes until the queue and the index outbox are empty.
Prints a markdown table (jobs/s, ratio to the peer) with the machine, its load and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from installed import compile_ahead, installed_env  # noqa: E402

DANGAN = str(Path(sys.executable).parent / "dangan")
WORDS = "档案 管理 会议 纪要 合同 预算 审计 移交 保管 期限 鉴定 销毁 借阅 安全 备份 report archive".split()


def queued_archive(root: Path, n: int, url: str | None) -> None:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.deferred import enqueue
    from dangan.core.store.ingest import Ingestor
    actor = Actor("bench", "bench")
    Archive.init(root, fonds="Z109", actor=actor, catalogue_url=url).close()
    src = root.parent / (root.name + "-src")
    src.mkdir()
    rng = random.Random(5)
    a = Archive(root, actor)
    try:
        ing = Ingestor(a)
        ids = []
        for i in range(n):
            p = src / f"job-{i:04d}.txt"
            p.write_text(f"第{i}件 " + " ".join(rng.choice(WORDS) for _ in range(300)), encoding="utf-8")
            ids.append(ing.ingest(p, RecordFields(title=f"job {i}")).id)
        with a.transaction() as conn:
            for rid in ids:
                enqueue(conn, rid)
    finally:
        a.close()


def timed(cmds: list[list[str]], env: dict[str, str]) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p, c in zip(procs, cmds):
        out, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"{' '.join(c)} failed ({p.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 jobs, for a smoke run")
    ap.add_argument("--jobs", type=int, default=200, help="queued extraction jobs per run")
    args = ap.parse_args()
    n = 40 if args.quick else args.jobs
    base = Path(tempfile.mkdtemp(prefix="dangan-bench-worker-"))
    import pg_service
    server = pg_service.from_env() or pg_service.start()
    env = installed_env(base, {"DANGAN_USER": "bench"})
    compile_ahead(env)
    rows = []
    try:
        for engine in ("sqlite", "postgresql"):
            figures = {}
            for how in ("watch --once (peer)", "1 worker", "2 workers"):
                url = server.new_database() if engine == "postgresql" else None
                root = base / f"{engine}-{how.split()[0]}"
                queued_archive(root, n, url)
                drop = base / f"drop-{engine}-{how.split()[0]}"
                drop.mkdir()
                one = [DANGAN, "--archive", str(root), "worker", "--once", "--idle", "0.2"]
                cmds = ([[DANGAN, "--archive", str(root), "watch", "--once", str(drop)]] if how.startswith("watch")
                        else [one] * int(how[0]))
                figures[how] = n / timed(cmds, env)
            peer = figures["watch --once (peer)"]
            for how, rate in figures.items():
                rows.append(f"| {engine} | {how} | {n} | {rate:.1f} | {rate / peer:.2f} |")
    finally:
        server.stop()
    print(f"{platform.node()} · {os.cpu_count()} cores · load {os.getloadavg()[0]:.1f} · "
          f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print("| catalogue | command | jobs | jobs/s | ratio to peer |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
