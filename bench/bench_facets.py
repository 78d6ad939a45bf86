"""Facet counts over all hits (issue 16): SearchIndex.facets on a 10,000-document tantivy index, beside one
search page of the same query.  Run: .venv/bin/python bench/bench_facets.py"""
import time, tempfile, statistics
from pathlib import Path
from dangan.index import IndexDocument, open_index
d = Path(tempfile.mkdtemp())
ix = open_index(d / "ix", engine="tantivy")
docs = [IndexDocument(record_id=f"r{i:05d}", title=f"档案{i}", content="年度档案 记录 " * 20, department=f"D{i%7}",
                      category="WS", year=2000 + i % 20, date=f"{2000+i%20}-01-01", secrecy="public", volume=f"V{i%50}",
                      mime="application/pdf") for i in range(10000)]
ix.add(docs)
for q in ("档案", "档案9"):
    ts = []
    for _ in range(7):
        t = time.perf_counter(); f = ix.facets(q); ts.append(time.perf_counter() - t)
    t = time.perf_counter(); r = ix.search(q, limit=20); s = time.perf_counter() - t
    print(q, sum(f["department"].values()), "hits; facets median %.1f ms" % (1000 * statistics.median(ts)), "search page %.1f ms" % (1000 * s))
