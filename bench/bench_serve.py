"""Benchmark `dangan serve` on a 10,000-record archive beside `recollq` on the same files.

    .venv/bin/python bench/bench_serve.py [--out DIR] [--records 10000] [--load-seconds 60] [--clients 50]

In one run, on this machine:

1. 10,000 small text files (1-4 KB, the regulations' Chinese with English words, five departments) are
   written and archived in one process (``ingest_batch``, as bench_ingest.py does), and the same files
   are indexed with Recoll (``cjkngramlen = 2``).
2. ``dangan serve`` starts as a fresh process on loopback (one worker); a user with a password and an
   API token is registered.
3. API search: ``GET /api/v1/search?q=…&limit=20`` over HTTP/1.1 keep-alive, each query 20 times after
   a warm-up: p50 and p95 of the wall time per request, beside ``recollq -c CONF -b QUERY`` (a fresh
   process, what a user of Recoll runs) for the same query, median of 5.
4. The search page: ``GET /search?q=…`` signed in: p50/p95 (loopback, so the wall time is the server's).
5. Load: ``--clients`` threads for ``--load-seconds``, each looping search → open a record → download
   its file, each on its own connection; errors, requests/s, p50/p95, and the server's peak RSS.

Prints a markdown table with the machine and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import DANGAN, DEPTS, make_small_files, new_archive, run  # noqa: E402

QUERIES = ["檔案", "管理", "档案 管理", "借閱 登記", '"檔案管理"', "report", "質量 信息", "保密 制度",
           "檔案 dept:BGS", "客戶 服務"]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def build(base: Path, n: int) -> tuple[Path, Path]:
    arch, src = base / "archive", base / "files"
    if (arch / "dangan.toml").exists() and src.exists():
        print(f"[build] reusing {arch}")
        return arch, src
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
for i, d in enumerate(sorted(p for p in src.iterdir() if p.is_dir())):
    out = ingest_batch(a, [d], RecordFields(department=d.name, category="WS", year=2015 + i, retention="Y"), index=True)
    assert all(o.status == "archived" for o in out), [o.message for o in out if o.status != "archived"][:3]
a.close()
"""
    t = time.perf_counter()
    print(f"[build] archiving {n} records into {arch} ...", flush=True)
    run([sys.executable, "-c", code, str(arch), str(src)])
    print(f"[build] {time.perf_counter() - t:.0f} s", flush=True)
    return arch, src


def recoll(base: Path, src: Path) -> Path:
    conf = base / "recoll"
    if (conf / "xapiandb").exists():
        return conf
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "recoll.conf").write_text(f"topdirs = {src}\ncjkngramlen = 2\nindexstemminglanguages =\n",
                                      encoding="utf-8")
    t = time.perf_counter()
    subprocess.run(["recollindex", "-c", str(conf)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"[recoll] indexed in {time.perf_counter() - t:.0f} s", flush=True)
    return conf


def recollq_wall(conf: Path, q: str) -> float:
    q = q.replace("dept:BGS", "dir:bgs") if "dept:" in q else q
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(["recollq", "-c", str(conf), "-b", q], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def setup_users(arch: Path) -> str:
    code = """
import sys
from pathlib import Path
from dangan.core.archive import Archive
from dangan.core.policy.users import add_user, register_in_use
from dangan.core.policy.credentials import create_token, set_password
a = Archive.open(Path(sys.argv[1]))
if not register_in_use(a):
    add_user(a, a.actor.name, roles=["admin"], clearance="top-secret")
if a.conn.execute("SELECT 1 FROM users WHERE name = 'bench'").fetchone() is None:
    add_user(a, "bench", roles=["staff"], department="BGS", clearance="internal")
set_password(a, "bench", "bench-password-123")
print(create_token(a, "bench", ["read"], days=1)[0])
"""
    return run([sys.executable, "-c", code, str(arch)]).stdout.decode().strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, bytes, float]:
    t = time.perf_counter()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    return r.status, body, time.perf_counter() - t


def sign_in(port: int) -> str:
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/login")
    r = c.getresponse()
    page = r.read().decode()
    login = re.search(r"dangan_login=([^;]+)", r.getheader("set-cookie")).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"user": "bench", "password": "bench-password-123", "csrf": csrf, "next": "/"})
    c.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                   "Cookie": f"dangan_login={login}"})
    r = c.getresponse()
    r.read()
    return re.search(r"dangan_session=([^;]+)", r.getheader("set-cookie")).group(1)


