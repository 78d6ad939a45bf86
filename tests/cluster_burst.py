"""The mixed fault scenario of issue 17 over a :class:`cluster_service.Cluster`: files arrive through both nodes'
APIs, the CLI on both nodes and the watcher's drop folder, all at once, while a worker, a server and the watcher
are killed with kill -9 (and restarted), SeaweedFS is stopped for ten seconds in the middle of a large upload,
and PostgreSQL is restarted in the middle of a transaction.

Every submitter behaves as a client should: an API upload is retried with the same ``Idempotency-Key`` until it
is answered 200/201 (a connection refused, a 5xx); a CLI run that failed is run again for the files it did not
report archived; the watcher is simply restarted.  :func:`run_burst` returns what was submitted, so
:mod:`cluster_checks` can say every file was archived exactly once.
"""
from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster_service import CODE, Cluster


@dataclass
class Burst:
    digests: dict[str, str] = field(default_factory=dict)       # file name → sha512
    words: dict[str, str] = field(default_factory=dict)         # file name → the word only it contains
    must: set[str] = field(default_factory=set)                 # acknowledged: archived exactly once
    filed_on: dict[str, str] = field(default_factory=dict)      # file name → node (or "watch")
    faults: list[str] = field(default_factory=list)             # what was done when (for the report)
    errors: list[str] = field(default_factory=list)
    mutex: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str) -> None:
        with self.mutex:
            self.faults.append(f"{time.strftime('%H:%M:%S')} {what}")


