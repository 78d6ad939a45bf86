"""Confidential volumes on every path: filing into one seals the record or is refused (issue 11.3), and a
sealed record's file names and revision messages reach no audit detail, inventory or catalogue (11.12)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from leak_helpers import grep

PASS = "correct horse battery staple"
VOL = "机要-2022"
FNAME = "FNMARK-机要文件名.txt"
MSG = "MSGMARK-修订说明甲乙"
BODY = "BODYMARK-正文"


@pytest.fixture
def keyed(cli, monkeypatch, tmp_path):
    """An archive with a 机密 (confidential) volume; the agent's socket in a private folder; locked afterwards."""
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    cli("volume", "create", VOL, "--secrecy", "机密")
    yield cli
    cli("volume", "lock")


def _ingest(cli, path: Path, *args) -> dict:
    return json.loads(cli("ingest", path, "--json", *args).output.splitlines()[0])


def _plain_record(cli, tmp_path) -> str:
    src = tmp_path / "plain-internal.txt"
    src.write_text("内部通知 " + BODY, encoding="utf-8")
    return _ingest(cli, src, "--secrecy", "internal", "--title", "内部通知")["record_id"]


def _row(archive_root, rid: str) -> dict:
    import sqlite3
    with sqlite3.connect(archive_root / "catalogue.sqlite") as c:
        c.row_factory = sqlite3.Row
        return dict(c.execute("SELECT * FROM records WHERE id = ?", (rid,)).fetchone())


# -- 11.3: filing into a confidential volume ------------------------------------------------
def test_revising_a_plaintext_record_into_a_confidential_volume_is_refused_with_the_policy(keyed, archive_root,
                                                                                         tmp_path):
    rid = _plain_record(keyed, tmp_path)
    r = keyed("revise", rid, "--volume", VOL, ok=False)
    assert r.exit_code == 2, r.output
    assert "plaintext" in r.output and "re-ingest" in r.output and "destruction list" in r.output
    row = _row(archive_root, rid)
    assert (row["version"], row["volume"], row["secrecy"], row["sealed"]) == (1, None, "internal", None)
    assert row["title"] == "内部通知"          # nothing was written: still one plaintext version
    denied = [json.loads(x) for x in keyed("audit", "log", "--json", "--action", "record.revise").output.splitlines()]
    assert denied == []


def test_raising_a_plaintext_record_to_secret_or_above_is_refused_the_same_way(keyed, archive_root, tmp_path):
    rid = _plain_record(keyed, tmp_path)
    for level in ("秘密", "confidential", "top-secret"):
        r = keyed("revise", rid, "--secrecy", level, ok=False)
        assert r.exit_code == 2 and "plaintext" in r.output and "re-ingest" in r.output, r.output
    new = tmp_path / "v2.txt"
    new.write_text("第二版", encoding="utf-8")
    r = keyed("revise", rid, new, "--secrecy", "secret", "--volume", VOL, ok=False)
    assert r.exit_code == 2 and "plaintext" in r.output
    assert _row(archive_root, rid)["version"] == 1


def test_ingest_into_a_confidential_volume_takes_its_secrecy_and_seals(keyed, archive_root, tmp_path):
    src = tmp_path / "note.txt"
    src.write_text("标记为内部 " + BODY, encoding="utf-8")
    rid = _ingest(keyed, src, "--secrecy", "internal", "--volume", VOL, "--title", "TITLEMARK-内部")["record_id"]
    row = _row(archive_root, rid)
    assert row["secrecy"] == "confidential" and row["sealed"] and row["title"] == ""
    assert grep(BODY, [archive_root]) == [] and grep("TITLEMARK", [archive_root]) == []


def test_a_filing_rule_naming_a_confidential_volume_seals_the_record(keyed, archive_root, tmp_path):
    # the builtin scheme files WS records of BGS dated 2021 into the volume "WS·2021·BGS"
    keyed("volume", "create", "WS·2021·BGS", "--secrecy", "secret")
    src = tmp_path / "filed.txt"
    src.write_text("按规则立卷 " + BODY, encoding="utf-8")
    rid = _ingest(keyed, src, "--category", "WS", "--dept", "BGS", "--date", "2021-03-01",
                  "--title", "TITLEMARK-规则")["record_id"]
    row = _row(archive_root, rid)
    assert row["volume"] == "WS·2021·BGS" and row["secrecy"] == "secret" and row["sealed"]
    assert grep(BODY, [archive_root]) == [] and grep("TITLEMARK", [archive_root]) == []


