"""Benchmark the index layer: indexing rate, size, query latency, fresh-process wall time.

    .venv/bin/python bench/bench_search.py --docs 10000 [--dir /tmp/bench-index]

Documents are 1-2k characters of mixed Chinese (runs cut from the
regulations' text) and English (a word list), with catalogue fields.
Measures the index layer directly (``dangan.index``); the CLI's
``dangan search`` adds its own start-up on top of the fresh-process figure.
Recoll comparison: not done here yet (see issue 3).
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dangan.index import IndexDocument, open_index

REGULATIONS = Path("/work/shared/seed/regulations.zh.txt")
WORDS = ("archive record records management report annual budget review policy retention "
         "audit contract meeting minutes transfer volume catalogue destruction appraisal "
         "lending security backup inventory register approval department office").split()
DEPTS = ["办公室", "财务部", "人事部", "档案室", "技术部"]


def make_docs(n: int, seed: int = 1) -> list[IndexDocument]:
    text = re.sub(r"\s+", "", REGULATIONS.read_text(encoding="utf-8", errors="replace"))
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        parts, size, target = [], 0, rnd.randint(1000, 2000)
        while size < target:
            if rnd.random() < 0.2:
                s = " ".join(rnd.choices(WORDS, k=rnd.randint(1, 6))) + " "
            else:
                a = rnd.randrange(len(text) - 80)
                s = text[a:a + rnd.randint(10, 80)]
            parts.append(s)
            size += len(s)
        year = 2000 + i % 25
        docs.append(IndexDocument(
            record_id=f"r{i:06d}", title=text[(i * 7) % 5000:(i * 7) % 5000 + 10],
            archival_code=f"Z109-WS·{year}-Y-BGS-{i:04d}", department=DEPTS[i % len(DEPTS)],
            category="WS", year=year, date=f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            retention="permanent", secrecy="public", mime="application/pdf",
            content="".join(parts)))
    return docs


QUERIES = {
    "one term": ["档案", "管理", "report", "借阅", "保密"],
    "two terms": ["档案 管理", "report annual", "借阅 登记", "质量 信息", "客户 服务"],
    "three terms": ["档案 管理 制度", "report annual budget", "借阅 登记 手续", "质量 信息 反馈",
                    "客户 服务 查询"],
    "phrase": ['"档案管理"', '"annual report"', '"客户服务部"', '"借阅利用"', '"质量信息"'],
    "filtered": ["档案 dept:财务部", "report year:2010..2015", "管理 date:>2020-01-01",
                 "借阅 dept:办公室 year:2020", "质量 mime:application/*"],
}


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--single", type=int, default=50, help="docs added one commit each")
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="dangan-bench-"))
    path = base / "index"
    shutil.rmtree(path, ignore_errors=True)
    docs = make_docs(args.docs + args.single)
    ix = open_index(path)

    t = time.perf_counter()
    for k in range(0, args.docs, args.batch):
        ix.add(docs[k:min(k + args.batch, args.docs)])
    bulk = time.perf_counter() - t
    print(f"bulk indexing: {args.docs} docs in {bulk:.1f} s = {args.docs / bulk:.0f} docs/s")

    t = time.perf_counter()
    for d in docs[args.docs:]:
        ix.add([d])
    single = time.perf_counter() - t
    print(f"one at a time: {args.single / single:.1f} docs/s")
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    print(f"index size: {size / 1e6:.1f} MB, {size / (args.docs + args.single):.0f} bytes/doc")

    for kind, qs in QUERIES.items():
        times = []
        for _ in range(3):
            for q in qs:
                t = time.perf_counter()
                ix.search(q, limit=20)
                times.append(time.perf_counter() - t)
        print(f"query {kind:12s} p50 {percentile(times, 50) * 1000:6.1f} ms  "
              f"p95 {percentile(times, 95) * 1000:6.1f} ms")
    ix.close()

    code = ("import sys; from dangan.index import open_index; "
            "r = open_index(sys.argv[1], create=False).search(sys.argv[2], limit=20); "
            "print(r.total)")
    walls = []
    for q in ["档案", '"档案管理"', "report dept:财务部"]:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(path), q], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        print(f"fresh process search {q!r}: {walls[-1]:.2f} s wall")
    if not args.dir:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
