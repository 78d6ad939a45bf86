"""Benchmark the index layer against Recoll on the same generated records.

    .venv/bin/python bench/bench_search.py --docs 10000 [--large] [--engine tantivy|whoosh|both]
                                           [--dir DIR] [--no-recoll]

``--large`` runs 100,000 records instead; ``--engine both`` (the default)
measures tantivy and Whoosh on the same records and checks that their hit
sets are identical.  Records are 1-2k characters of
mixed Chinese and English: sentences of ``tests/data/seed/regulations.zh.txt``
(Traditional Chinese; dangan normalises to Simplified, so queries may use
either script) and words drawn with a Zipf-like law from a word list
(``/usr/share/dict/words``, apt package ``wamerican``; a small built-in list
otherwise), plus catalogue fields.

Reports bulk and one-at-a-time indexing (docs/s), index size per record,
in-process query latency p50/p95 per kind of query (exact totals included),
and the wall time, CPU and peak RSS of ``dangan search Q --limit 20`` run as
a user runs it: a fresh process, the real CLI, on an archive (made with
``dangan init``) whose index directory holds these records -- the index is
written directly, so the catalogue is empty; search reads only the index when
no plugin rule applies.  In the same run the records are
written as text files (``files/<dept>/<year>/<id>.txt``) and indexed with
Recoll (``recollindex -c CONF``, ``cjkngramlen = 2``): indexing time,
``recollq -c CONF -n 0-20 -b QUERY`` wall time and the Jaccard index of the two hit
sets per query (Recoll queried without stem expansion; dangan filters
``dept:`` and ``year:`` become ``dir:`` clauses).  Prints a markdown table.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from dangan.index import IndexDocument, open_index

REGULATIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed" / "regulations.zh.txt"
DICT = Path("/usr/share/dict/words")
CORE_WORDS = ("archive record records management report annual budget review policy retention "
              "audit contract meeting minutes transfer volume catalogue destruction appraisal "
              "lending security backup inventory register approval department office").split()
DEPTS = {"办公室": "bgs", "财务部": "cwb", "人事部": "rsb", "档案室": "das", "技术部": "jsb"}

#: kind -> [(dangan query, Recoll query or None when it has no equivalent)]
QUERIES = {
    "one term": [("檔案", "檔案"), ("管理", "管理"), ("report", "report"), ("借閱", "借閱"),
                 ("保密", "保密")],
    "two terms": [("檔案 管理", "檔案 管理"), ("report annual", "report annual"),
                  ("借閱 登記", "借閱 登記"), ("質量 信息", "質量 信息"), ("客戶 服務", "客戶 服務")],
    "three terms": [("檔案 管理 制度", "檔案 管理 制度"), ("report annual budget",) * 2,
                    ("借閱 登記 手續", "借閱 登記 手續"), ("質量 信息 反饋", "質量 信息 反饋"),
                    ("客戶 服務 查詢", "客戶 服務 查詢")],
    "phrase": [('"檔案管理"', '"檔案管理"'), ('"annual report"', '"annual report"'),
               ('"客戶服務部"', '"客戶服務部"'), ('"借閱檔案"', '"借閱檔案"'), ('"質量信息"', '"質量信息"')],
    "filtered": [("檔案 dept:财务部", "檔案 dir:cwb"), ("report year:2010", "report dir:2010"),
                 ("管理 date:>2020-01-01", None), ("借閱 dept:办公室 year:2020", "借閱 dir:bgs dir:2020"),
                 ("質量 mime:application/*", None)],
}
ENGINE_DIRS = {"tantivy": Path("index") / "tantivy", "whoosh": Path("index")}


def sentences() -> list[str]:
    text = REGULATIONS.read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"\s+", "", text).replace("\ufffd", "")
    return [s for s in re.split(r"(?<=[。；！？])", text) if len(s) >= 4]


def vocabulary(rnd: random.Random, size: int = 5000) -> tuple[list[str], list[float]]:
    words = list(CORE_WORDS)
    if DICT.exists():
        pool = sorted({w for w in DICT.read_text(errors="replace").split()
                       if w.isascii() and w.isalpha() and w.islower() and 3 <= len(w) <= 12})
        words += rnd.sample(pool, min(size, len(pool)))
    return words, list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))


def iter_docs(n: int, seed: int = 1) -> Iterator[IndexDocument]:
    """The benchmark's records, one at a time: the first k of any run are the same records (10k, 100k, 1M)."""
    rnd = random.Random(seed)
    sents = sentences()
    words, cum = vocabulary(rnd)
    depts = list(DEPTS)
    for i in range(n):
        parts, size, target = [], 0, rnd.randint(1000, 2000)
        while size < target:
            if rnd.random() < 0.25:
                s = " ".join(rnd.choices(words, cum_weights=cum, k=rnd.randint(3, 12))) + ". "
            else:
                s = rnd.choice(sents)
            parts.append(s)
            size += len(s)
        year = 2000 + i % 25
        yield IndexDocument(
            record_id=f"r{i:06d}", title=rnd.choice(sents)[:12],
            archival_code=f"Z109-WS·{year}-Y-BGS-{i:06d}", department=depts[i % len(depts)],
            category="WS", year=year, date=f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            retention="permanent", secrecy="public", mime="application/pdf",
            content="".join(parts)[:2000])


