"""``[ingest] extraction = "workers"`` (issue 17.5): every face archives first and leaves the text to ``dangan worker``.

On PostgreSQL and SeaweedFS: `dangan ingest`, `dangan revise` with a new file, the API's upload and the web upload
form file the record at once without its text and queue its extraction job in the same transaction; the reply
says the job is queued; a `dangan worker --once` process then extracts it and the record is found by a word of
its text only.  A value other than "inline" or "workers" is refused, naming the key.  The bucket is validated by
ocfl-py at teardown.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3_fixtures import bucket, s3_env, s3_server  # noqa: F401 - fixtures used by name
from serve_helpers import client, csrf_of, password, sign_in, token
from worker_helpers import catalogue


@pytest.fixture
def catalogue_backend() -> str:
    return "postgresql"


@pytest.fixture
def archive_root(tmp_path, pg_url, bucket, s3_env, monkeypatch):  # noqa: F811
    """An archive on PostgreSQL + a bucket whose dangan.toml says ``[ingest] extraction = "workers"``."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from s3_helpers import assert_bucket_store_valid
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/fonds-z109", store_endpoint=s3_env.endpoint).close()
    workers_mode(root)
    yield root
    assert_bucket_store_valid(s3_env, bucket, "fonds-z109")


def workers_mode(root: Path, value: str = "workers") -> None:
    cfg = root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + f'\n[ingest]\nextraction = "{value}"\n', encoding="utf-8")


def run_worker(root: Path, user: str = "tester") -> dict:
    done = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", user, "worker", "--once",
                           "--json", "--idle", "0.2"], capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def found(cli, word: str, user: str = "tester") -> list[str]:
    out = cli("search", word, "--json", user=user).output
    return [h["record_id"] for h in map(json.loads, out.splitlines()) if "record_id" in h]


def test_cli_ingest_and_revise_queue_extraction_for_a_worker(archive_root, tmp_path, cli):
    note = tmp_path / "会议纪要.txt"
    note.write_text("第一次办公会议 纪要 quillword1x", encoding="utf-8")
    r = cli("ingest", note, "--title", "办公会议", "--json")
    (outcome,) = [json.loads(line) for line in r.stdout.splitlines()]
    rid = outcome["record_id"]
    assert outcome["status"] == "archived" and outcome["extraction_queued"] is True
    again = cli("ingest", note, "--allow-duplicate")
    assert "text extraction of 1 record(s) queued for `dangan worker`" in again.stderr
    dup = catalogue(archive_root, "SELECT id FROM records WHERE id != ?", rid)[0][0]
    assert catalogue(archive_root, "SELECT version, extraction_status FROM records WHERE id = ?", rid) == [(1, None)]
    queued = {row[0] for row in catalogue(archive_root, "SELECT record_id FROM extraction_queue")}
    assert rid in queued and len(queued) == 2                # each committed with its record
    assert found(cli, "quillword1x") == []                   # archived, its text not yet extracted
    assert found(cli, "办公会议") != []                       # its title is searchable at once
    s = run_worker(archive_root)
    assert (s["extracted"], s["failed"]) == (2, 0), s
    assert sorted(found(cli, "quillword1x")) == sorted([rid, dup])
    shown = json.loads(cli("show", rid, "--json").output)
    assert shown["version"] == 2 and shown["extraction"]["status"] == "ok"
    assert catalogue(archive_root, "SELECT count(*) FROM extraction_queue") == [(0,)]

    new = tmp_path / "会议纪要-修订.txt"
    new.write_text("修订后的纪要 ravenword2x", encoding="utf-8")
    out = cli("revise", rid, new, "-m", "修订").output
    assert "now at version 3; text extraction queued for `dangan worker`" in out
    assert catalogue(archive_root, "SELECT extraction_status FROM records WHERE id = ?", rid) == [(None,)]
    assert found(cli, "ravenword2x") == []
    assert run_worker(archive_root)["extracted"] == 1
    assert found(cli, "ravenword2x") == [rid]
    assert found(cli, "quillword1x") == [dup]               # the old file's text went with it
    assert json.loads(cli("show", rid, "--json").output)["version"] == 4
    cli("check")


def test_a_sealed_record_is_still_extracted_when_it_is_archived(archive_root, tmp_path, cli, monkeypatch):
    """Its plaintext is read once, from the source: never queued for a worker (which would have to decrypt it)."""
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    try:
        src = tmp_path / "机密.txt"
        src.write_text("机密正文 sealword5x", encoding="utf-8")
        outcome = json.loads(cli("ingest", src, "--volume", "V", "--json").output.splitlines()[0])
        assert outcome["status"] == "archived" and "extraction_queued" not in outcome
        assert catalogue(archive_root, "SELECT count(*) FROM extraction_queue") == [(0,)]
        cli("volume", "unlock", "V")
        shown = json.loads(cli("show", outcome["record_id"], "--json").output)
        assert shown["version"] == 1 and shown["extraction"]["status"] == "ok", shown["extraction"]
    finally:
        cli("volume", "lock")


