"""A new record's content goes to the bucket before the catalogue's write lock (new_version, ocfl_s3_group).

Against the real S3 server: a batch's declarations and content files are put while no catalogue transaction is
open, and only ``metadata.json`` and the four inventory keys inside one; a file refused inside the transaction
(a duplicate of an earlier file of its group) leaves none of its uploaded keys; a writer that dies right after
the upload (``DANGAN_TEST_EXIT_AFTER_UPLOAD``) leaves keys nothing trusts, which recovery deletes — every file
is then archived exactly once or not at all, piece numbers stay gap-free, ocfl-py validates the bucket (at
teardown, ``s3_fixtures.archive_root``)."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path

from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)
from s3_helpers import drop_texts, keys
from test_s3_faults import PREFIX, assert_nothing_untrusted, dangan, records_by_digest

CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01"]
#: what a new object's version 1 puts inside the catalogue transaction, and nothing else
INSIDE = {"v1/content/metadata.json", "v1/inventory.json", "v1/inventory.json.sha512", "inventory.json",
          "inventory.json.sha512"}


def _drop(folder: Path, n: int, tag: str) -> dict[str, Path]:
    return drop_texts(folder, n, tag, "报告 report", 4)


def _objects(svc, bucket: str) -> dict[str, set[str]]:
    """The bucket's object places (``PREFIX/a/b/c/<hash>``) and the names of their keys."""
    out: dict[str, set[str]] = {}
    for k in keys(svc, bucket, PREFIX + "/"):
        parts = k.split("/")
        if len(parts) >= 6:
            out.setdefault("/".join(parts[:5]), set()).add("/".join(parts[5:]))
    return out


def _pieces(root: Path) -> list[int]:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    try:
        return sorted(r[0] for r in conn.execute("SELECT piece FROM records"))
    finally:
        conn.close()


@contextmanager
def _watched_puts(monkeypatch):
    """Every PUT of the process (its key) and whether a catalogue write transaction was open at the time."""
    from dangan.core.archive import Archive
    from dangan.repository import s3client
    puts: list[tuple[str, bool]] = []
    open_transactions = [0]
    make, transaction = s3client.S3._make_client, Archive.transaction

    def counted(self):                       # every client of the process (the group has an archive of its own)
        client = make(self)
        client.meta.events.register("before-parameter-build.s3.PutObject",
                                    lambda params, **kw: puts.append((params["Key"], open_transactions[0] > 0)))
        return client

    @contextmanager
    def watched(self):
        with transaction(self) as conn:
            open_transactions[0] += 1
            try:
                yield conn
            finally:
                open_transactions[0] -= 1
    monkeypatch.setattr(s3client.S3, "_make_client", counted)
    monkeypatch.setattr(Archive, "transaction", watched)
    yield puts


def _ingest(root: Path, paths, monkeypatch):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.actor import Actor
    from dangan.core.service.records import ingest
    a = Archive(root, Actor("tester", "tester"))
    try:
        return ingest(a, paths, RecordFields(category="WS", department="BGS", retention="Y", date="2021-03-01"))
    finally:
        a.close()


def test_a_batch_puts_only_metadata_and_inventories_under_the_write_lock(archive_root, s3_env, bucket, tmp_path,
                                                                          monkeypatch):
    _drop(tmp_path / "drop", 10, "纪要")
    with _watched_puts(monkeypatch) as puts:
        outcomes = _ingest(archive_root, [tmp_path / "drop"], monkeypatch)
        assert [o.status for o in outcomes] == ["archived"] * 10
        one_file = tmp_path / "单件.txt"                       # one file alone: commit_version, new_object
        one_file.write_text("单独归档的一份文件 a file filed alone", encoding="utf-8")
        assert [o.status for o in _ingest(archive_root, [one_file], monkeypatch)] == ["archived"]
    inside: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for key, locked in puts:
        parts = key.split("/")
        if len(parts) >= 6:
            (inside if locked else outside).setdefault("/".join(parts[:5]), set()).add("/".join(parts[5:]))
    assert set(inside) == set(outside) == set(_objects(s3_env, bucket)) and len(inside) == 11
    for obj in inside:
        assert inside[obj] == INSIDE, (obj, inside[obj])          # the archival code's file and the inventories
        assert "0=ocfl_object_1.1" in outside[obj] and not outside[obj] & INSIDE, (obj, outside[obj])
        assert any(n.endswith(".txt") for n in outside[obj]), outside[obj]    # the record's own file, ahead
    assert len({k for k, _ in puts}) == len(puts)                  # no key written twice
    assert _pieces(archive_root) == list(range(1, 12))
    c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr


def test_a_duplicate_refused_inside_the_group_leaves_no_keys(archive_root, s3_env, bucket, tmp_path, monkeypatch):
    """Two files of one group with the same bytes: both are uploaded ahead (neither is in the catalogue yet),
    the second is refused in the transaction, and its keys are deleted before the transaction commits."""
    drop = tmp_path / "drop"
    wanted = _drop(drop, 5, "通知")
    (drop / "通知-99-copy.txt").write_bytes((drop / "通知-02.txt").read_bytes())
    with _watched_puts(monkeypatch) as puts:
        outcomes = _ingest(archive_root, [drop], monkeypatch)
    assert sorted(o.status for o in outcomes) == ["archived"] * 5 + ["duplicate"]
    declared = {k.rsplit("/", 1)[0] for k, _ in puts if k.endswith("/0=ocfl_object_1.1")}
    assert len(declared) == 6                                     # the duplicate was uploaded ahead too ...
    objects = _objects(s3_env, bucket)
    assert len(objects) == 5 and set(objects) < declared           # ... and nothing of it is left
    assert_nothing_untrusted(s3_env, bucket)
    assert records_by_digest(archive_root) == {d: 1 for d in wanted}
    assert _pieces(archive_root) == [1, 2, 3, 4, 5]                # the refused file took no piece number
    c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr


