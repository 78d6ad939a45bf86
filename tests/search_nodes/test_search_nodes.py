"""Search nodes (issue 17.4): two archive folders over one PostgreSQL catalogue, each with its own index fed from
the catalogue's change log by its own cursor.

A record filed through node A is found on node B (the store in a SeaweedFS bucket, as two machines have it); B
down while A files 50 records catches up; a destruction on A is purged from B's index (its text in none of B's
index files); a kill -9 of B between an index commit and its cursor's advance loses nothing and indexes nothing
twice; a node the log was pruned past rebuilds its index, saying so; ``dangan serve``'s follower thread applies
changes without a search.  Every store is validated by ocfl-py (the folder store by conftest, the bucket here).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Cli
from dangan.core.catalogue.fields import RecordFields
from dangan.core.store.ingest import Ingestor
from s3_fixtures import bucket, s3_env, s3_server  # noqa: F401 - fixtures used by name
from search_nodes_helpers import (cursor_of, files_holding, index_hits, index_size, last_change, open_node,
                                  second_node)


@pytest.fixture
def catalogue_backend() -> str:
    """Every node test shares a PostgreSQL catalogue (two folders naming one SQLite file are not two machines)."""
    return "postgresql"


@pytest.fixture
def node_b(archive_root, tmp_path) -> Path:
    return second_node(archive_root, tmp_path / "node-b")


def file_records(root: Path, tmp_path: Path, n: int, word: str) -> list[str]:
    """``n`` records filed through the node at ``root``, each titled and written with ``word`` and its number."""
    src = tmp_path / f"src-{word}"
    src.mkdir()
    a = open_node(root)
    try:
        ing = Ingestor(a)
        ids = []
        for i in range(n):
            p = src / f"{word}-{i:03d}.txt"
            p.write_text(f"第{i}件 {word}{i:03d}", encoding="utf-8")
            ids.append(ing.ingest(p, RecordFields(title=f"{word} {word}{i:03d}")).id)
        return ids
    finally:
        a.close()


def search_ids(cli: Cli, text: str, user: str = "tester") -> list[str]:
    out = cli("search", text, "--json", "--limit", "100", user=user).output
    return [json.loads(line)["record_id"] for line in out.splitlines() if line.strip().startswith("{")]


def test_a_record_filed_on_one_node_is_found_on_the_other(tmp_path, pg_url, s3_env, bucket):  # noqa: F811
    """Two folders naming one PostgreSQL catalogue and one bucket: B's first search applies what A filed."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from s3_helpers import assert_bucket_store_valid
    a_root = tmp_path / "node-a"
    Archive.init(a_root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/fonds-z109", store_endpoint=s3_env.endpoint).close()
    b_root = second_node(a_root, tmp_path / "node-b")
    a, b = Cli(a_root), Cli(b_root)
    assert search_ids(b, "nothingyet") == []                    # B is a node: it has its index and cursor
    p = tmp_path / "会议纪要.txt"
    p.write_text("节点甲归档的会议纪要 nodemarkalpha", encoding="utf-8")
    rid = json.loads(a("ingest", p, "--json").output.splitlines()[0])["record_id"]
    assert search_ids(a, "nodemarkalpha") == [rid]
    assert index_hits(b_root, "nodemarkalpha") == []             # not in B's index until B applies the log
    assert search_ids(b, "nodemarkalpha") == [rid]               # the search checks max id vs cursor, catches up
    assert search_ids(b, "会议纪要") == [rid]
    assert cursor_of(b_root) == cursor_of(a_root) == last_change(a_root)
    a("revise", rid, "--title", "修订后的标题 revisedbeta")      # a metadata edit is a change like any other
    assert search_ids(b, "revisedbeta") == [rid]
    assert_bucket_store_valid(s3_env, bucket, "fonds-z109")


def test_a_node_that_was_down_catches_up(archive_root, node_b, tmp_path):
    b = Cli(node_b)
    assert search_ids(b, "anything") == []                       # B known at cursor 0 ... then down
    ids = file_records(archive_root, tmp_path, 50, "downword")
    Cli(archive_root)("search", "downword")                      # A applies (and would prune what all have)
    a = open_node(archive_root)
    try:
        left = a.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0]
    finally:
        a.close()
    assert left >= 50                                            # kept: B has not applied them
    assert index_hits(node_b, "downword") == []
    assert sorted(search_ids(b, "downword")) == sorted(ids)      # B back: everything, in one catch-up
    assert index_size(node_b) == 50
    a = open_node(archive_root)
    try:
        assert a.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0   # both have it: pruned
    finally:
        a.close()