def make_file(folder: Path, name: str, word: str, size: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    body = f"集群故障测试 第{name}号 {word}\n".encode()
    if size:
        rnd = random.Random(word)
        filler = bytes(rnd.getrandbits(8) for _ in range(1 << 16)).hex().encode()
        chunks = [body]
        while sum(map(len, chunks)) < size:
            chunks.append(filler)
        body = b"".join(chunks)[:size]
    p.write_bytes(body)
    return p


def _uploader(c: Cluster, b: Burst, node_index: int, files: list[Path], deadline: float, pace: float) -> None:
    from cluster_checks import sha512
    for p in files:
        key = f"burst-{p.name}"
        while True:
            node = c.nodes[node_index]
            try:
                status, doc = c.upload(node, p, key=key, timeout=60)
            except OSError as exc:            # refused (killed server), reset, timed out (S3 stopped)
                status, doc = 0, {"error": str(exc)}
            if status in (200, 201):
                with b.mutex:
                    b.must.add(p.name)
                    b.filed_on[p.name] = node.name
                break
            if status == 409 and "already archived as record" in str(doc):
                # an earlier try failed after its version was filed (a commit whose answer PostgreSQL's restart
                # cut off, adopted from the store): the answer names the record; the checks count it once
                with b.mutex:
                    b.must.add(p.name)
                    b.filed_on[p.name] = node.name
                    b.faults.append(f"{p.name}: a retry was told it is archived already ({node.name})")
                break
            busy = status == 409 and "retry later" in str(doc)     # its first try is still being served
            if 400 <= status < 500 and status not in (408, 429) and not busy:
                with b.mutex:
                    b.errors.append(f"{p.name}: HTTP {status} {doc}")
                break
            if time.monotonic() > deadline:
                with b.mutex:
                    b.errors.append(f"{p.name}: gave up after HTTP {status} {doc}")
                break
            time.sleep(1)
        with b.mutex:
            b.digests[p.name] = sha512(p)
        time.sleep(pace)


def _cli_ingest(c: Cluster, b: Burst, node_index: int, files: list[Path], deadline: float) -> None:
    from cluster_checks import sha512
    for p in files:
        with b.mutex:
            b.digests[p.name] = sha512(p)
    left = list(files)
    while left and time.monotonic() < deadline:
        node = c.nodes[node_index]
        r = c.run(node, "ingest", *left, "--category", CODE["category"], "--dept", CODE["department"],
                  "--retention", CODE["retention"], "--date", CODE["date"], "--json", check=False, timeout=900)
        done = set()
        for line in r.stdout.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not isinstance(doc, dict):
                continue
            if doc.get("record_id") and doc.get("status") in ("archived", "duplicate"):      # one outcome per file
                done.add(Path(doc.get("source") or "").name)
            elif doc.get("id") and doc.get("files"):          # one file: the record itself
                done.add(Path(doc["files"][0]["path"]).name)
        archived_now = [p for p in left if p.name in done]
        with b.mutex:
            for p in archived_now:
                b.must.add(p.name)
                b.filed_on[p.name] = node.name
        if r.returncode == 0 and not done and left:
            with b.mutex:                    # an output this code does not understand: stop, the checks will say
                b.errors.append(f"ingest on {node.name} said nothing parseable: {r.stdout[-500:]}")
            return
        left = [p for p in left if p.name not in done]
        if left:
            time.sleep(2)                    # failed (S3 stopped, PostgreSQL restarting): the user runs it again
    with b.mutex:
        b.errors += [f"{p.name}: CLI gave up" for p in left]


def _drops(c: Cluster, b: Burst, files: list[tuple[str, str]], pace: float) -> None:
    from cluster_checks import sha512
    assert c.drop is not None
    staging = c.base / "drop-staging"
    for name, word in files:
        p = make_file(staging, name, word)
        with b.mutex:
            b.digests[name] = sha512(p)
            b.must.add(name)                  # the watcher takes every drop, however often it is killed
            b.filed_on[name] = "watch"
        p.rename(c.drop / name)               # arrives whole
        time.sleep(pace)


def restart_pg_mid_transaction(c: Cluster, b: Burst) -> None:
    """A transaction of the test's own is open (and writing) when PostgreSQL restarts: it is gone, the writers
    of the cluster reconnect and go on."""
    from dangan.core.catalogue.db import PgConnection
    assert c.pg is not None
    conn = PgConnection(c.catalogue)
    try:
        conn.begin_immediate()
        conn.execute("INSERT INTO piece_counters (class_key, last) VALUES ('HALF-WRITTEN', 99)")
        b.note("PostgreSQL restarted mid-transaction")
        c.pg.restart()
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - the server went away under it: that is the point
            pass


def run_burst(c: Cluster, *, per_node_api: int = 8, per_node_cli: int = 4, drops: int = 8, rounds: int = 1,
              big_mb: int = 24) -> Burst:
    b = Burst()
    src = c.base / "src"
    n = 0

    def word() -> str:
        nonlocal n
        n += 1
        return f"clusterword{n:04d}x"

    deadline = time.monotonic() + 600
    threads: list[threading.Thread] = []
    for i, _node in enumerate(c.nodes):
        files = []
        for k in range(per_node_api * rounds):
            w = word()
            files.append(make_file(src / f"api{i}", f"api{i}-{k:03d}.txt", w))
            b.words[files[-1].name] = w
        threads.append(threading.Thread(target=_uploader, args=(c, b, i, files, deadline, 0.6), daemon=True))
        cli_files = []
        for k in range(per_node_cli * rounds):
            w = word()
            cli_files.append(make_file(src / f"cli{i}", f"cli{i}-{k:03d}.txt", w))
            b.words[cli_files[-1].name] = w
        threads.append(threading.Thread(target=_cli_ingest, args=(c, b, i, cli_files, deadline), daemon=True))
    drop_files = []
    for k in range(drops * rounds):
        w = word()
        drop_files.append((f"drop-{k:03d}.txt", w))
        b.words[f"drop-{k:03d}.txt"] = w
    threads.append(threading.Thread(target=_drops, args=(c, b, drop_files, 0.8), daemon=True))
    big = make_file(src / "big", "big-000.bin", word(), size=big_mb << 20)
    b.words[big.name] = ""
    for t in threads:
        t.start()

    worker, server, watcher = c.nodes[0].worker, c.nodes[1].serve, c.watcher
    assert worker is not None and server is not None and watcher is not None
    for r in range(rounds):
        time.sleep(1.5)
        worker.kill9()
        b.note(f"round {r + 1}: kill -9 worker A")
        time.sleep(1)
        server.kill9()
        b.note(f"round {r + 1}: kill -9 serve B")
        time.sleep(1)
        watcher.kill9()
        b.note(f"round {r + 1}: kill -9 the watcher")
        time.sleep(1)
        server.start()
        worker.start()
        time.sleep(1)
        watcher.start()
        c.wait_serving(c.nodes[1])

    # a large upload through the CLI of node B, and SeaweedFS stopped for ten seconds in its middle
    big_thread = threading.Thread(target=_cli_ingest, args=(c, b, 1, [big], deadline), daemon=True)
    big_thread.start()
    threads.append(big_thread)
    time.sleep(2.5)
    assert c.s3 is not None
    c.s3.pause()
    b.note("SeaweedFS stopped")
    time.sleep(10)
    c.s3.resume()
    b.note("SeaweedFS started again")
    time.sleep(2)
    restart_pg_mid_transaction(c, b)

    for t in threads:
        t.join(max(1, deadline - time.monotonic()))
    b.words.pop(big.name, None)                    # random bytes: no word to find (its piece and digest count)
    return b


def quiesce(c: Cluster, b: Burst, timeout: float = 300) -> None:
    """Wait until the drop folder is empty and no extraction job waits; then stop every process cleanly."""
    from cluster_checks import catalogue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in (c.drop.iterdir() if c.drop else []) if p.is_file()]
        try:
            with catalogue(c) as conn:
                jobs = conn.execute("SELECT count(*) FROM extraction_queue").fetchone()[0]
                intents = conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0]
        except Exception:  # noqa: BLE001 - the server restarting
            jobs = intents = 1
        if not left and not jobs and not intents:
            break
        for p in c.processes():
            if not p.alive():                  # nothing else dies in the scenario: a crash is a finding
                b.errors.append(f"{p.name} exited by itself: {p.tail(1500)}")
                p.start()
        time.sleep(1)


def stop_all(c: Cluster) -> dict[str, int | None]:
    return {p.name: p.stop(60) for p in c.processes()}


def run_cli(c: Cluster, *args: str) -> subprocess.CompletedProcess:
    return c.run(c.nodes[0], *args, user="boss", check=False)
