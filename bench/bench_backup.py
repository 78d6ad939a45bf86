"""Benchmark backups (issue 6, "Speed"), side by side with restic when it is installed.

    .venv/bin/python bench/bench_backup.py [--out DIR] [--records 2000] [--mb 1024] [--quick]

One archive of about ``--records`` records totalling about ``--mb`` MB
(unique random-byte ``.bin`` files, ingested with ``dangan ingest``) is built once in ``--out``
(reused if it is there).  Then, each as a fresh child process exactly as a
user types it:

1. ``dangan backup create`` into a new repository (initial backup): time and repository size;
2. ``dangan backup create`` again, nothing changed (target: < 1 s);
3. 10 records added, ``dangan backup create``;
4. ``dangan backup restore latest --to DIR`` (full restore);

and the same four steps with ``restic backup ARCHIVE`` / ``restic restore
latest``.  The page cache is not dropped (both tools see the same warm
cache).  Prints a markdown table with the machine and the commands.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PASS = "bench passphrase"


#: Timed children run from a bytecode cache, as an installed copy does (main() fills it in and compiles).
CHILD_ENV: dict[str, str] = dict(os.environ)


def sh(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**CHILD_ENV, **(env or {})})
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return elapsed


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_drop(d: Path, n: int, size: int, start: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (d / f"rec-{i:05d}.bin").write_bytes(os.urandom(size))


def build_archive(root: Path, records: int, mb: int) -> None:
    if (root / "dangan.toml").exists():
        return
    dangan = str(BIN / "dangan")
    sh([dangan, "init", str(root), "--fonds", "Z109"])
    drop = root.parent / "drop"
    shutil.rmtree(drop, ignore_errors=True)
    make_drop(drop, records, mb * 1024 * 1024 // records, 0)
    sh([dangan, "--archive", str(root), "ingest", str(drop), "--category", "WS", "--dept", "BGS",
        "--retention", "D10", "--date", "2021-01-01"])
    shutil.rmtree(drop)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/dangan-bench-backup"))
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--quick", action="store_true", help="200 records, 100 MB: a smoke run")
    a = ap.parse_args()
    if a.quick:
        a.records, a.mb = 200, 100
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from installed import compile_ahead, installed_env
    CHILD_ENV.clear()
    CHILD_ENV.update(installed_env(out))
    compile_ahead(CHILD_ENV)
    archive = out / f"archive-{a.records}-{a.mb}"
    t = time.perf_counter()
    build_archive(archive, a.records, a.mb)
    built = time.perf_counter() - t
    dangan = [str(BIN / "dangan"), "--archive", str(archive)]
    env = {"DANGAN_BACKUP_PASSPHRASE": PASS, "RESTIC_PASSWORD": PASS}
    rows = []
    for d in ("repo", "restored", "restic-repo", "restic-restored"):
        shutil.rmtree(out / d, ignore_errors=True)
    sh(dangan + ["backup", "init", "--repo", str(out / "repo")], env)
    first = sh(dangan + ["backup", "create", "--repo", str(out / "repo")], env)
    size1 = du(out / "repo")
    same = sh(dangan + ["backup", "create", "--repo", str(out / "repo")], env)
    drop = out / "drop10"
    shutil.rmtree(drop, ignore_errors=True)
    make_drop(drop, 10, a.mb * 1024 * 1024 // a.records, 10_000 + int(time.time()) % 10_000)
    sh(dangan + ["ingest", str(drop), "--category", "WS", "--dept", "BGS", "--retention", "D10",
                 "--date", "2021-01-01"])
    small = sh(dangan + ["backup", "create", "--repo", str(out / "repo")], env)
    restore = sh(dangan + ["backup", "restore", "latest", "--to", str(out / "restored"), "--repo",
                           str(out / "repo")], env)
    rows.append(("dangan", first, size1, small, same, restore))
    restic = shutil.which("restic")
    if restic:
        r = str(out / "restic-repo")
        sh([restic, "init", "-r", r], env)
        shutil.rmtree(drop)
        # the archive now holds the 10 extra records; restic's "initial" covers the same tree state for fairness
        first_r = sh([restic, "-r", r, "backup", str(archive)], env)
        size_r = du(out / "restic-repo")
        same_r = sh([restic, "-r", r, "backup", str(archive)], env)
        make_drop(drop, 10, a.mb * 1024 * 1024 // a.records, 20_000 + int(time.time()) % 10_000)
        sh(dangan + ["ingest", str(drop), "--category", "WS", "--dept", "BGS", "--retention", "D10",
                     "--date", "2021-01-01"])
        small_r = sh([restic, "-r", r, "backup", str(archive)], env)
        restore_r = sh([restic, "-r", r, "restore", "latest", "--target", str(out / "restic-restored")], env)
        rows.append((f"restic {subprocess.run([restic, 'version'], capture_output=True, text=True).stdout.split()[1]}",
                     first_r, size_r, small_r, same_r, restore_r))
    shutil.rmtree(drop, ignore_errors=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"\n### Backups: {a.records} records, {a.mb} MB (archive built in {built:.0f} s)\n")
    print(f"{dt.date.today()} · {platform.node()} · {cpu} · {os.cpu_count()} CPUs · Python {platform.python_version()}"
          f" · `{' '.join(sys.argv)}`\n")
    print("| tool | initial backup | repository size | after adding 10 records | no change | full restore |")
    print("|---|---|---|---|---|---|")
    for name, f, s, sm, same_, rs in rows:
        print(f"| {name} | {f:.2f} s | {s / 2**20:.0f} MiB | {sm:.2f} s | {same_:.2f} s | {rs:.2f} s |")
    print("\nCommands: `dangan backup create --repo R` (passphrase from $DANGAN_BACKUP_PASSPHRASE), "
          "`dangan backup restore latest --to DIR`; `restic -r R backup ARCHIVE`, "
          "`restic -r R restore latest --target DIR`. Wall time of each fresh process.")


if __name__ == "__main__":
    main()