def test_a_destruction_on_one_node_is_purged_from_every_index(archive_root, node_b, tmp_path, cli):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("mgr", "manager")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "top-secret", user="boss")
    p = tmp_path / "doomed.txt"
    p.write_text("到期销毁 NODEDOOMMARK", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                         "2010-01-01", "--title", "销毁件", "--json", user="arch").output.splitlines()[0])["record_id"]
    b = Cli(node_b)
    assert search_ids(b, "NODEDOOMMARK", "arch") == [rid] and files_holding(node_b, b"NODEDOOMMARK")
    lid = json.loads(cli("disposition", "propose", rid, "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    cli("disposition", "execute", lid, "--yes", user="arch")     # on A
    assert search_ids(cli, "NODEDOOMMARK", "arch") == []
    assert files_holding(archive_root, b"NODEDOOMMARK") == []
    assert search_ids(b, "NODEDOOMMARK", "arch") == []                   # B applies the destruction ...
    assert files_holding(node_b, b"NODEDOOMMARK") == []          # ... and purges its text from its own index
    assert index_size(node_b) == index_size(archive_root) == 0


KILLED_CHILD = r"""
import sys, time
from pathlib import Path
from dangan.core.archive import Archive
from dangan.core.search import indexing, nodes
indexing.BATCH = 5
real = nodes.apply_changes
def committed_then_wait(archive, index, rows):
    n = real(archive, index, rows)           # this batch is committed to the index; the cursor is not advanced yet
    print(rows[-1]["seq"], flush=True)
    time.sleep(0.5)
    return n
nodes.apply_changes = committed_then_wait
nodes.catch_up(Archive(Path(sys.argv[1])))
print("done", flush=True)
"""


def test_kill_9_of_a_node_mid_apply_loses_nothing_and_indexes_nothing_twice(archive_root, node_b, tmp_path):
    search_ids(Cli(node_b), "anything")
    ids = file_records(archive_root, tmp_path, 30, "killword")
    top = last_change(archive_root)
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(node_b)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        seen = [child.stdout.readline().strip() for _ in range(3)]   # three batches committed to B's index ...
        os.kill(child.pid, signal.SIGKILL)                           # ... the third's cursor never advanced
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    applied = cursor_of(node_b)
    assert applied is not None and int(seen[1]) <= applied < int(seen[2]) < top
    held = index_hits(node_b, "killword")
    assert len(held) == len(set(held)) and len(held) >= 15       # 3 batches of 5 in the index, none twice
    assert sorted(search_ids(Cli(node_b), "killword")) == sorted(ids)   # restarted: the rest applied
    assert index_size(node_b) == 30                              # the third batch was applied again, not added again
    for i in range(30):
        assert len(index_hits(node_b, f"killword{i:03d}")) == 1
    assert cursor_of(node_b) == top


def test_a_node_the_log_was_pruned_past_rebuilds_its_index(archive_root, node_b, tmp_path):
    search_ids(Cli(node_b), "anything")
    a = open_node(archive_root)
    try:
        with a.transaction() as conn:                           # B not seen for 40 days: forgotten by the log
            conn.execute("UPDATE search_nodes SET seen = '2026-01-01T00:00:00Z' WHERE folder = ?", (str(node_b),))
    finally:
        a.close()
    ids = file_records(archive_root, tmp_path, 3, "prunedword")
    Cli(archive_root)("search", "prunedword")                    # A applies, and prunes: nobody else holds it
    a = open_node(archive_root)
    try:
        assert a.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0
    finally:
        a.close()
    from dangan.core.search.nodes import behind
    b = open_node(node_b)
    try:
        assert behind(b) > 0                                     # an empty log pruned past its cursor is work
    finally:
        b.close()
    out = Cli(node_b)("search", "prunedword", "--json", "--limit", "100").output
    told = [line for line in out.splitlines() if line.startswith("dangan:")]
    assert len(told) == 1 and "rebuilding it from the store" in told[0] and "dangan reindex" in told[0], out
    assert sorted(json.loads(line)["record_id"] for line in out.splitlines() if line.startswith("{")) == sorted(ids)
    assert sorted(index_hits(node_b, "prunedword")) == sorted(ids)
    assert cursor_of(node_b) == last_change(archive_root)


def test_the_servers_follower_applies_changes_without_a_search(archive_root, node_b, tmp_path):
    """``dangan serve``'s thread: what A files reaches B's index with no request to B."""
    from dangan.web import ops
    search_ids(Cli(node_b), "anything")
    follower = ops.follow_changes(node_b, 0.2)
    try:
        ids = file_records(archive_root, tmp_path, 2, "followword")
        deadline = time.monotonic() + 30
        while sorted(index_hits(node_b, "followword")) != sorted(ids):
            assert time.monotonic() < deadline, "B's follower never applied A's records"
            time.sleep(0.1)
    finally:
        follower.stop()
    assert cursor_of(node_b) == last_change(archive_root)


WRITER = r"""
import random, sys, time
from pathlib import Path
from dangan.core.archive import Archive
from dangan.core.catalogue.outbox import queue_index
a = Archive(Path(sys.argv[1]))
rng = random.Random(sys.argv[2])
for i in range(40):
    with a.transaction() as conn:
        queue_index(conn, f"{sys.argv[2]}-{i}")
        time.sleep(rng.random() * 0.02)        # between drawing the id and the commit: the window that matters
a.close()
"""


def test_change_ids_commit_in_order_with_writers_on_several_connections(archive_root):
    """A cursor that follows the log while two processes append sees every change: no id ever becomes visible
    after a larger one (the advisory write lock serialises the appends, and a commit is visible before it ends)."""
    from dangan.core.catalogue import outbox
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(archive_root), name], env=env)
               for name in ("w1", "w2")]
    a = open_node(archive_root)
    seen: list[int] = []
    try:
        applied = 0
        while True:
            running = any(w.poll() is None for w in writers)
            rows = outbox.changes_after(a.conn, applied, 1000)
            if rows:
                seen += [r["seq"] for r in rows]
                applied = rows[-1]["seq"]
            elif not running:
                break
            time.sleep(0.003)
        every = [r[0] for r in a.conn.execute("SELECT seq FROM index_outbox WHERE record_id LIKE 'w%' ORDER BY seq")]
    finally:
        a.close()
        for w in writers:
            w.wait(60)
    assert all(w.returncode == 0 for w in writers)
    mine = [s for s in seen if s in set(every)]
    assert len(every) == 80 and mine == every              # nothing stepped over, nothing seen twice


