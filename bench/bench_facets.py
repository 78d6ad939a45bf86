"""Facet counts over all hits (issue 16): SearchIndex.facets on a 10,000-document tantivy index — the column
aggregation (what a search uses when no plugin rule checks hits one by one) beside reading every match's
stored fields (the per-hit path, and the only path before serve3) — and one search page of the same query.
Run: .venv/bin/python bench/bench_facets.py"""
import statistics
import tempfile
import time
from pathlib import Path

from dangan.index import IndexDocument, open_index

d = Path(tempfile.mkdtemp())
ix = open_index(d / "ix", engine="tantivy")
docs = [IndexDocument(record_id=f"r{i:05d}", title=f"档案{i}", content="年度档案 记录 " * 20, department=f"D{i%7}",
                      category="WS", year=2000 + i % 20, date=f"{2000+i%20}-01-01", secrecy="public", volume=f"V{i%50}",
                      mime="application/pdf") for i in range(10000)]
ix.add(docs)


def median_ms(fn, runs=7):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


for q in ("档案", "档案9"):
    fast = median_ms(lambda: ix.facets(q))
    stored = median_ms(lambda: ix.facets(q, allowed=lambda m: True))
    page = median_ms(lambda: ix.search(q, limit=20))
    hits = sum(ix.facets(q)["department"].values())
    print(f"{q}: {hits} hits; facets by columns {fast:.1f} ms, by stored fields {stored:.1f} ms, "
          f"search page {page:.1f} ms")
