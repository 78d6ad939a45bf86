"""Benchmark the transfer package (移交, issue 19.6): export with DA/T 48 XML and 移交清单, and import-bag.

    .venv/bin/python bench/bench_transfer.py [--records N] [--runs R] [--out DIR]

Builds an archive of N records in one volume (as bench_exports.py), then times in fresh processes,
median of R runs (default 3):

- ``dangan export --volume V --bagit D --receiver ORG`` beside the peer ``bagit.py --sha512`` making a bag
  of the same N files (the peer has no catalogue, XML, register, policy or audit);
- ``dangan import-bag D`` into a fresh archive beside the peer ``bagit.py --validate D`` (the peer only checks
  the digests; import-bag checks them too, then files every record).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exports import build  # noqa: E402
from installed import compile_ahead, installed_env  # noqa: E402


def timed(make, before=None, runs: int = 3, env=None) -> float:
    times = []
    for i in range(runs):
        if before:
            before(i)
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
    out = args.out or Path(tempfile.mkdtemp(prefix="dangan-bench-transfer-"))
    env = installed_env(out, {"DANGAN_USER": "bench"})
    compile_ahead(env)
    root = out / "archive"
    if not root.exists():
        build(root, args.records)
    dangan = [str(BIN / "dangan"), "--archive", str(root)]
    bagit_py = [str(BIN / "python"), "-m", "bagit"]

    def peer_copy(i):
        shutil.rmtree(out / f"peer{i}", ignore_errors=True)
        shutil.copytree(root.parent / "src", out / f"peer{i}")

    def fresh(i):
        shutil.rmtree(out / f"fresh{i}", ignore_errors=True)
        subprocess.run([str(BIN / "dangan"), "init", str(out / f"fresh{i}"), "--fonds", "Z109"], check=True,
                       stdout=subprocess.DEVNULL, env=env)

    rows = [
        ("dangan export --volume V --bagit D --receiver ORG",
         timed(lambda i: dangan + ["export", "--volume", "BGS-2021-01", "--bagit", str(out / f"bag{i}"),
                                   "--receiver", "某市档案馆"], runs=args.runs, env=env)),
        ("peer: bagit.py --sha512 DIR (same files)",
         timed(lambda i: bagit_py + ["--sha512", str(out / f"peer{i}")], peer_copy, runs=args.runs, env=env)),
        ("dangan import-bag D (fresh archive)",
         timed(lambda i: [str(BIN / "dangan"), "--archive", str(out / f"fresh{i}"), "import-bag", str(out / "bag0")],
               fresh, runs=args.runs, env=env)),
        ("peer: bagit.py --validate D",
         timed(lambda i: bagit_py + ["--validate", str(out / "bag0")], runs=args.runs, env=env)),
    ]
    print(f"{args.records} records; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {dt.date.today()}, load {os.getloadavg()[0]:.1f}")
    print(f"| command | median of {args.runs} (s) | ratio to its peer |")
    print("|---|---|---|")
    for n, (name, t) in enumerate(rows):
        peer = rows[n | 1][1]
        print(f"| `{name}` | {t:.2f} | {t / peer:.1f}× |")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