def make_docs(n: int, seed: int = 1) -> list[IndexDocument]:
    return list(iter_docs(n, seed))


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def dangan_ids(ix, q: str) -> set[str]:
    """Every hit's record id, page by page through the public interface."""
    out: set[str] = set()
    page = 1
    while True:
        res = ix.search(q, limit=1000, page=page, snippets=False)
        out.update(h.record_id for h in res.hits)
        if page >= res.pages:
            return out
        page += 1


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """(wall s, CPU s, stdout, peak RSS MiB) of one child process.

    CPU and RSS come from GNU time (``/usr/bin/time``, apt ``time``) around the command: the
    rusage of a child forked from this (large) process would count the parent's pages in its
    peak RSS.  Without it, RSS is reported as 0.
    """
    gnu_time = shutil.which("time", path="/usr/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        full = [gnu_time, "-f", "%U %S %M", "-o", stats.name, *cmd] if gnu_time else cmd
        t = time.perf_counter()
        out = subprocess.run(full, check=True, env=env, capture_output=True, text=True).stdout
        wall = time.perf_counter() - t
        if not gnu_time:
            return wall, 0.0, out, 0.0
        user, sys_, kib = stats.read().split()[-3:]
    return wall, float(user) + float(sys_), out, int(kib) / 1024


def write_files(docs: list[IndexDocument], root: Path) -> None:
    for d in docs:
        p = root / DEPTS[d.department] / str(d.year) / f"{d.record_id}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{d.title}\n\n{d.content}\n", encoding="utf-8")


def recoll_setup(conf: Path, files: Path) -> None:
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "recoll.conf").write_text(
        f"topdirs = {files}\ncjkngramlen = 2\nnoaspell = 1\nloglevel = 1\n"
        "idxflushmb = 64\n", encoding="utf-8")