def test_two_servers_a_record_filed_through_one_api_is_applied_by_the_others_follower(archive_root, node_b, tmp_path,
                                                                                      cli):
    """Two real ``dangan serve`` processes: a POST to A's API reaches B's index with no request to B."""
    import socket
    import urllib.parse
    import urllib.request
    import uuid
    from serve_helpers import token
    cli("user", "add", "boss", "--role", "admin", "--clearance", "top-secret", user="x")
    cli("user", "add", "clerk", "--role", "archivist", "--dept", "BGS", user="boss")
    bearer = token(cli, "clerk", "read,ingest")

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def call(base: str, path: str, body: bytes | None = None, ctype: str = "") -> dict:
        req = urllib.request.Request(base + path, data=body, headers={"Authorization": "Bearer " + bearer,
                                                                       **({"Content-Type": ctype} if ctype else {})})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode())

    servers, bases = [], []
    for root in (archive_root, node_b):
        p = port()
        servers.append(subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(root), "serve", "--port",
                                         str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        bases.append(f"http://127.0.0.1:{p}")
    try:
        for base, server in zip(bases, servers):
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.stderr.read()
                try:
                    call(base, "/api/v1/search?q=x")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "a server never answered"
                    time.sleep(0.2)
        b = "b" + uuid.uuid4().hex
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n两台服务器\r\n--{b}\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"n.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                "经节点甲 APIFOLLOWMARK 归档\r\n" f"--{b}--\r\n").encode()
        rid = call(bases[0], "/api/v1/records", body, f"multipart/form-data; boundary={b}")["id"]
        deadline = time.monotonic() + 30
        while cursor_of(node_b) != last_change(archive_root):      # no request to B meanwhile
            assert time.monotonic() < deadline, "B's follower never applied the change"
            time.sleep(0.1)
        assert index_hits(node_b, "APIFOLLOWMARK") == [rid]
        hits = call(bases[1], "/api/v1/search?" + urllib.parse.urlencode({"q": "APIFOLLOWMARK"}))["hits"]
        assert [h["id"] for h in hits] == [rid]
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        errs = [server.communicate(timeout=60)[1] for server in servers]
    assert all("Traceback" not in e for e in errs), errs


def test_status_lists_every_node_and_how_far_behind_it_is(archive_root, node_b, tmp_path):
    b = Cli(node_b)
    assert search_ids(b, "anything") == []                       # B known at cursor 0 ... then down
    file_records(archive_root, tmp_path, 5, "statusword")
    a = Cli(archive_root)
    a("search", "statusword")                                    # A applies its own five
    nodes = json.loads(a("status", "--json").output)["search_nodes"]["nodes"]
    by_folder = {Path(n["folder"]).resolve(): n for n in nodes}
    assert set(by_folder) == {archive_root.resolve(), node_b.resolve()}
    assert by_folder[archive_root.resolve()]["behind"] == 0 and by_folder[archive_root.resolve()]["this"]
    assert by_folder[node_b.resolve()]["behind"] >= 5 and not by_folder[node_b.resolve()]["this"]
    text = a("status").output
    assert text.count("search node ") == 2 and "(this one): 0 changes to apply" in text
    search_ids(b, "statusword")                                  # B catches up
    after = {Path(n["folder"]).resolve(): n["behind"] for n in json.loads(b("status", "--json").output)["search_nodes"]["nodes"]}
    assert after == {archive_root.resolve(): 0, node_b.resolve(): 0}
