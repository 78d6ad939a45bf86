"""Where one in-process search's time goes: query building, tantivy (count + top 20), loading, snippets.

    nice -n 19 .venv/bin/python bench/bench_search_split.py INDEX_DIR "phrase,three terms" [ROUNDS]

INDEX_DIR is a tantivy index folder (``bench_million.py build DIR`` makes ``DIR/archive/index/tantivy``);
the kinds are ``bench_search.QUERIES``' keys.  Prints the median CPU milliseconds of each step per query.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import QUERIES  # noqa: E402

from dangan.index import common as c  # noqa: E402
from dangan.index import open_index  # noqa: E402
from dangan.index.query import parse_query  # noqa: E402
from dangan.index.tantivy_index import Translator  # noqa: E402


def main() -> None:
    ix = open_index(Path(sys.argv[1]), engine="tantivy", create=False)
    kinds = sys.argv[2].split(",")
    R = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    s = ix._searcher()
    def med(f):
        xs = []
        for _ in range(R):
            t = time.process_time(); out = f(); xs.append(time.process_time() - t)
        return statistics.median(xs) * 1e3, out
    for kind in kinds:
        for q, _ in QUERIES[kind]:
            tb, tq = med(lambda: Translator(ix._schema).query(parse_query(q)))
            tc, res = med(lambda: s.search(tq, limit=20, count=True))
            tn, _ = med(lambda: s.search(tq, limit=20, count=False))
            td, docs = med(lambda: [s.doc(a) for _, a in res.hits])
            pq = parse_query(q)
            def hits():
                for st in docs:
                    meta = json.loads(st["meta"][0]); b, n = st.get_first("body"), st.get_first("norm")
                    c.make_hit(meta, 1.0, b.decode() if b else None, pq, n.decode() if n else None)
            th, _ = med(hits)
            tall, r = med(lambda: ix.search(q, limit=20))
            print(f"{q:22s} total {res.count:8d} | build {tb:5.1f} | search+count {tc:7.1f} | top20 only {tn:7.1f} | docs {td:5.1f} | hits+snippets {th:5.1f} | ix.search {tall:7.1f} ms CPU", flush=True)


if __name__ == "__main__":
    main()
