"""API search latency of `dangan serve` on the 1M set (``bench_million.py build DIR``), issue 16's 1M row.

    nice -n 19 .venv/bin/python bench/bench_serve_million.py DIR [--runs 10]

Registers an administrator (the archive's owner, who sees every record, so the totals are the index's)
with an API token on ``DIR/archive``, starts ``dangan serve`` on loopback (one worker) as a fresh
process, and times ``GET /api/v1/search?q=Q&limit=20`` over one keep-alive connection for the 25
queries of ``bench_search.QUERIES`` (exact totals, 20 hits with snippets), each ``--runs`` times after
one warm-up: p50/p95 per kind and over all, and the server's peak RSS.  The records exist only in the
index (the catalogue is empty), as in ``bench_million.py measure``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import QUERIES, percentile  # noqa: E402
from bench_serve import free_port, get, rss_kb  # noqa: E402

TOKEN = """
import sys
from pathlib import Path
from dangan.core.archive import Archive
from dangan.core.policy.users import add_user, register_in_use
from dangan.core.policy.credentials import create_token
a = Archive.open(Path(sys.argv[1]))
if not register_in_use(a):
    add_user(a, a.actor.name, roles=["admin"], clearance="top-secret")
print(create_token(a, a.actor.name, ["read"], days=1)[0])
"""


def main() -> None:
    import http.client
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    arch = args.dir / "archive"
    from installed import compile_ahead, installed_env
    env = installed_env(args.dir)
    compile_ahead(env)                  # the server starts from a bytecode cache, as an installed dangan does
    token = subprocess.run([sys.executable, "-c", TOKEN, str(arch)], check=True, capture_output=True,
                           text=True, env=env).stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(arch), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        for _ in range(600):
            try:
                if get(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/healthz", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        every: list[float] = []
        rows = []
        for kind, qs in QUERIES.items():
            walls = []
            for q, _r in qs:
                path = "/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 20})
                st, body, _ = get(c, path, auth)
                assert st == 200, body[:300]
                total = json.loads(body)["total"]
                mine = []
                for _ in range(args.runs):
                    st, _b, w = get(c, path, auth)
                    assert st == 200
                    mine.append(w)
                walls += mine
                print(f"| `{q}` | {total} | {percentile(mine, 50) * 1e3:.0f} | {percentile(mine, 95) * 1e3:.0f} |",
                      flush=True)
            every += walls
            rows.append((kind, percentile(walls, 50), percentile(walls, 95)))
        _rss, peak, anon = rss_kb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()
    built = args.dir / "build.json"
    n = json.loads(built.read_text())["records"] if built.exists() else "?"
    print(f"\nAPI search, {n} records ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}); server peak RSS {peak / 1024:.0f} MiB "
          f"({anon / 1024:.0f} MiB anonymous at the end)")
    print("| kind | p50 ms | p95 ms |\n|---|---|---|")
    for kind, p50, p95 in rows:
        print(f"| {kind} | {p50 * 1e3:.0f} | {p95 * 1e3:.0f} |")
    print(f"| every query ({len(every)} requests) | {percentile(every, 50) * 1e3:.0f} | "
          f"{percentile(every, 95) * 1e3:.0f} |")


if __name__ == "__main__":
    main()
