"""Start-up of two installs of dangan, interleaved: which of them starts `show` and `ls` faster.

    python bench/startup_ab.py A/.venv/bin/dangan B/.venv/bin/dangan ARCHIVE [--runs 25] [--archive-b ARCHIVE2]

On a busy machine two benchmark runs minutes apart meet different loads, and even CPU time grows
with contention; alternating the two installs run by run, on the same archive, cancels that out.
Each run is a fresh process from a bytecode cache of its own (``PYTHONPYCACHEPREFIX``, as after
``pip install``); the figure is the child's CPU time (user + sys, ``getrusage``), median and
minimum, with the wall-time median beside it.  Two untimed runs of each first warm the caches.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="the first dangan console script")
    ap.add_argument("b", help="the second dangan console script")
    ap.add_argument("archive", help="an archive to run the commands on (bench_ingest.py --keep builds one)")
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--command", action="append", default=[],
                    help='another command to time, e.g. --command "search 借阅 --limit 20" (repeatable)')
    ap.add_argument("--archive-b", help="the second install's archive, when it must differ (another index "
                                        "schema: the same archive would be rebuilt by each in turn)")
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="dangan-startup-ab-")
    archives = [args.archive, args.archive_b or args.archive]

    def env(k: int) -> dict[str, str]:
        e = dict(os.environ)
        e.pop("PYTHONDONTWRITEBYTECODE", None)
        e["PYTHONPYCACHEPREFIX"] = os.path.join(cache, str(k))
        return e

    def one(k: int, exe: str, cmd: list[str]) -> tuple[float, float]:
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([exe, "--archive", archives[k], *cmd], env=env(k), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall * 1000, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000

    def first_id(k: int, exe: str) -> str | None:
        out = subprocess.run([exe, "--archive", archives[k], "ls", "--limit", "1", "--json"], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.splitlines()[0])["id"] if out.strip() else None

    installs = [args.a, args.b]
    rids = [first_id(k, exe) for k, exe in enumerate(installs)]
    commands: list[tuple[str, list[list[str]]]] = []
    if all(rids):                    # an archive with records: the show and ls rows
        commands += [("show ID", [["show", str(r)] for r in rids]), ("ls --limit 20", [["ls", "--limit", "20"]] * 2)]
    commands += [(c, [c.split()] * 2) for c in args.command]
    for label, cmds in commands:
        got: list[list[tuple[float, float]]] = [[], []]
        for k, exe in enumerate(installs):
            one(k, exe, cmds[k])
            one(k, exe, cmds[k])
        for i in range(args.runs):
            for k in ((0, 1) if i % 2 == 0 else (1, 0)):
                got[k].append(one(k, installs[k], cmds[k]))
        for k, exe in enumerate(installs):
            cpu = [c for _, c in got[k]]
            print(f"{label:14s} {exe}: CPU median {statistics.median(cpu):6.1f} ms (min {min(cpu):6.1f}), "
                  f"wall median {statistics.median(w for w, _ in got[k]):6.1f} ms")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