def recoll_query(conf: Path, q: str, *, hits: bool) -> tuple[float, set[str]]:
    cmd = ["recollq", "-c", str(conf), "-n", "0-20", "-b", q] if not hits else \
          ["recollq", "-c", str(conf), "-b", "-n", "0", "-s", "", q]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t
    return wall, {Path(line.strip()).stem for line in out.splitlines() if line.startswith("file://")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--large", action="store_true", help="100,000 records")
    ap.add_argument("--batch", type=int, default=5000, help="records per commit when bulk indexing")
    ap.add_argument("--single", type=int, default=50, help="records added one commit each")
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--engine", choices=["tantivy", "whoosh", "both"], default="both")
    ap.add_argument("--no-recoll", action="store_true")
    args = ap.parse_args()
    n = 100_000 if args.large else args.docs
    engines = ["tantivy", "whoosh"] if args.engine == "both" else [args.engine]
    base = args.dir or Path(tempfile.mkdtemp(prefix="dangan-bench-"))
    for sub in ("archive", "files", "recoll", "pycache"):
        shutil.rmtree(base / sub, ignore_errors=True)
    rows: list[tuple[str, str]] = []

    def report(name: str, value: str) -> None:
        rows.append((name, value))
        print(f"{name}: {value}", flush=True)

    t = time.perf_counter()
    docs = make_docs(n + args.single)
    chars = sum(len(d.content) for d in docs[:n]) / n
    print(f"generated {len(docs)} records ({chars:.0f} chars on average) in "
          f"{time.perf_counter() - t:.1f} s", flush=True)

    # As an installed dangan runs: with bytecode (kept out of the tree), after one warm-up.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from installed import compile_ahead, installed_env
    env = installed_env(base)
    compile_ahead(env)
    archive = base / "archive"
    subprocess.run([sys.executable, "-m", "dangan", "init", str(archive), "--fonds", "Z109"], check=True,
                   env=env, capture_output=True)
    toml = archive / "dangan.toml"
    plain_toml = toml.read_text(encoding="utf-8")
    fresh: dict[str, dict[str, float]] = {}
    hitsets: dict[str, dict[str, set[str]]] = {}
    indexes = {}
    for engine in engines:
        path = archive / ENGINE_DIRS[engine]
        ix = indexes[engine] = open_index(path, engine=engine)
        t = time.perf_counter()
        for k in range(0, n, args.batch):
            ix.add(docs[k:min(k + args.batch, n)])
        bulk = time.perf_counter() - t
        report(f"{engine}: bulk indexing", f"{n / bulk:.0f} docs/s ({n} records in {bulk:.1f} s, "
                                           f"{args.batch} per commit)")
        t = time.perf_counter()
        for d in docs[n:]:
            ix.add([d])
        single = time.perf_counter() - t
        report(f"{engine}: one at a time", f"{args.single / single:.1f} docs/s ({args.single} commits)")
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        report(f"{engine}: index size", f"{size / 1e6:.1f} MB, {size / len(docs):.0f} bytes/record")
        ix.delete(d.record_id for d in docs[n:])          # the same records as Recoll from here on
        for kind, qs in QUERIES.items():
            times, cpus = [], []
            for _ in range(3):
                for q, _r in qs:
                    t, c = time.perf_counter(), time.process_time()
                    ix.search(q, limit=20)
                    times.append(time.perf_counter() - t)
                    cpus.append(time.process_time() - c)
            report(f"{engine}: in-process {kind}", f"p50 {percentile(times, 50) * 1e3:.1f} ms, "
                                                   f"p95 {percentile(times, 95) * 1e3:.1f} ms wall; CPU p50 "
                                                   f"{percentile(cpus, 50) * 1e3:.1f} ms, "
                                                   f"p95 {percentile(cpus, 95) * 1e3:.1f} ms")
        hitsets[engine] = {q: dangan_ids(ix, q) for qs in QUERIES.values() for q, _r in qs}

        toml.write_text(plain_toml + f'\n[index]\nengine = "{engine}"\n', encoding="utf-8")
        cli = [sys.executable, "-m", "dangan", "--archive", str(archive), "search"]
        timed([*cli, "warm", "--limit", "20"], env)
        walls, cpus, rss = {}, [], []
        for kind, qs in QUERIES.items():
            for q, _r in qs:
                wall, cpu, out, mib = timed([*cli, q, "--limit", "20"], env)
                walls[q] = wall
                cpus.append(cpu)
                rss.append(mib)
        fresh[engine] = walls
        ws = sorted(walls.values())
        report(f"{engine}: fresh-process `dangan search Q --limit 20`",
               f"median {statistics.median(ws):.3f} s wall, max {ws[-1]:.3f} s; median "
               f"{statistics.median(cpus):.3f} s CPU; peak RSS {max(rss):.0f} MiB "
               f"over {len(ws)} queries")
        for q in ('"檔案管理"', "檔案", "借閱"):
            report(f"{engine}: fresh-process search {q}", f"{walls[q]:.3f} s ({ix.count(q)} hits)")
    if len(engines) == 2:
        differ = [q for q in hitsets["tantivy"] if hitsets["tantivy"][q] != hitsets["whoosh"][q]]
        report("hit sets tantivy = Whoosh", "identical on every query" if not differ else f"DIFFER on {differ}")
    first = engines[0]
    ix = indexes[first]

    if not args.no_recoll and shutil.which("recollindex"):
        files, conf = base / "files", base / "recoll"
        write_files(docs[:n], files)
        recoll_setup(conf, files)
        t = time.perf_counter()
        subprocess.run(["recollindex", "-c", str(conf)], check=True, capture_output=True)
        rtime = time.perf_counter() - t
        rsize = sum(p.stat().st_size for p in conf.rglob("*") if p.is_file())
        report("Recoll indexing", f"{n / rtime:.0f} docs/s ({rtime:.1f} s), "
                                  f"{rsize / n:.0f} bytes/record")
        rwalls, lines = [], []
        recollq = shutil.which("recollq")
        timed([recollq, "-c", str(conf), "-n", "0-20", "-b", "檔案"], env)
        rcpus, rrss = [], []
        for kind, qs in QUERIES.items():
            for q, rq in qs:
                if rq is None:
                    continue
                wall, cpu, _, mib = timed([recollq, "-c", str(conf), "-n", "0-20", "-b", rq], env)
                rwalls.append(wall)
                rcpus.append(cpu)
                rrss.append(mib)
                _, rset = recoll_query(conf, rq, hits=True)
                dset = hitsets[first][q]
                union = dset | rset
                jac = len(dset & rset) / len(union) if union else 1.0
                lines.append(f"| {kind} | `{q}` | `{rq}` | {len(dset)} | {len(rset)} | "
                             f"{jac:.3f} | {fresh[first][q]:.3f} | {rwalls[-1]:.3f} |")
        report("recollq -n 0-20 wall", f"median {statistics.median(rwalls):.3f} s, max {max(rwalls):.3f} s; "
                                       f"median {statistics.median(rcpus):.3f} s CPU; peak RSS {max(rrss):.0f} MiB "
                                       f"over {len(rwalls)} queries")
        print(f"\n| kind | dangan query | Recoll query | dangan hits | Recoll hits | Jaccard "
              f"| dangan ({first}) fresh s | recollq s |\n|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))
    for one in indexes.values():
        one.close()

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    print(f"\nMachine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
          f"Python {platform.python_version()}")
    print(f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if not args.dir:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
