"""Benchmark ingest and the catalogue commands (issue 2, "Speed").

    .venv/bin/python bench/bench_ingest.py [--out DIR] [--quick] [--keep]

In one run, on this machine:

1. ``dangan ingest DIR`` of 1,000 small (1-4 KB) unique text files, mixed
   Chinese and English, into a fresh archive: files/s from the command's wall
   time, once with the plain report and once with ``--json``; then one more file
   into that archive (one-at-a-time ingest), and ``recollindex`` of the same
   files beside it (the peer's rate, and dangan's ratio to it).
2. ``dangan ingest DIR`` of 10 x 100 MB files of random bytes into a fresh
   archive, beside ``cp`` of the same files into a folder on the same
   filesystem followed by ``sync``: MB/s of each and their ratio (target: ingest
   >= 60 % of cp+sync).  The files are written and synced before any timing,
   and the page cache is dropped before each timed command when we may
   (root); the output says whether it was.
3. ``dangan show ID``, ``dangan ls``, ``dangan ls --limit 20`` and
   ``dangan ls dept:BGS`` in an archive of 10,000 records (built with the
   Python API, ``ingest_batch``, in one process): wall time of a fresh process,
   median and p95 over 20 runs (target: <= 150 ms).
4. A markdown table of every figure with its exact command, the machine and
   the date.

Every command runs as a child process exactly as a user would type it (the
console script beside this interpreter), with stdout and stderr piped (so no
progress bar is drawn).  ``--quick`` makes everything smaller, for a smoke
run; its figures are not the ones to publish.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REGULATIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed" / "regulations.zh.txt"
WORDS = ("archive record records management report annual budget review policy retention "
         "audit contract meeting minutes transfer volume catalogue destruction appraisal "
         "lending security backup inventory register approval department office").split()
DEPTS = ["BGS", "CWB", "RSB", "DAS", "JSB"]        # 办公室, 财务部, 人事部, 档案室, 技术部
MB = 1_000_000
TARGET_RATIO = 0.60
TARGET_MS = 150.0


@dataclass
class Row:
    figure: str
    value: str
    command: str
    target: str = ""


def dangan_bin() -> str:
    exe = Path(sys.executable).parent / "dangan"
    if not exe.exists():
        sys.exit(f"no dangan console script beside {sys.executable}: run with the venv's python")
    return str(exe)


DANGAN = dangan_bin()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from installed import compile_ahead  # noqa: E402


# Child processes get a bytecode cache (as after `pip install`), kept under the scratch folder so the
# source tree is not touched, even where PYTHONDONTWRITEBYTECODE is set; set_env() fills this in.
CHILD_ENV: dict[str, str] = dict(os.environ)


def set_env(base: Path, bytecode: bool) -> None:
    CHILD_ENV.clear()
    CHILD_ENV.update(os.environ)
    CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    if not bytecode:        # stdlib and site-packages keep their .pyc; dangan's own modules compile each run
        CHILD_ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        del CHILD_ENV["PYTHONPYCACHEPREFIX"]
    else:                   # compileall first, as `pip install` does: the first timed run is not a compile
        compile_ahead(CHILD_ENV)


def run(cmd: list[str], *, check: bool = True, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CHILD_ENV, **kw)
    if check and cp.returncode != 0:
        sys.exit(f"failed ({cp.returncode}): {shlex.join(cmd)}\n{cp.stderr.decode(errors='replace')[-2000:]}")
    return cp


def timed(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    cp = run(cmd, **kw)
    return time.perf_counter() - t, cp


def cpu_since(before) -> float:
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed_cpu(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one child process; CPU time barely moves when others load the machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _ = timed(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, -(-len(xs) * p // 100) - 1))]


def show_cmd(cmd: list[str], base: Path) -> str:
    """The command as a user would type it: `dangan ...`, scratch paths shortened to $OUT."""
    words = ["dangan" if w == DANGAN else w for w in cmd]
    return shlex.join(words).replace(str(base), "$OUT")


# -- machine --------------------------------------------------------------------

def machine(base: Path) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    df = run(["df", "-T", str(base)], check=False).stdout.decode().splitlines()
    fs = "?"
    if len(df) > 1:
        parts = df[1].split()
        fs = f"{parts[1]} ({parts[0]}, {int(parts[4]) // 1024 // 1024} GiB free)"
    commit = run(["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"],
                 check=False).stdout.decode().strip() or "?"
    return {"date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram,
            "python": f"{platform.python_version()} ({sys.executable})",
            "kernel": platform.release(), "scratch": f"{base} on {fs}", "commit": commit}


def drop_caches() -> bool:
    """sync, then drop the page cache; False where we may not (not root, read-only /proc/sys)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


