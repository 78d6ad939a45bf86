"""`dangan mv` across the border of a confidential volume (issue 19.1).

Into one: the record is sealed as if filed there — a new sealed object under the same id and archival code,
the plaintext object purged, nothing of it left in store, index, catalogue (WAL included) or temp files (the
marker grep over the whole archive folder).  Out of one: only with a security officer's approval (another
person), the volume unlocked; the sealed object and its key go.  kill -9 in the middle: the next command
puts the record back as it was, or finishes the move.  Every store is validated by ocfl-py at teardown.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from destruction_helpers import PASS, run
from leak_helpers import grep

MARK_ASCII = "MVQX-MARKER-5521"
MARK_CN = "移卷机密标记丁戊"
TITLE = "MVTITLE-移入机要卷的请示"


@pytest.fixture
def office(cli, monkeypatch, tmp_path):
    """Users boss (admin), arch (archivist), so (security officer); a plain volume P and a secret volume V; a
    plain internal record in P with two versions, its content and title marked."""
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("so", "security-officer")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "secret", user="boss")
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷", user="boss")
    cli("volume", "create", "P", "--secrecy", "internal", "--title", "普通卷", user="arch")
    src = tmp_path / "note.txt"
    src.write_text(f"请示正文 {MARK_ASCII} {MARK_CN}\n" * 20, encoding="utf-8")
    rid = json.loads(cli("ingest", src, "--volume", "P", "--secrecy", "internal", "--category", "WS", "--dept",
                         "BGS", "--title", TITLE, "--json", user="arch").output.splitlines()[0])["record_id"]
    rev = tmp_path / "rev.txt"
    rev.write_text(f"修订稿 {MARK_ASCII} {MARK_CN}", encoding="utf-8")
    cli("revise", rid, rev, "-m", "second draft", user="arch")
    return {"rid": rid, "tmpdir": tmpdir, "rev": rev}


def _show(cli, rid, user="arch"):
    return json.loads(cli("show", rid, "--json", user=user).output)


def _events(cli, action):
    return [json.loads(x) for x in cli("audit", "log", "--json", "--action", action, user="boss").output.splitlines()]


def _assert_no_plaintext(root: Path, tmpdir: Path) -> None:
    for marker in (MARK_ASCII, MARK_CN, "MVTITLE", "移入机要卷的请示"):
        assert grep(marker, [root, tmpdir]) == [], marker


def test_a_record_moved_into_a_confidential_volume_is_sealed_and_leaves_no_plaintext(cli, office, archive_root,
                                                                                     tmp_path):
    rid = office["rid"]
    before = _show(cli, rid)
    assert cli("search", MARK_ASCII, "--count", user="arch").output.strip() == "1"   # indexed in the clear
    out = cli("mv", rid, "--volume", "V", user="arch").output
    assert f"{rid} moved from volume P to V" in out
    shown = _show(cli, rid)
    assert shown["locked"] and shown["title"] == "" and shown["volume"] == "V" and shown["secrecy"] == "secret"
    assert shown["archival_code"] == before["archival_code"] and shown["version"] == 1
    _assert_no_plaintext(archive_root, office["tmpdir"])
    assert cli("search", MARK_ASCII, "--count", user="arch").output.strip() == "0"
    ev = _events(cli, "record.move")
    assert len(ev) == 1 and ev[0]["details"]["from"] == "P" and ev[0]["details"]["to"] == "V"
    assert ev[0]["details"]["replaced"]["versions"] == 2 and ev[0]["details"]["sealed"] is True
    # sealed exactly as if filed there: readable once unlocked, the head's content and title
    cli("volume", "unlock", "V", user="boss")
    opened = _show(cli, rid, user="boss")
    assert opened["title"] == TITLE and not opened["locked"]
    hits = [json.loads(x) for x in cli("search", MARK_ASCII, "--json", user="boss").output.splitlines()]
    assert [h["record_id"] for h in hits] == [rid]          # its text was carried over, sealed
    cli("check", "--decrypt", user="boss")
    cli("audit", "verify", user="boss")
    cli("volume", "lock", user="boss")
    assert not any((archive_root / ".work" / "staging").iterdir())
    assert not (archive_root / ".work" / "moving").exists() or not any((archive_root / ".work" / "moving").iterdir())


def test_the_catalogue_rebuilt_from_the_store_keeps_the_moved_record_sealed(cli, office, archive_root):
    rid = office["rid"]
    cli("mv", rid, "--volume", "V", user="arch")
    cli("rebuild-catalogue", "--yes", user="boss", ok=False)
    shown = _show(cli, rid)
    assert shown["volume"] == "V" and shown["title"] == "" and shown["locked"]


def test_leaving_a_confidential_volume_needs_a_security_officers_approval(cli, office, archive_root, tmp_path):
    rid = office["rid"]
    cli("mv", rid, "--volume", "V", user="arch")
    r = cli("mv", rid, "--volume", "P", user="arch", ok=False)
    assert r.exit_code == 2 and "--reason" in r.output
    assert _show(cli, rid)["volume"] == "V"
    out = cli("mv", rid, "--volume", "P", "--reason", "已解密，转入普通卷", "--json", user="arch").output
    req = json.loads(out)
    assert req["status"] == "requested" and _show(cli, rid)["volume"] == "V"
    assert [r["id"] for r in map(json.loads, cli("mv", "--pending", "--json", user="so").output.splitlines())] \
        == [req["id"]]
    r = cli("mv", "--approve", req["id"], user="arch", ok=False)             # not a security officer
    assert r.exit_code == 7 and _show(cli, rid)["volume"] == "V"
    r = cli("mv", "--approve", req["id"], user="so", ok=False)               # the volume is locked for so
    assert r.exit_code == 12 and "locked" in r.output
    assert json.loads(cli("mv", "--pending", "--json", user="so").output)["status"] == "requested"
    cli("volume", "unlock", "V", user="so")
    done = json.loads(cli("mv", "--approve", req["id"], "--json", user="so").output)
    cli("volume", "lock", user="so")
    assert done["status"] == "applied" and done["decided_by"] == "so"
    shown = _show(cli, rid)
    assert shown["volume"] == "P" and shown["secrecy"] == "internal" and shown["title"] == TITLE
    assert not shown.get("locked") and shown["version"] == 1
    cli("get", rid, "-o", tmp_path / "back", user="arch")
    assert (tmp_path / "back" / "rev.txt").read_bytes() == office["rev"].read_bytes()
    assert cli("search", MARK_ASCII, "--count", user="arch").output.strip() == "1"
    ev = _events(cli, "record.move")
    assert [e["details"]["sealed"] for e in ev] == [True, False]
    assert ev[1]["actor"] == "so" and ev[1]["details"]["request"] == req["id"]
    from dangan.core.archive import Archive
    from dangan.core.catalogue.volumes import open_keystore
    a = Archive(archive_root)
    try:
        assert open_keystore(a).destroyed(rid) is not None          # the sealed object's key is shredded
    finally:
        a.close()
    assert not any((archive_root / ".work" / "staging").iterdir())
    r = cli("mv", rid, "--volume", "V", user="arch", ok=False)       # sealed once: its key is gone
    assert r.exit_code == 2 and "ingest its files" in r.output
    cli("audit", "verify", user="boss")


def test_the_requester_may_not_approve_their_own_move(cli, office):
    rid = office["rid"]
    cli("mv", rid, "--volume", "V", user="arch")
    req = json.loads(cli("mv", rid, "--volume", "P", "--reason", "x", "--json", user="so").output)
    r = cli("mv", "--approve", req["id"], user="so", ok=False)
    assert r.exit_code == 7 and "separation of duties" in r.output
    r = cli("mv", "--refuse", req["id"], "--reason", "仍属秘密", user="so", ok=False)
    assert r.exit_code == 7
    assert json.loads(cli("mv", "--pending", "--json", user="so").output)["status"] == "requested"


@pytest.mark.parametrize("window", ["move-aside:1", "move-publish:1"])
def test_kill_9_mid_move_leaves_the_record_whole(cli, office, archive_root, window):
    rid = office["rid"]
    r = run(archive_root, "mv", rid, "--volume", "V", user="arch", crash=window)
    assert r.returncode == -9, r.stderr
    shown = _show(cli, rid)                   # this command's opening settles the interrupted move
    if window.startswith("move-aside"):       # the new object was not in: the record is as it was
        assert shown["volume"] == "P" and shown["title"] == TITLE and shown["version"] == 2
        assert cli("search", MARK_ASCII, "--count", user="arch").output.strip() == "1"
        failed = _events(cli, "record.move")
        assert [e["outcome"] for e in failed] == ["failure"]
    else:                                     # the new object was in: the move is finished
        assert shown["volume"] == "V" and shown["title"] == "" and shown["version"] == 1
        assert _events(cli, "record.move")[0]["details"]["recovered_by"] == "arch"
        _assert_no_plaintext(archive_root, office["tmpdir"])
    assert not (archive_root / ".work" / "moving").exists() or not any((archive_root / ".work" / "moving").iterdir())
    cli("check", user="boss")
    cli("audit", "verify", user="boss")


def test_a_held_record_or_one_on_loan_is_not_moved(cli, office):
    rid = office["rid"]
    hold = json.loads(cli("hold", "add", rid, "--reason", "诉讼", "--authority", "法院", "--json", user="boss").output)
    r = cli("mv", rid, "--volume", "V", user="arch", ok=False)
    assert r.exit_code != 0 and "hold" in r.output.lower()
    cli("hold", "release", hold["id"], "--reason", "结案", user="boss")
    loan = json.loads(cli("lend", "request", rid, "--purpose", "查阅", "--json", user="arch").output)["loan"]
    r = cli("mv", rid, "--volume", "V", user="arch", ok=False)
    assert r.exit_code == 2 and f"on loan {loan}" in r.output
    shown = _show(cli, rid)
    assert shown["volume"] == "P" and shown["title"] == TITLE and shown["version"] == 2
    assert _events(cli, "record.move") == []


def test_kill_9_while_unsealing_leaves_no_plaintext_in_staging(cli, office, archive_root):
    rid = office["rid"]
    cli("mv", rid, "--volume", "V", user="arch")
    req = json.loads(cli("mv", rid, "--volume", "P", "--reason", "已解密", "--json", user="arch").output)["id"]
    cli("volume", "unlock", "V", user="so")
    r = run(archive_root, "mv", "--approve", req, user="so", crash="move-staged:1")
    assert r.returncode == -9, r.stderr
    assert grep(MARK_ASCII, [archive_root / ".work" / "staging"]), "the killed approval had staged the plaintext"
    shown = _show(cli, rid)                    # the next command deletes what the dead process staged
    assert shown["volume"] == "V" and shown["title"] == "" and shown["locked"]
    _assert_no_plaintext(archive_root, office["tmpdir"])
    again = run(archive_root, "mv", "--approve", req, "--json", user="so")    # the same person applies it again
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    cli("volume", "lock", user="so")
    assert done["status"] == "applied" and _show(cli, rid)["title"] == TITLE
    cli("check", user="boss")


def test_a_store_without_rename_refuses_the_move_and_keeps_the_record(cli, office, monkeypatch):
    from dangan.repository.ocfl import OcflStore
    with monkeypatch.context() as m:
        m.setattr(OcflStore, "remote", True, raising=False)            # as a store in a bucket says of itself
        r = cli("mv", office["rid"], "--volume", "V", user="arch", ok=False)
    assert r.exit_code == 2 and "bucket" in r.output
    shown = _show(cli, office["rid"])
    assert shown["volume"] == "P" and shown["title"] == TITLE and shown["version"] == 2
