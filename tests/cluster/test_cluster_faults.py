"""The mixed fault suite of issue 17: two `dangan serve`, two `dangan worker` and a watcher over one PostgreSQL and
one SeaweedFS bucket, all real processes (tests/cluster_service.py).

Files arrive through both nodes' APIs, the CLI on both nodes and the watcher's drop folder at once; meanwhile a
worker, a server and the watcher are killed with kill -9 (and restarted), SeaweedFS is stopped for ten seconds in
the middle of a large upload, and PostgreSQL is restarted in the middle of a transaction
(tests/cluster_burst.py).  Afterwards (tests/cluster_checks.py): every file archived exactly once or not at all
(every acknowledged one exactly once), piece numbers gap-free, `dangan check` on both nodes and `audit verify`
pass, ocfl-py validates every object in the bucket, no job or intent half done, and every record found by its
own word through the API.

The short version runs in `make test`; the repetition (three rounds of kills, more files) is marked slow.
"""
from __future__ import annotations

import pytest

import cluster_checks as checks
from cluster_burst import quiesce, run_burst, stop_all
from cluster_service import Cluster


@pytest.fixture
def cluster(tmp_path_factory):
    import pg_service
    import s3_service
    if pg_service.pg_bin() is None or s3_service.weed_binary() is None:
        pytest.skip("PostgreSQL or SeaweedFS is not installed (scripts/install-system-deps, the test extra)")
    base = tmp_path_factory.mktemp("cluster")
    c = Cluster(base)             # its own PostgreSQL and SeaweedFS: this test restarts and stops them
    try:
        c.start_services()
        c.make_nodes(2)
        c.start_processes()
        yield c
    finally:
        c.stop()


def _after_the_burst(c: Cluster, b) -> None:
    quiesce(c, b)
    words = {}
    for name, w in b.words.items():
        words[w] = name
    archived = checks.assert_each_archived_once_or_not_at_all(c, b.digests, b.must)
    assert not b.errors, b.errors
    assert b.must == set(b.digests), sorted(set(b.digests) - b.must)       # every submitter was answered
    where = checks.assert_every_record_searchable_on_every_node(
        c, {w: archived[name] for w, name in words.items()})
    print(f"searchable: {where}; faults: {b.faults}")
    codes = stop_all(c)
    assert all(code in (0, -15, None) for code in codes.values()), codes
    checks.assert_nothing_half_done(c)
    assert checks.assert_pieces_gap_free(c) == len(b.digests)
    with checks.catalogue(c) as conn:
        assert conn.execute("SELECT count(*) FROM piece_counters WHERE class_key = 'HALF-WRITTEN'").fetchone()[0] == 0
    checks.assert_check_and_audit_verify_pass(c)
    with checks.catalogue(c) as conn:             # check's recovery tidied the leases dead processes left
        assert conn.execute("SELECT count(*) FROM intent_leases").fetchone()[0] == 0
    assert checks.assert_bucket_valid(c) == len(b.digests)


def test_mixed_faults_lose_nothing_and_archive_nothing_twice(cluster):
    b = run_burst(cluster, per_node_api=6, per_node_cli=3, drops=6, rounds=1, big_mb=24)
    _after_the_burst(cluster, b)


@pytest.mark.slow
def test_mixed_faults_repeated_lose_nothing_and_archive_nothing_twice(cluster):
    b = run_burst(cluster, per_node_api=10, per_node_cli=5, drops=10, rounds=3, big_mb=64)
    _after_the_burst(cluster, b)