# -- data -------------------------------------------------------------------------

def make_small_files(folder: Path, n: int, seed: int) -> int:
    """n unique text files of 1-4 KB (UTF-8), mixed Chinese runs and English words; returns total bytes."""
    text = re.sub(r"\s+", "", REGULATIONS.read_text(encoding="utf-8", errors="replace"))
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        target = rnd.randint(1024, 4096)
        parts = [f"{seed}-{i:06d} "]           # unique even if the random runs repeat
        size = len(parts[0])
        while size < target:
            if rnd.random() < 0.3:
                s = " ".join(rnd.choices(WORDS, k=rnd.randint(2, 8))) + ".\n"
            else:
                a = rnd.randrange(len(text) - 100)
                s = text[a:a + rnd.randint(10, 100)] + "\n"
            parts.append(s)
            size += len(s.encode())
        data = "".join(parts).encode()[:target].decode("utf-8", errors="ignore").encode()
        (folder / f"doc-{i:06d}.txt").write_bytes(data)
        total += len(data)
    return total


def make_big_files(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    chunk = 4 * 1024 * 1024
    for i in range(n):
        with open(folder / f"big-{i:02d}.bin", "wb") as f:
            left = size
            while left:
                k = min(chunk, left)
                f.write(os.urandom(k))
                left -= k
            f.flush()
            os.fsync(f.fileno())


def new_archive(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    run([DANGAN, "init", str(path), "--fonds", "Z109", "--name", "bench"])


def count_archived(cp: subprocess.CompletedProcess, as_json: bool) -> int:
    out = cp.stdout.decode(errors="replace")
    if as_json:
        return out.count('"status": "archived"')
    return sum(1 for line in out.splitlines() if line.startswith("archived"))


# -- the benchmarks --------------------------------------------------------------

def bench_small(base: Path, n: int, rows: list[Row]) -> None:
    src = base / "small"
    shutil.rmtree(src, ignore_errors=True)
    total = make_small_files(src, n, seed=2)
    os.sync()
    rates: dict[str, float] = {}
    print(f"[small] {n} files, {total / 1024:.0f} KiB in {src}")
    for as_json in (False, True):
        arch = base / ("arch-small-json" if as_json else "arch-small")
        new_archive(arch)
        cmd = [DANGAN, "--archive", str(arch), "ingest", str(src)] + (["--json"] if as_json else [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, cp = timed(cmd)
        cpu = cpu_since(before)
        got = count_archived(cp, as_json)
        if got != n:
            sys.exit(f"[small] expected {n} archived, got {got}")
        print(f"[small] json={as_json}: {wall:.2f} s wall, {n / wall:.1f} files/s, CPU {cpu:.1f} s")
        rows.append(Row(f"ingest {n} small files (1-4 KB){' --json' if as_json else ''}",
                        f"{n / wall:.1f} files/s ({wall:.1f} s wall, {cpu:.1f} s CPU)", show_cmd(cmd, base)))
        if not as_json:
            rates["dangan"] = n / wall
            one = base / "one.txt"
            one.write_text("一份后来的文件：借阅登记。A late file.", encoding="utf-8")
            cmd1 = [DANGAN, "--archive", str(arch), "ingest", str(one)]
            wall1, cpu1 = timed_cpu(cmd1)
            rows.append(Row(f"ingest one file into that {n}-record archive", f"{wall1:.2f} s wall, {cpu1:.2f} s CPU",
                            show_cmd(cmd1, base)))
        shutil.rmtree(arch, ignore_errors=True)
    if shutil.which("recollindex"):       # the peer, on the same files (issue 15)
        conf = base / "recoll-small"
        shutil.rmtree(conf, ignore_errors=True)
        conf.mkdir()
        (conf / "recoll.conf").write_text(f"topdirs = {src}\ncjkngramlen = 2\nnoaspell = 1\nloglevel = 1\n",
                                          encoding="utf-8")
        cmd = ["recollindex", "-c", str(conf)]
        wall, cpu = timed_cpu(cmd)
        rows.append(Row(f"recollindex of the same {n} files", f"{n / wall:.1f} files/s ({wall:.1f} s wall, "
                        f"{cpu:.1f} s CPU); dangan ingest is {rates['dangan'] / (n / wall):.2f}× its rate",
                        show_cmd(cmd, base)))
        shutil.rmtree(conf, ignore_errors=True)


def bench_big(base: Path, n: int, size: int, rounds: int, rows: list[Row], notes: list[str]) -> None:
    src = base / "big"
    shutil.rmtree(src, ignore_errors=True)
    t = time.perf_counter()
    make_big_files(src, n, size)
    print(f"[big] wrote {n} x {size / MB:.0f} MB of random bytes in {time.perf_counter() - t:.1f} s")
    total = n * size
    cached = drop_caches()
    if not cached:
        notes.append("page cache NOT dropped (not root or /proc/sys read-only): sources may be read from memory")
    dst = base / "cp-dest"
    cp_rates, in_rates, post_syncs, in_cpu = [], [], [], []
    cp_cmd = ["sh", "-c", f"cp {shlex.quote(str(src))}/*.bin {shlex.quote(str(dst))}/ && sync"]
    arch = base / "arch-big"
    in_cmd = [DANGAN, "--archive", str(arch), "ingest", str(src)]
    for r in range(rounds):
        # cp + sync
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir()
        drop_caches()
        wall, _ = timed(cp_cmd)
        cp_rates.append(total / MB / wall)
        print(f"[big] round {r + 1}: cp+sync {wall:.2f} s = {cp_rates[-1]:.0f} MB/s")
        shutil.rmtree(dst, ignore_errors=True)
        # ingest
        new_archive(arch)
        drop_caches()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, cp = timed(in_cmd)
        in_cpu.append(cpu_since(before))
        if count_archived(cp, False) != n:
            sys.exit(f"[big] expected {n} archived:\n{cp.stdout.decode()}\n{cp.stderr.decode()}")
        in_rates.append(total / MB / wall)
        t = time.perf_counter()
        os.sync()                       # what ingest left unsynced (should be ~nothing: it fsyncs)
        post_syncs.append(time.perf_counter() - t)
        print(f"[big] round {r + 1}: ingest {wall:.2f} s = {in_rates[-1]:.0f} MB/s "
              f"(ratio {in_rates[-1] / cp_rates[-1]:.0%}; CPU {in_cpu[-1]:.2f} s; "
              f"sync after it {post_syncs[-1] * 1000:.0f} ms)")
        shutil.rmtree(arch, ignore_errors=True)
    cp_med, in_med = statistics.median(cp_rates), statistics.median(in_rates)
    ratio = in_med / cp_med
    each = ", ".join(f"{x:.0f}" for x in cp_rates)
    rows.append(Row(f"cp + sync of {n} x {size // MB} MB (median of {rounds})", f"{cp_med:.0f} MB/s ({each})",
                    show_cmd(cp_cmd, base)))
    each = ", ".join(f"{x:.0f}" for x in in_rates)
    rows.append(Row(f"ingest {n} x {size // MB} MB random bytes (median of {rounds})",
                    f"{in_med:.0f} MB/s ({each}; CPU {statistics.median(in_cpu):.2f} s)", show_cmd(in_cmd, base)))
    rows.append(Row("ingest / (cp + sync)", f"{ratio:.0%} ({', '.join(f'{a / b:.0%}' for a, b in zip(in_rates, cp_rates))})",
                    "(ratio of the two medians; per round in brackets)",
                    "≥ 60 %: " + ("met" if ratio >= TARGET_RATIO else "**missed**")))
    notes.append(f"page cache dropped before each timed cp and ingest: {'yes' if cached else 'no'}; "
                 f"`sync` right after each ingest took {', '.join(f'{s * 1000:.0f}' for s in post_syncs)} ms")
    shutil.rmtree(src, ignore_errors=True)


def bench_one(base: Path, arch: Path, runs: int, rows: list[Row]) -> None:
    """One new file at a time into an existing archive: wall and CPU of each fresh `dangan ingest FILE`."""
    import sqlite3
    conn = sqlite3.connect(arch / "catalogue.sqlite")
    n = f"{conn.execute('SELECT count(*) FROM records').fetchone()[0]:,}"
    conn.close()
    walls, cpus = [], []
    for i in range(runs + 1):
        one = base / f"one-{os.getpid()}-{i}.txt"
        one.write_text(f"一份后来的文件：借阅登记 {time.time_ns()}。A late file {i}.", encoding="utf-8")
        cmd = [DANGAN, "--archive", str(arch), "ingest", str(one)]
        wall, cpu = timed_cpu(cmd)
        if i:                                  # the first run is the warm-up (bytecode, page cache)
            walls.append(wall)
            cpus.append(cpu)
        print(f"[one] {wall:.3f} s wall, {cpu:.3f} s CPU (load {os.getloadavg()[0]:.1f})")
    rows.append(Row(f"ingest one file into an existing archive ({n} records), {runs} runs",
                    f"median {statistics.median(walls):.3f} s wall (min {min(walls):.3f}, max {max(walls):.3f}), "
                    f"median {statistics.median(cpus):.3f} s CPU", show_cmd(cmd, base), "<= 0.3 s wall"))


def build_catalogue(base: Path, n: int) -> tuple[Path, float]:
    """An archive of n records, built in one process with the Python API."""
    arch = base / "arch-10k"
    src = base / "records"
    shutil.rmtree(src, ignore_errors=True)
    per = n // len(DEPTS)
    for k, dept in enumerate(DEPTS):
        make_small_files(src / dept, per if k < len(DEPTS) - 1 else n - per * (len(DEPTS) - 1), seed=100 + k)
    new_archive(arch)
    code = """
import sys
from pathlib import Path
from dangan.core.archive import Archive
from dangan.core.store.batch import ingest_batch
from dangan.core.catalogue.fields import RecordFields
arch, src = Path(sys.argv[1]), Path(sys.argv[2])
a = Archive.open(arch)
bad = 0
for i, d in enumerate(sorted(p for p in src.iterdir() if p.is_dir())):
    out = ingest_batch(a, [d], RecordFields(department=d.name, category="WS", year=2015 + i, retention="Y"), index=True)
    bad += sum(o.status != "archived" for o in out)
a.close()
sys.exit(1 if bad else 0)
"""
    print(f"[catalogue] building {n} records in {arch} (one process, ingest_batch) ...")
    wall, _ = timed([sys.executable, "-c", code, str(arch), str(src)])
    print(f"[catalogue] built in {wall:.0f} s ({n / wall:.0f} records/s)")
    shutil.rmtree(src, ignore_errors=True)
    return arch, wall


def bench_commands(base: Path, arch: Path, n: int, runs: int, rows: list[Row]) -> None:
    import json
    cp = run([DANGAN, "--archive", str(arch), "ls", "--json"])
    ids = [json.loads(line)["id"] for line in cp.stdout.decode().splitlines() if line.strip()]
    if len(ids) != n:
        sys.exit(f"[commands] expected {n} records, ls --json gave {len(ids)}")
    rnd = random.Random(7)
    sample = rnd.sample(ids, runs)
    a = ["--archive", str(arch)]
    cases = [
        ("python -I -c pass (interpreter floor)", lambda i: [sys.executable, "-I", "-c", "pass"], False),
        ("dangan --version", lambda i: [DANGAN, "--version"], False),
        ("dangan show ID", lambda i: [DANGAN, *a, "show", sample[i]], True),
        ("dangan show --json ID", lambda i: [DANGAN, *a, "show", "--json", sample[i]], True),
        (f"dangan ls (all {n})", lambda i: [DANGAN, *a, "ls"], True),
        (f"dangan ls --json (all {n})", lambda i: [DANGAN, *a, "ls", "--json"], True),
        ("dangan ls --limit 20", lambda i: [DANGAN, *a, "ls", "--limit", "20"], True),
        (f"dangan ls dept:BGS ({n // len(DEPTS)} rows)", lambda i: [DANGAN, *a, "ls", "dept:BGS"], True),
        ("dangan ls dept:BGS --limit 20", lambda i: [DANGAN, *a, "ls", "dept:BGS", "--limit", "20"], True),
        ("dangan ls --dept BGS --limit 20", lambda i: [DANGAN, *a, "ls", "--dept", "BGS", "--limit", "20"], True),
        ("no bytecode cache: dangan show ID", lambda i: [DANGAN, *a, "show", sample[i]], True),
        ("no bytecode cache: dangan ls --limit 20", lambda i: [DANGAN, *a, "ls", "--limit", "20"], True),
    ]
    for label, make, targeted in cases:
        set_env(base, bytecode=not label.startswith("no bytecode cache"))
        run(make(0))                                  # warm the page cache (and the bytecode cache) once
        got = [timed_cpu(make(i)) for i in range(runs)]
        walls = [w * 1000 for w, _ in got]
        cpu = statistics.median(c * 1000 for _, c in got)
        med, p95 = statistics.median(walls), percentile(walls, 95)
        print(f"[commands] {label:40s} median {med:6.1f} ms  p95 {p95:6.1f} ms  (CPU median {cpu:5.1f} ms)")
        cmd = show_cmd(make(0), base).replace(sample[0], "ID") if "show" in label else show_cmd(make(0), base)
        if label.startswith("no bytecode cache"):
            cmd = "PYTHONDONTWRITEBYTECODE=1 " + cmd
        target = ""
        if targeted:
            target = "≤ 150 ms: " + ("met" if p95 <= TARGET_MS else "median met, p95 missed" if med <= TARGET_MS
                                     else "**missed**")
        rows.append(Row(f"{label}, {runs} fresh processes",
                        f"median {med:.0f} ms, p95 {p95:.0f} ms (CPU {cpu:.0f} ms)",
                        cmd.replace(sys.executable, "python"), target))
    set_env(base, bytecode=True)


def markdown(rows: list[Row], info: dict[str, str], notes: list[str]) -> str:
    out = ["| figure | result | command | target |", "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.figure} | {r.value} | `{r.command}` | {r.target} |")
    out.append("")
    out.append(f"Machine: {info['nproc']} × {info['cpu']}, {info['ram']} RAM, kernel {info['kernel']}; "
               f"Python {info['python']}; scratch {info['scratch']}. Date {info['date']}, commit {info['commit']}.")
    for n in notes:
        out.append(f"\n- {n}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="scratch folder (default: a new folder under /tmp)")
    ap.add_argument("--quick", action="store_true", help="a smaller run, for a smoke test")
    ap.add_argument("--keep", action="store_true", help="keep the 10,000-record archive in --out")
    ap.add_argument("--archive", type=Path, help="time the commands on this existing archive (one kept by --keep: "
                    "10,000 records, departments BGS, CWB, ...) instead of building one")
    ap.add_argument("--only", choices=["small", "big", "commands", "one"], action="append",
                    help="run only these parts (repeatable; 'one' needs --one-into)")
    ap.add_argument("--small-files", type=int, help="how many small files part 'small' ingests (default 1,000)")
    ap.add_argument("--one-into", type=Path, help="part 'one': time `dangan ingest FILE` of one new file into this "
                    "existing archive (e.g. 100,000 records), --runs times, each a fresh process")
    ap.add_argument("--runs", type=int, default=7, help="runs of part 'one' (default 7)")
    args = ap.parse_args()
    base = (args.out or Path(tempfile.mkdtemp(prefix="dangan-bench-ingest-"))).resolve()
    base.mkdir(parents=True, exist_ok=True)
    parts = set(args.only or ["small", "big", "commands"])
    if args.quick:
        n_small, n_big, big_size, rounds, n_recs, runs = 100, 3, 20 * MB, 1, 1000, 10
    else:
        n_small, n_big, big_size, rounds, n_recs, runs = 1000, 10, 100 * MB, 3, 10000, 20
    info = machine(base)
    set_env(base, bytecode=True)
    print(f"dangan ingest benchmark{' (quick)' if args.quick else ''}: {info['date']}, scratch {base}")
    rows: list[Row] = []
    notes: list[str] = []
    loads = [f"start {os.getloadavg()[0]:.2f}"]
    if args.small_files:
        n_small = args.small_files
    if "one" in parts:
        if not args.one_into:
            sys.exit("--only one needs --one-into ARCHIVE")
        bench_one(base, args.one_into.resolve(), args.runs, rows)
        loads.append(f"after one-at-a-time {os.getloadavg()[0]:.2f}")
    if "small" in parts:
        bench_small(base, n_small, rows)
        loads.append(f"after small files {os.getloadavg()[0]:.2f}")
    if "big" in parts:
        bench_big(base, n_big, big_size, rounds, rows, notes)
        loads.append(f"after large files {os.getloadavg()[0]:.2f}")
    if "commands" in parts:
        if args.archive:
            arch = args.archive.resolve()
            notes.append(f"commands timed on an existing archive of {n_recs} records built earlier by this script")
        else:
            arch, built = build_catalogue(base, n_recs)
            notes.append(f"the {n_recs}-record archive was built with `ingest_batch(..., index=True)` in one "
                         f"process in {built:.0f} s ({n_recs / built:.0f} records/s, indexing included)")
        bench_commands(base, arch, n_recs, runs, rows)
        loads.append(f"after commands {os.getloadavg()[0]:.2f}")
        if not args.keep and not args.archive:
            shutil.rmtree(arch, ignore_errors=True)
    notes.append(f"1-minute load average ({os.cpu_count()} CPUs): {', '.join(loads)} "
                 "(anything well above 0 means other work shared the machine and the figures are pessimistic)")
    notes.append("child processes run with a bytecode cache (PYTHONPYCACHEPREFIX under the scratch folder, "
                 "PYTHONDONTWRITEBYTECODE removed), as after a `pip install`; the rows marked *no bytecode cache* "
                 "compile dangan's own modules from source on every run, as this editable install does under "
                 "PYTHONDONTWRITEBYTECODE=1 (set in this development environment)")
    notes.append("wall time of a fresh child process per command, stdout/stderr piped; "
                 "p95 is nearest-rank; the command was run once untimed before the timed runs")
    print()
    print(markdown(rows, info, notes))
    if not args.out and not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
