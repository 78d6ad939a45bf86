"""Benchmark search nodes (issue 17.4): how long after a record is filed through node A it is found on node B.

    .venv/bin/python bench/bench_nodes.py [--records 40] [--s3] [--poll 0.1]

Two ``dangan serve`` processes (fresh, one worker each, on loopback) over one PostgreSQL catalogue (the throw-away
server of tests/pg_service.py, or ``$DANGAN_TEST_PG_URL``) and one store (the first folder's, reached by a link
from the second; ``--s3``: a SeaweedFS bucket, as two machines would have it).  Node B's index starts empty.
For each record: ``POST /api/v1/records`` to A (a text file with a word of its own), then, from the moment A
answers 201, two clocks:

* **search**: ``GET /api/v1/search?q=WORD`` on B every ``--poll`` seconds until the record is among the hits (what a
  user of B sees; the search itself first applies what B's cursor is behind by);
* **follower**: B's cursor in the catalogue (``search_nodes.applied``) reaching the record's change, with no request
  to B (``dangan serve``'s thread, polling the change log every second).

Prints p50 / p95 / max of both (target: p95 ≤ 2 s), the filing latency on A, the machine, its load and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import pg_service  # noqa: E402
from search_nodes_helpers import second_node  # noqa: E402

DANGAN = str(Path(sys.executable).parent / "dangan")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_up(a_root: Path, url: str, store: dict) -> str:
    """Node A's archive, an admin and a user ``bench`` with a read+ingest token (the token)."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.policy.credentials import create_token
    from dangan.core.policy.users import add_user
    Archive.init(a_root, fonds="Z109", actor=Actor("admin", "admin"), catalogue_url=url, **store).close()
    a = Archive(a_root, Actor("admin", "admin"))
    try:
        add_user(a, "admin", roles=["admin"], clearance="top-secret")
        add_user(a, "bench", roles=["archivist"], department="BGS", clearance="internal")
        return create_token(a, "bench", ["read", "ingest"], days=1)[0]
    finally:
        a.close()


def serve(root: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([DANGAN, "--archive", str(root), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"dangan serve on {root} did not start: {log.read_text()[-2000:]}")


def post_record(conn: http.client.HTTPConnection, token: str, word: str) -> str:
    boundary = uuid.uuid4().hex
    content = f"节点基准 {word} 会议纪要".encode()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n节点 {word}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{word}.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    conn.request("POST", "/api/v1/records", body=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    r = conn.getresponse()
    data = r.read()
    assert r.status == 201, data[:300]
    return json.loads(data)["id"]


def found(conn: http.client.HTTPConnection, token: str, word: str, rid: str) -> bool:
    conn.request("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": word, "limit": 5}),
                 headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    data = r.read()
    assert r.status == 200, data[:300]
    return rid in [h["id"] for h in json.loads(data)["hits"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=40)
    ap.add_argument("--poll", type=float, default=0.1)
    ap.add_argument("--s3", action="store_true", help="the store in a SeaweedFS bucket")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dangan-bench-nodes-"))
    pg = pg_service.from_env() or pg_service.start()
    svc = None
    procs: list[subprocess.Popen] = []
    try:
        store: dict = {}
        if args.s3:
            import s3_service
            svc = s3_service.start(base / "weed")
            os.environ.update(AWS_ACCESS_KEY_ID=s3_service.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3_service.SECRET_KEY,
                              AWS_DEFAULT_REGION=s3_service.REGION)
            store = {"store_url": f"s3://{svc.make_bucket('bench-nodes')}/fonds-z109", "store_endpoint": svc.endpoint}
        url = pg.new_database()
        a_root = base / "node-a"
        token = set_up(a_root, url, store)
        b_root = second_node(a_root, base / "node-b")
        pa, pb = free_port(), free_port()
        procs = [serve(a_root, pa, base / "a.log"), serve(b_root, pb, base / "b.log")]
        ca = http.client.HTTPConnection("127.0.0.1", pa, timeout=60)
        cb = http.client.HTTPConnection("127.0.0.1", pb, timeout=60)
        import psycopg
        db = psycopg.connect(url, autocommit=True)
        for _ in range(300):                # B's follower names the node on its first round
            if (b_root / "index" / "node.json").exists():
                break
            time.sleep(0.05)
        node_b = json.loads((b_root / "index" / "node.json").read_text())["node"]
        filing, by_search, by_follower = [], [], []
        for i in range(args.records):
            word = f"nodeword{i:04d}x"
            t0 = time.perf_counter()
            rid = post_record(ca, token, word)
            t1 = time.perf_counter()
            filing.append(t1 - t0)
            seq = db.execute("SELECT greatest((SELECT max(seq) FROM index_outbox),"        # the log may be pruned
                             " (SELECT pruned_through FROM change_log_pruned))").fetchone()[0]   # already: ≥ its change
            if i % 2 == 0:      # the follower alone: no request to B until its cursor has the change
                while True:
                    row = db.execute("SELECT applied FROM search_nodes WHERE node_id = %s", (node_b,)).fetchone()
                    if row and row[0] >= seq:
                        by_follower.append(time.perf_counter() - t1)
                        break
                    assert time.perf_counter() - t1 < 60, "B's follower never applied the change"
                    time.sleep(0.01)
                assert found(cb, token, word, rid)
            else:               # a user of B searching every --poll seconds
                while not found(cb, token, word, rid):
                    assert time.perf_counter() - t1 < 60, "never found on B"
                    time.sleep(args.poll)
                by_search.append(time.perf_counter() - t1)
        load = os.getloadavg()
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(f"\n{when}; {platform.node()} ({os.cpu_count()} cores), load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f};"
              f" store: {'SeaweedFS bucket' if args.s3 else 'folder (linked)'}; PostgreSQL on a Unix socket;"
              f" {args.records} records\n")
        print("| measure | n | p50 | p95 | max |\n|---|---|---|---|---|")
        for name, xs in (("POST /api/v1/records on A (filed)", filing),
                         (f"found by B's API search (polled every {args.poll:g} s)", by_search),
                         ("applied by B's follower thread (no request to B)", by_follower)):
            print(f"| {name} | {len(xs)} | {statistics.median(xs) * 1000:.0f} ms | {pct(xs, 95) * 1000:.0f} ms |"
                  f" {max(xs) * 1000:.0f} ms |")
        db.close()
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if svc is not None:
            svc.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