def test_an_ingest_killed_before_its_commit_is_adopted_with_its_job(archive_root, tmp_path, cli, monkeypatch):
    """The queue row dies with the ingest's transaction; recovery adopts the published version and queues it."""
    import time
    from dangan.core.archive import Archive
    from dangan.core.catalogue.leases import LEASE_ENV
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.new_version import EXIT_AFTER_PUBLISH
    from dangan.core.store.recovery import recover_interrupted
    monkeypatch.setenv(LEASE_ENV, "2")                  # the dead writer's intent lease ends soon
    src = tmp_path / "中断.txt"
    src.write_text("写到一半的档案 otterword6x", encoding="utf-8")
    dead = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
                           str(src)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, EXIT_AFTER_PUBLISH: "1"})
    assert dead.returncode == 137, dead.stderr
    assert catalogue(archive_root, "SELECT count(*) FROM records") == [(0,)]
    (rid,) = [r[0] for r in catalogue(archive_root, "SELECT object_id FROM ingest_intents")]
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        deadline = time.monotonic() + 120                # any machine's recovery, once the writer's lease ends
        while recover_interrupted(a)["adopted"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        a.close()
    assert catalogue(archive_root, "SELECT id, version, extraction_status FROM records") == [(rid, 1, None)]
    assert catalogue(archive_root, "SELECT record_id, attempts FROM extraction_queue") == [(rid, 0)]
    assert run_worker(archive_root)["extracted"] == 1
    assert found(cli, "otterword6x") == [rid]


def _office(cli) -> None:
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "internal", user="boss")
    cli("user", "passwd", "arch", input=password("arch") + "\n", user="boss")


def test_an_api_upload_and_the_upload_form_queue_extraction_for_a_worker(archive_root, cli):
    _office(cli)
    bearer = {"Authorization": f"Bearer {token(cli, 'arch', 'read,ingest')}"}
    with client(archive_root) as c:
        keyed = {**bearer, "Idempotency-Key": "upload-0001"}
        for status in (201, 200):                          # filed, then the retry's replay: the same answer
            r = c.post("/api/v1/records", headers=keyed, data={"title": "接口上传"},
                       files={"file": ("接口.txt", "接口上传的正文 finchword3x".encode())})
            assert r.status_code == status, r.text
            assert r.json()["extraction_queued"] is True and r.json()["extraction"] == {}
        api_id = r.json()["id"]
        assert sign_in(c, "arch").status_code == 303
        r = c.post("/upload", data={"csrf": csrf_of(c, "/upload"), "title": "表单上传"},
                   files={"file": ("表单.txt", "表单上传的正文 heronword4x".encode())})
        assert r.status_code == 201, r.text
        assert "全文提取已排队" in r.text and 'id="extraction-queued"' in r.text
        r = c.get("/api/v1/search?q=finchword3x", headers=bearer)
        assert r.status_code == 200 and r.json()["hits"] == []             # not yet extracted
    assert catalogue(archive_root, "SELECT count(*) FROM extraction_queue") == [(2,)]
    s = run_worker(archive_root, user="arch")
    assert (s["extracted"], s["failed"]) == (2, 0), s
    with client(archive_root) as c:
        hits = c.get("/api/v1/search?q=finchword3x", headers=bearer).json()["hits"]
        assert [h["id"] for h in hits] == [api_id]
        assert len(c.get("/api/v1/search?q=heronword4x", headers=bearer).json()["hits"]) == 1


def test_an_unknown_extraction_mode_is_refused(tmp_path):
    from conftest import Cli
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from ocfl_helpers import assert_store_valid
    root = tmp_path / "plain"                       # the embedded default: catalogue.sqlite, a folder store
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester")).close()
    cfg = root / "dangan.toml"
    before = cfg.read_text(encoding="utf-8")
    workers_mode(root, "later")
    note = tmp_path / "a.txt"
    note.write_text("正文", encoding="utf-8")
    r = Cli(root)("ingest", note, ok=False)
    assert r.exit_code == 2
    assert "[ingest] extraction" in r.output and '"inline", "workers"' in r.output, r.output
    cfg.write_text(before, encoding="utf-8")
    assert catalogue(root, "SELECT count(*) FROM records") == [(0,)]        # refused before anything was filed
    assert_store_valid(root / "store")
