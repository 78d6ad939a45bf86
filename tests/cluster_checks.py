"""What the cluster fault suite asserts afterwards (tests/cluster/), one function per property of issue 17's
"Faults": every file archived exactly once or not at all, piece numbers gap-free, `dangan check` and `audit
verify` pass, ocfl-py validates every object in the bucket, no job left half done, every record searchable on
every node.
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cluster_service import Cluster


@contextmanager
def catalogue(c: Cluster) -> Iterator:
    from dangan.core.catalogue.db import PgConnection
    conn = PgConnection(c.catalogue)
    try:
        yield conn
    finally:
        conn.close()


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def records_by_digest(c: Cluster) -> dict[str, list[str]]:
    with catalogue(c) as conn:
        rows = conn.execute("SELECT id, main_sha512 FROM records WHERE status != 'destroyed'").fetchall()
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        out[r["main_sha512"]].append(r["id"])
    return out


def assert_each_archived_once_or_not_at_all(c: Cluster, digests: dict[str, str], must: set[str]) -> dict[str, str]:
    """``digests``: each submitted file's name → sha512; ``must``: the files acknowledged (or retried until they
    were), which must be there exactly once.  Returns file name → record id."""
    held = records_by_digest(c)
    twice = {name: held[d] for name, d in digests.items() if len(held.get(d, [])) > 1}
    assert not twice, f"archived more than once: {twice}"
    missing = sorted(name for name in must if not held.get(digests[name]))
    assert not missing, f"acknowledged but not archived: {missing}"
    strangers = set(held) - set(digests.values())
    assert not strangers, f"records of no submitted file: {[held[d] for d in strangers]}"
    return {name: held[d][0] for name, d in digests.items() if held.get(d)}


def assert_pieces_gap_free(c: Cluster) -> int:
    """In every class (件号 counter) the pieces are 1..n, unique, and every record has one."""
    with catalogue(c) as conn:
        rows = conn.execute("SELECT piece_class, piece FROM records WHERE status != 'destroyed'").fetchall()
        counters = {r["class_key"]: r["last"] for r in conn.execute("SELECT class_key, last FROM piece_counters")}
    assert all(r["piece_class"] and r["piece"] for r in rows), "a record without its piece number"
    by_class: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        by_class[r["piece_class"]].append(int(r["piece"]))
    for cls, pieces in by_class.items():
        assert sorted(pieces) == list(range(1, len(pieces) + 1)), f"class {cls}: pieces {sorted(pieces)}"
        assert counters.get(cls) == len(pieces), f"class {cls}: counter {counters.get(cls)} for {len(pieces)}"
    return len(rows)


def assert_check_and_audit_verify_pass(c: Cluster) -> None:
    for node in c.nodes:
        c.run(node, "check", user="boss", timeout=900)
    out = c.run(c.nodes[0], "audit", "verify", user="boss").stdout
    assert "intact" in out, out


def assert_bucket_valid(c: Cluster) -> int:
    """ocfl-py validates the storage root in the bucket, every object and digest (through fsspec/s3fs)."""
    from s3_helpers import assert_bucket_store_valid
    assert c.s3 is not None
    saved = {k: os.environ.get(k) for k in c.s3.env}
    os.environ.update(c.s3.env)
    try:
        return assert_bucket_store_valid(c.s3, c.bucket, "fonds-z109")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def assert_nothing_half_done(c: Cluster) -> None:
    """No intent, split, destruction or hand-off left open, no lease held, no extraction job waiting or held,
    no drop file left in the watcher's folder or put in quarantine."""
    with catalogue(c) as conn:
        def rows(sql: str) -> list:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        assert rows("SELECT object_id, host, pid, source FROM ingest_intents") == []
        assert rows("SELECT token FROM scan_splits") == []
        assert rows("SELECT record_id FROM destruction_intents") == []
        assert rows("SELECT id, state, outcome FROM watch_handoffs WHERE state != 'done'") == []
        assert rows("SELECT id, outcome, reason FROM watch_handoffs WHERE outcome IN ('refused', 'failed')"
                    " AND id IN (SELECT max(id) FROM watch_handoffs GROUP BY path_key)") == []
        assert rows("SELECT kind, key, holder FROM intent_leases WHERE until >"            # none held (an ended
                    " CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)") == []       # one: tidied by recovery)
        assert rows("SELECT record_id, attempts, claimed_by, last_error FROM extraction_queue") == []
        assert rows("SELECT id, extraction_status FROM records WHERE extraction_status IS NULL"        # never done,
                    " OR extraction_status = 'failed'") == []                  # or failed by a fault (not a file)
    if c.drop is not None:
        left = [p for p in c.drop.rglob("*") if p.is_file() and "done" not in p.relative_to(c.drop).parts]
        assert left == [], f"left in the drop folder (or quarantined): {left}"


def found_on(c: Cluster, words: dict[str, str]) -> dict[str, set[str]]:
    """For each node: the words (word → the record it must find) its API search finds in that record."""
    out: dict[str, set[str]] = {}
    for node in c.nodes:
        out[node.name] = {w for w, rid in words.items() if rid in {h.get("id") for h in c.api_search(node, w)}}
    return out


def assert_every_record_searchable_on_every_node(c: Cluster, words: dict[str, str], timeout: float = 60) -> str:
    """Every record found by its own word through every node's API (within ``timeout``: a node catches up by
    following the catalogue's change log, ``core/search/nodes``)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        found = found_on(c, words)
        if all(f == set(words) for f in found.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    missing = {n: sorted(set(words) - f) for n, f in found.items() if f != set(words)}
    assert not missing, f"not found on every node: {missing}"
    return "every node"