def test_an_internal_user_cannot_read_a_record_after_a_refused_move(keyed, archive_root, tmp_path):
    """The red team's case end to end: the move is refused, so nothing pretends the record is protected."""
    keyed("user", "add", "tester", "--clearance", "top-secret")
    keyed("user", "add", "clerk", "--role", "staff", "--clearance", "internal")
    rid = _plain_record(keyed, tmp_path)
    r = keyed("revise", rid, "--volume", VOL, ok=False)
    assert r.exit_code == 2 and "plaintext" in r.output
    shown = json.loads(keyed("show", rid, "--json", user="clerk").output)
    assert shown["volume"] is None and shown["secrecy"] == "internal"   # stays what it says it is


def test_a_sealed_record_cannot_leave_or_change_its_confidential_volume(keyed, archive_root, tmp_path):
    keyed("volume", "create", "plain", "--secrecy", "internal")
    src = tmp_path / "s.txt"
    src.write_text("机密件", encoding="utf-8")
    rid = _ingest(keyed, src, "--volume", VOL)["record_id"]
    keyed("volume", "unlock", VOL)
    for args in (("--volume", "plain"), ("--secrecy", "secret")):
        r = keyed("revise", rid, *args, ok=False)
        assert r.exit_code == 2 and "re-filing" in r.output, r.output
    assert _row(archive_root, rid)["version"] == 1


# -- 11.12: no confidential metadata in plaintext --------------------------------------------
def test_retrieving_a_sealed_record_audits_no_file_name(keyed, archive_root, tmp_path):
    src = tmp_path / FNAME
    src.write_text("机密正文 " + BODY, encoding="utf-8")
    rid = _ingest(keyed, src, "--volume", VOL)["record_id"]
    keyed("volume", "unlock", VOL)
    keyed("get", rid, "-o", tmp_path / "out")
    assert (tmp_path / "out" / FNAME).read_bytes() == src.read_bytes()
    (ev,) = [json.loads(x) for x in keyed("audit", "log", "--json", "--action", "record.retrieve").output.splitlines()]
    assert ev["outcome"] == "success" and ev["details"]["files"] == ["content-1"]
    assert "FNMARK" not in json.dumps(ev, ensure_ascii=False)
    for marker in ("FNMARK", "机要文件名", BODY):
        assert grep(marker, [archive_root]) == [], marker


def test_a_sealed_revision_message_is_sealed_and_shown_only_while_unlocked(keyed, archive_root, tmp_path,
                                                                            monkeypatch):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    src = tmp_path / FNAME
    src.write_text("机密正文", encoding="utf-8")
    rid = _ingest(keyed, src, "--volume", VOL)["record_id"]
    keyed("volume", "unlock", VOL)
    new = tmp_path / "修订稿.txt"
    new.write_text("修订 " + BODY, encoding="utf-8")
    keyed("revise", rid, new, "-m", MSG)
    keyed("revise", rid, "--tag", "复核", "-m", MSG + "-2")
    opened = [json.loads(x) for x in keyed("versions", rid, "--json").output.splitlines()]
    assert [v["message"] for v in opened] == ["ingest", MSG, MSG + "-2"]
    keyed("get", rid, "-o", tmp_path / "out")
    keyed("volume", "lock")
    locked = [json.loads(x) for x in keyed("versions", rid, "--json").output.splitlines()]
    assert [v["message"] for v in locked] == ["ingest", "sealed revision", "sealed revision"]
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    inv = json.loads((a.store.object_path(rid) / "inventory.json").read_text(encoding="utf-8"))
    a.close()
    assert inv["versions"]["v2"]["message"] == "sealed revision"
    for marker in ("MSGMARK", "修订说明甲乙", "FNMARK", "修订稿", BODY):
        assert grep(marker, [archive_root, tmpdir]) == [], marker
    keyed("check")


def test_the_catalogue_rebuilt_from_the_store_keeps_the_sealed_messages_sealed(keyed, archive_root, tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("机密", encoding="utf-8")
    rid = _ingest(keyed, src, "--volume", VOL)["record_id"]
    keyed("volume", "unlock", VOL)
    keyed("revise", rid, "--tag", "t", "-m", MSG)
    keyed("rebuild-catalogue", "--yes")
    assert [json.loads(x)["message"] for x in keyed("versions", rid, "--json").output.splitlines()] == ["ingest", MSG]
    assert grep("MSGMARK", [archive_root]) == []


def test_a_sealed_file_carried_into_a_new_version_still_verifies(keyed, archive_root, tmp_path):
    """A revision that keeps a sealed file kept the ciphertext's sha512 as its plaintext digest."""
    src = tmp_path / "carried.txt"
    src.write_text("带入新版本", encoding="utf-8")
    rid = _ingest(keyed, src, "--volume", VOL)["record_id"]
    keyed("volume", "unlock", VOL)
    keyed("revise", rid, "--tag", "复核")
    keyed("get", rid, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "carried.txt").read_bytes() == src.read_bytes()
    keyed("check", "--decrypt")