def rss_kb(pid: int) -> tuple[int, int, int]:
    """VmRSS, VmHWM (peak) and RssAnon (the process's own memory; the rest is mapped files) in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return tuple(int(re.search(rf"{k}:\s+(\d+)", text).group(1)) for k in ("VmRSS", "VmHWM", "RssAnon"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--load-seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = ap.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="dangan-bench-serve-"))
    base.mkdir(parents=True, exist_ok=True)
    arch, src = build(base, args.records)
    conf = recoll(base, src)
    token = setup_users(arch)
    port = free_port()
    server = subprocess.Popen([DANGAN, "--archive", str(arch), "serve", "--port", str(port), "--workers",
                               str(args.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                if get(c, "/healthz", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rows = []
        all_api: list[float] = []
        for q in QUERIES:
            path = "/api/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 20})
            st, body, _ = get(c, path, auth)
            assert st == 200, body[:300]
            total = json.loads(body)["total"]
            walls = []
            for _ in range(args.runs):
                st, _, w = get(c, path, auth)
                assert st == 200
                walls.append(w)
            all_api += walls
            rq = recollq_wall(conf, q)
            rows.append((q, total, statistics.median(walls), pct(walls, 95), rq))
            print(f"[api] {q!r}: {total} hits, p50 {statistics.median(walls) * 1000:.0f} ms, "
                  f"p95 {pct(walls, 95) * 1000:.0f} ms; recollq {rq * 1000:.0f} ms", flush=True)
        cookie = {"Cookie": f"dangan_session={sign_in(port)}"}
        page_walls = []
        for q in QUERIES:
            path = "/search?" + urllib.parse.urlencode({"q": q})
            for _ in range(max(5, args.runs // 2)):
                st, _, w = get(c, path, cookie)
                assert st == 200
                page_walls.append(w)
        st, body, _ = get(c, "/api/v1/search?q=" + urllib.parse.quote("檔案") + "&limit=100", auth)
        ids = [h["id"] for h in json.loads(body)["hits"]]
        # load: clients × (search, record, download), each on its own connection
        stop = time.monotonic() + args.load_seconds
        lat: list[float] = []
        errors = [0]
        lock = threading.Lock()

        def client(k: int) -> None:
            rnd = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while time.monotonic() < stop:
                rid = rnd.choice(ids)
                for path in ("/api/v1/search?" + urllib.parse.urlencode({"q": rnd.choice(QUERIES), "limit": 20}),
                             f"/api/v1/records/{rid}", f"/api/v1/records/{rid}/files/1"):
                    try:
                        st, _, w = get(conn, path, auth)
                    except (OSError, http.client.HTTPException):
                        st, w = 0, 0.0
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    with lock:
                        lat.append(w)
                        if st != 200:
                            errors[0] += 1
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        procs = [server.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                                                   text=True).stdout.split()]
        mem = [rss_kb(p) for p in procs]
        rss, hwm, anon = max(m[0] for m in mem), max(m[1] for m in mem), max(m[2] for m in mem)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    print()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f}; {dt.date.today()}; {args.records} records; {args.workers} uvicorn worker(s)")
    print()
    print("| query | hits | API p50 | API p95 | `recollq` (fresh process, median of 5) |")
    print("|---|---|---|---|---|")
    for q, total, p50, p95, rq in rows:
        print(f"| `{q}` | {total} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {rq * 1000:.0f} ms |")
    print(f"| all queries | | **{statistics.median(all_api) * 1000:.0f} ms** | **{pct(all_api, 95) * 1000:.0f} ms** | "
          f"{statistics.median(r[4] for r in rows) * 1000:.0f} ms |")
    print()
    print(f"Search page (signed in, loopback): p50 {statistics.median(page_walls) * 1000:.0f} ms, "
          f"p95 {pct(page_walls, 95) * 1000:.0f} ms")
    print(f"Load: {args.clients} clients × {elapsed:.0f} s (search, record, download): {len(lat)} requests "
          f"({len(lat) / elapsed:.0f}/s), {errors[0]} errors, p50 {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {pct(lat, 95) * 1000:.0f} ms; RSS of the largest server process {rss // 1024} MiB (peak {hwm // 1024} MiB, "
          f"anonymous {anon // 1024} MiB)")


if __name__ == "__main__":
    main()
