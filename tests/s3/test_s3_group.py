"""A batch ingest on S3 is one group commit: its objects' requests overlapped, each object still published by
its own sidecar in the trusted order (repository/ocfl_s3_group.py).

Against the real S3 server: no key is written twice, every object is valid (ocfl-py, at teardown), every
record reads back and is found by search; a writer killed after any of the group's PUTs leaves every file
archived once or not at all, ``dangan check`` passing, and a rerun files each exactly once."""
from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path

from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)
from s3_helpers import drop_texts
from test_s3_faults import assert_nothing_untrusted, dangan, ingest_killed_at_put, records_by_digest


def _drop(folder: Path, n: int, tag: str) -> dict[str, Path]:
    return drop_texts(folder, n, tag, "通知 notice", 5)


def test_a_batch_puts_every_key_once_and_reads_back(archive_root, s3_env, bucket, tmp_path, monkeypatch):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.actor import Actor
    from dangan.core.service.search import search
    from dangan.core.service.records import ingest
    from dangan.repository import s3client
    puts: Counter = Counter()
    make = s3client.S3._make_client

    def counted(self):                       # every client of the process (the group has an archive of its own)
        client = make(self)
        client.meta.events.register("before-parameter-build.s3.PutObject",
                                    lambda params, **kw: puts.update([params["Key"]]))
        return client
    monkeypatch.setattr(s3client.S3, "_make_client", counted)
    digests = _drop(tmp_path / "drop", 12, "会议")
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        outcomes = ingest(a, [tmp_path / "drop"], RecordFields(title="会议通知", category="WS", department="BGS",
                                                          retention="Y", date="2021-03-01"))
        assert [o.status for o in outcomes] == ["archived"] * 12
        codes = [o.archival_code for o in outcomes]
        assert codes == sorted(codes) and len(set(codes)) == 12         # in input order, gap-free
        assert puts and max(puts.values()) == 1, [k for k, v in puts.items() if v > 1]   # no double writes
        assert sum(1 for k in puts if k.endswith("/inventory.json.sha512")) == 24       # v1's and the root's
        for o in outcomes:
            rec = a.record(o.record_id)
            data = a.store.read_bytes(rec.id, rec.main_file.path)
            assert hashlib.sha512(data).hexdigest() in digests
        found = {h.record_id for h in search(a, "通知", limit=50).hits}
        assert found == {o.record_id for o in outcomes}                  # indexed from the bucket, every one
    finally:
        a.close()
    c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr


def test_kill_9_after_any_put_of_a_group_then_a_rerun_files_each_once(archive_root, s3_env, bucket, tmp_path):
    """A group of four small files makes 28 PUTs, several at once: the writer is killed after the N-th."""
    wanted: dict[str, Path] = {}
    crashed = 0
    drops = []
    for k, n in enumerate((1, 3, 5, 8, 11, 14, 18, 22, 26)):
        drop = tmp_path / f"drop-{k}"
        wanted.update(_drop(drop, 4, f"批{k}"))
        drops.append(drop)
        crashed += ingest_killed_at_put(archive_root, [drop], n)
        assert set(records_by_digest(archive_root).values()) <= {1}
        assert_nothing_untrusted(s3_env, bucket)
    assert crashed >= 7, "the kills did not land inside the group's publish"
    r = subprocess.run(dangan(archive_root, "ingest", *drops, "--json"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {json.loads(line)["status"] for line in r.stdout.splitlines()} <= {"archived", "duplicate"}, r.stdout
    assert records_by_digest(archive_root) == {d: 1 for d in wanted}
    assert not any((archive_root / ".work" / "staging").iterdir()), "staging folders were left behind"
