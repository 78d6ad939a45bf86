"""Fresh-process `dangan search Q --limit 20` beside `recollq`, query by query, on a `bench_search.py --dir` set.

    nice -n 19 .venv/bin/python bench/bench_search_fresh.py DIR [ROUNDS]

DIR is a folder ``bench_search.py --dir DIR`` left (its archive, Recoll configuration and bytecode cache):
the fresh-process rows again, without rebuilding either index, when the machine is quieter.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import QUERIES, timed  # noqa: E402
from installed import installed_env  # noqa: E402


def main() -> None:
    base = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    env = installed_env(base)
    cli = [sys.executable, "-m", "dangan", "--archive", str(base / "archive"), "search"]
    rq = [str(shutil.which("recollq")), "-c", str(base / "recoll"), "-n", "0-20", "-b"]
    timed([*cli, "warm", "--limit", "20"], env)
    timed([*rq, "檔案"], env)
    walls, cpus, recoll = [], [], []
    for _ in range(rounds):
        for qs in QUERIES.values():
            for q, rqq in qs:
                wall, cpu, _out, _mib = timed([*cli, q, "--limit", "20"], env)
                walls.append(wall)
                cpus.append(cpu)
                if rqq:
                    recoll.append(timed([*rq, rqq], env)[0])
    d, r = statistics.median(walls), statistics.median(recoll)
    print(f"load {os.getloadavg()[0]:.2f}; dangan median {d:.3f} s wall (max {max(walls):.3f}), CPU "
          f"{statistics.median(cpus):.3f} s over {len(walls)}; recollq median {r:.3f} s (max {max(recoll):.3f}) "
          f"over {len(recoll)}; ratio {d / r:.1f}x")


if __name__ == "__main__":
    main()
