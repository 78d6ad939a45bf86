"""The audit trail: every state change recorded, and any tampering detected."""
from __future__ import annotations

import json
from catalogue_helpers import raw_catalogue

import pytest


def events(cli, *args):
    return [json.loads(line) for line in cli("audit", "log", "--json", *args).output.splitlines()]


@pytest.fixture
def busy(cli, samples, tmp_path):
    """An archive with init, two ingests, a revision, a retrieval and a check in its log."""
    out = cli("ingest", samples / "contract.txt", samples / "notes.md", "--json").output
    rid = json.loads(out.splitlines()[0])["record_id"]
    new = tmp_path / "v2.txt"
    new.write_text("v2", encoding="utf-8")
    cli("revise", rid, new)
    cli("get", rid, "-o", tmp_path / "out")
    cli("check")
    return rid


def test_state_changes_are_events_with_actor_and_outcome(cli, busy):
    evs = events(cli)
    assert [e["action"] for e in evs] == ["archive.init", "record.ingest", "record.ingest", "record.revise",
                                          "record.retrieve", "archive.check"]
    assert all(e["actor"] == "tester" and e["outcome"] == "success" for e in evs)
    assert [e["seq"] for e in evs] == list(range(1, 7))
    assert evs[1]["premis"] == "ingestion" and evs[1]["details"]["sha512"]
    mine = events(cli, "--record", busy)
    assert [e["action"] for e in mine] == ["record.ingest", "record.revise", "record.retrieve"]
    r = cli("audit", "verify")
    assert "intact: 6 events" in r.output


def tamper(root, sql, params=()):
    conn = raw_catalogue(root)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def verify_fails(cli):
    r = cli("audit", "verify", "--json", ok=False)
    assert r.exit_code == 6
    return json.loads(r.output)["problems"]


def test_an_edited_event_is_detected(cli, busy, archive_root):
    tamper(archive_root, "UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    assert any("event 3" in p and "edited" in p for p in verify_fails(cli))


def test_an_edited_details_field_is_detected(cli, busy, archive_root):
    tamper(archive_root, "UPDATE audit SET details = replace(details, 'contract', 'kontract') WHERE seq = 2")
    assert any("event 2" in p for p in verify_fails(cli))


def test_a_deleted_event_is_detected(cli, busy, archive_root):
    tamper(archive_root, "DELETE FROM audit WHERE seq = 4")
    assert any("event 5" in p for p in verify_fails(cli))


def test_a_deleted_last_event_is_detected(cli, busy, archive_root):
    tamper(archive_root, "DELETE FROM audit WHERE seq = 6")
    assert any("head" in p for p in verify_fails(cli))


def test_an_inserted_event_is_detected(cli, busy, archive_root):
    conn = raw_catalogue(archive_root)
    row = conn.execute("SELECT * FROM audit WHERE seq = 3").fetchone()
    conn.execute("UPDATE audit SET seq = seq + 100 WHERE seq >= 4")
    conn.execute("INSERT INTO audit VALUES (4, ?, 'mallory', 'record.ingest', 'dfake', 'success', '{}', ?, ?)",
                 (row[1], row[8], "0" * 64))
    conn.execute("UPDATE audit SET seq = seq - 99 WHERE seq >= 104")
    conn.commit()
    conn.close()
    assert verify_fails(cli)


def test_reordered_events_are_detected(cli, busy, archive_root):
    conn = raw_catalogue(archive_root)
    a = conn.execute("SELECT time, actor, action, object, outcome, details, prev_hash, hash FROM audit WHERE seq=2").fetchone()
    b = conn.execute("SELECT time, actor, action, object, outcome, details, prev_hash, hash FROM audit WHERE seq=3").fetchone()
    cols = "time=?, actor=?, action=?, object=?, outcome=?, details=?, prev_hash=?, hash=?"
    conn.execute(f"UPDATE audit SET {cols} WHERE seq = 2", b)
    conn.execute(f"UPDATE audit SET {cols} WHERE seq = 3", a)
    conn.commit()
    conn.close()
    assert verify_fails(cli)


def test_failed_retrieval_is_recorded_as_a_failure(cli, busy, archive_root, tmp_path):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    a = Archive(archive_root, Actor("tester", "tester"))
    f = next(f for f in a.store.files(busy) if f.logical_path == "v2.txt")
    path = a.store.object_path(busy) / f.content_path
    path.write_bytes(b"v3")
    a.close()
    r = cli("get", busy, "-o", tmp_path / "again", ok=False)
    assert r.exit_code == 6 and "fails its sha512 check" in r.output
    assert not (tmp_path / "again" / "v2.txt").exists() and not (tmp_path / "again" / "v2.txt.part").exists()
    last = events(cli, "--limit", "1")[0]
    assert (last["action"], last["outcome"]) == ("record.retrieve", "failure")
    path.write_bytes(b"v2")    # repair, so the teardown validation sees the store as written