def _killed_after_upload(root: Path, *paths: Path) -> None:
    env = {**os.environ, "DANGAN_TEST_EXIT_AFTER_UPLOAD": "1"}
    r = subprocess.run(dangan(root, "ingest", *paths, *CODE, "--json"), env=env, capture_output=True, text=True)
    assert r.returncode == 137, r.stdout + r.stderr               # died in the window, not before or after


def test_a_writer_dead_right_after_the_upload_is_settled_by_recovery(archive_root, s3_env, bucket, tmp_path):
    first = _drop(tmp_path / "first", 3, "函")
    r = subprocess.run(dangan(archive_root, "ingest", tmp_path / "first", *CODE, "--json"), capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    published = set(_objects(s3_env, bucket))
    wanted = _drop(tmp_path / "drop", 6, "报告")
    _killed_after_upload(archive_root, tmp_path / "drop")
    left = {o: names for o, names in _objects(s3_env, bucket).items() if o not in published}
    assert len(left) == 6, left                                    # the group's content was in the bucket ...
    for names in left.values():                                    # ... and none of it trusted
        assert "0=ocfl_object_1.1" in names and not names & INSIDE, names
    assert records_by_digest(archive_root) == {d: 1 for d in first}
    c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)   # recovery
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr
    assert set(_objects(s3_env, bucket)) == published              # what the dead writer uploaded is gone
    assert_nothing_untrusted(s3_env, bucket)
    assert records_by_digest(archive_root) == {d: 1 for d in first}     # not at all ...
    one = tmp_path / "单件.txt"                                    # one file alone (commit_version) likewise
    one.write_text("单独一件 one alone", encoding="utf-8")
    _killed_after_upload(archive_root, one)
    assert len(_objects(s3_env, bucket)) == len(published) + 1
    r = subprocess.run(dangan(archive_root, "ingest", tmp_path / "drop", one, *CODE, "--json"), capture_output=True,
                       text=True)                                  # ... then exactly once (recovery first)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {json.loads(line)["status"] for line in r.stdout.splitlines()} == {"archived"}, r.stdout
    wanted[hashlib.sha512(one.read_bytes()).hexdigest()] = one
    assert records_by_digest(archive_root) == {d: 1 for d in {**first, **wanted}}
    assert _pieces(archive_root) == list(range(1, 11))             # gap-free: the dead writer took none
    assert_nothing_untrusted(s3_env, bucket)
    assert len(_objects(s3_env, bucket)) == 10
    c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr
    assert not any((archive_root / ".work" / "staging").iterdir()), "staging folders were left behind"


def test_two_machines_on_postgresql_while_a_third_died_after_its_upload(tmp_path, pg_url, s3_env, bucket):
    """Issue 17's scale-out: two node folders over one PostgreSQL catalogue and one bucket ingest at once (each
    uploads its groups' content outside the write lock) while the keys of a writer that died right after its
    upload are still there under its lease; once the lease has ended, recovery on either node deletes them.
    Every file is archived exactly once or not at all, piece numbers are gap-free, ocfl-py validates the bucket."""
    import time
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from s3_helpers import assert_bucket_store_valid
    from search_nodes_helpers import second_node
    lease = 3
    a_root = tmp_path / "node-a"
    Archive.init(a_root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/{PREFIX}", store_endpoint=s3_env.endpoint).close()
    b_root = second_node(a_root, tmp_path / "node-b")
    lost = _drop(tmp_path / "lost", 4, "遗失")
    env = {**os.environ, "DANGAN_LEASE_SECONDS": str(lease)}
    r = subprocess.run(dangan(a_root, "ingest", tmp_path / "lost", *CODE, "--json"), capture_output=True, text=True,
                       env={**env, "DANGAN_TEST_EXIT_AFTER_UPLOAD": "1"})
    died = time.monotonic()
    assert r.returncode == 137, r.stdout + r.stderr
    assert len(_objects(s3_env, bucket)) == 4                       # its content, unpublished, under a live lease
    wanted = {**_drop(tmp_path / "drop-a", 70, "甲"), **_drop(tmp_path / "drop-b", 70, "乙")}   # > one group each
    procs = [subprocess.Popen(dangan(root, "ingest", tmp_path / drop, *CODE, "--json"), env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for root, drop in ((a_root, "drop-a"), (b_root, "drop-b"))]
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, out + err
        assert {json.loads(line)["status"] for line in out.splitlines()} == {"archived"}, out
    time.sleep(max(0.0, lease + 1 - (time.monotonic() - died)))   # the dead writer's lease has ended by now
    for root in (b_root, a_root):                                   # recovery (on b), then a check of its own
        c = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
        assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr
    assert_nothing_untrusted(s3_env, bucket)
    a = Archive(a_root, Actor("tester", "tester"))
    try:
        rows = a.conn.execute("SELECT main_sha512, piece FROM records").fetchall()
    finally:
        a.close()
    assert sorted(r["main_sha512"] for r in rows) == sorted(wanted)   # each once; none of the dead writer's
    assert not set(lost) & {r["main_sha512"] for r in rows}
    assert sorted(r["piece"] for r in rows) == list(range(1, 141))  # gap-free across both machines
    assert len(_objects(s3_env, bucket)) == 140
    assert assert_bucket_store_valid(s3_env, bucket, PREFIX) == 140
