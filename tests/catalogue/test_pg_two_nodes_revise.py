"""Two machines revise one record at once (issue 17.2/17.3): two node folders over one PostgreSQL catalogue and
one SeaweedFS bucket, each a real `dangan revise` process with a new main file of its own.

No lock is shared between the machines but the catalogue's: the writer whose transaction sees the head it
started from publishes its version, the other is refused (exit 9, "changed while revising it: try again") and
leaves nothing behind.  (Found by this test: the second writer used to wait for the first's lease inside its
write transaction while the first waited for that transaction's write lock — a deadlock PostgreSQL broke after a
second, said as "the catalogue is busy".)  Afterwards every success is one version with its own file's bytes, `dangan check` and
`audit verify` pass on both nodes, and ocfl-py validates the bucket with its digests.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import Cli
from s3_fixtures import bucket, s3_env, s3_server  # noqa: F401 - fixtures used by name
from search_nodes_helpers import second_node

ROUNDS = 6


@pytest.fixture
def catalogue_backend() -> str:
    return "postgresql"


def _revise(root, rid, path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", "revise", rid,
                             str(path), "-m", f"revised from {root.name}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def test_two_nodes_revising_one_record_at_once_publish_one_version_each_success(tmp_path, pg_url, s3_env, bucket):  # noqa: F811
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from s3_helpers import assert_bucket_store_valid
    a_root = tmp_path / "node-a"
    Archive.init(a_root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/fonds-z109", store_endpoint=s3_env.endpoint).close()
    b_root = second_node(a_root, tmp_path / "node-b")
    a, b = Cli(a_root), Cli(b_root)
    first = tmp_path / "合同.txt"
    first.write_text("第一版 合同", encoding="utf-8")
    rid = json.loads(a("ingest", first, "--json").output.splitlines()[0])["record_id"]
    wins: list[str] = []                 # the digest of each published version's main file, in order
    for k in range(ROUNDS):
        files = {}
        for root in (a_root, b_root):
            p = tmp_path / f"{root.name}-{k}.txt"
            p.write_text(f"第{k + 2}版 from {root.name} " * (k + 1), encoding="utf-8")
            files[root] = p
        procs = {root: _revise(root, rid, files[root]) for root in (a_root, b_root)}
        results = {root: (p.wait(timeout=120), p.communicate()) for root, p in procs.items()}
        codes = sorted(code for code, _ in results.values())
        assert codes in ([0, 0], [0, 9]), {r.name: (c, out) for r, (c, out) in results.items()}
        for root, (code, (_out, err)) in results.items():
            if code == 9:
                # refused at the head check, or at once when the other holds the record's lease (never a
                # deadlock between the lease's lock and the catalogue's write lock, said as "busy")
                assert ("changed while revising it: try again" in err
                        or f"record {rid} is being written by another dangan right now: try again" in err), err
        # both won when one finished before the other began; then the later one is the head
        winners = [root for root, (code, _) in results.items() if code == 0]
        shown = json.loads(a("show", rid, "--json").output)
        assert shown["version"] == 1 + len(wins) + len(winners)
        a("get", rid, "-o", str(tmp_path / f"head-{k}"))
        (got,) = (tmp_path / f"head-{k}").iterdir()
        head = hashlib.sha512(got.read_bytes()).hexdigest()
        assert head in {hashlib.sha512(files[w].read_bytes()).hexdigest() for w in winners}
        wins += [head] * len(winners)
    for cli in (a, b):
        cli("check")
        cli("audit", "verify")
    assert assert_bucket_store_valid(s3_env, bucket, "fonds-z109") == 1
