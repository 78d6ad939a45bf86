"""Benchmark `dangan mv ID --volume V` into a confidential volume (issue 19.1) beside the way it was done before.

    .venv/bin/python bench/bench_volume_move.py [--records N] [--runs R] [--out DIR]

Builds an archive of N one-line records in a plain volume (as bench_exports.py), creates a secret volume, and
times in fresh processes, median of R runs (default 3), each run on another record:

- ``dangan mv ID --volume V``: the record sealed into a new object, the plaintext one purged, the index rebuilt;
- peer: ``dangan ingest FILE --volume V`` of the same file — the first half of the re-filing the refusal asked
  for before (a destruction list proposed, approved and executed was the second half, not timed here);
- ``dangan reindex`` alone: the share of the move that grows with the archive.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exports import build  # noqa: E402
from installed import compile_ahead, installed_env  # noqa: E402


def timed(make, runs: int, env) -> float:
    times = []
    for i in range(runs):
        cmd = make(i)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dangan-bench-move-"))
    env = installed_env(out, {"DANGAN_USER": "bench", "DANGAN_PASSPHRASE": "bench volume passphrase",
                              "HOME": str(out / "home"), "XDG_RUNTIME_DIR": str(out / "run")})
    compile_ahead(env)
    root = out / "archive"
    if not root.exists():
        build(root, args.records)
    dangan = [str(BIN / "dangan"), "--archive", str(root)]
    subprocess.run(dangan + ["volume", "create", "V", "--secrecy", "secret"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    conn = sqlite3.connect(root / "catalogue.sqlite")
    ids = [r[0] for r in conn.execute("SELECT id FROM records WHERE volume = 'BGS-2021-01' ORDER BY piece LIMIT ?",
                                      (args.runs,))]
    conn.close()
    src = sorted((root.parent / "src").iterdir())
    rows = [
        ("dangan mv ID --volume V (seal, purge, reindex)",
         timed(lambda i: dangan + ["mv", ids[i], "--volume", "V"], args.runs, env)),
        ("peer: dangan ingest FILE --volume V (re-file)",
         timed(lambda i: dangan + ["ingest", str(src[-1 - i]), "--volume", "V"], args.runs, env)),
        ("dangan reindex (the part that grows with the archive)",
         timed(lambda i: dangan + ["reindex"], args.runs, env)),
    ]
    print(f"{args.records} records; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {dt.date.today()}, load {os.getloadavg()[0]:.1f}")
    print(f"| command | median of {args.runs} (s) | ratio to the peer |")
    print("|---|---|---|")
    peer = rows[1][1]
    for name, t in rows:
        print(f"| `{name}` | {t:.2f} | {t / peer:.1f}× |")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
