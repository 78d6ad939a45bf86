"""Confidential volumes: sealed at rest, readable only while unlocked, and no plaintext anywhere."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import CORPUS

PASS = "correct horse battery staple"
MARK_ASCII = "ZQXJ-MARKER-7781"
MARK_CN = "绝密标记甲乙丙"
TITLE = "TITLEMARK-机密标题"
FILENAME = "FNAMEMARK-秘密文件.txt"


@pytest.fixture
def keyed(cli, archive_root, monkeypatch, tmp_path):
    """An archive with a secret volume V; its keystore outside the archive; the agent stopped afterwards."""
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dg{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    yield cli
    cli("volume", "lock")


def ingest(cli, path, *args):
    r = cli("ingest", path, "--volume", "V", "--json", *args)
    return json.loads(r.output.splitlines()[0])


def test_the_keystore_lives_outside_the_archive(keyed, archive_root, tmp_path):
    stores = list((tmp_path / "home").rglob("*.json"))
    assert stores and all(not p.resolve().is_relative_to(archive_root.resolve()) for p in stores)


def test_locked_records_show_as_existing_without_title_or_content(keyed, archive_root, tmp_path):
    src = tmp_path / FILENAME
    src.write_text(f"合同正文 {MARK_ASCII} {MARK_CN}", encoding="utf-8")
    rid = ingest(keyed, src, "--title", TITLE)["record_id"]
    keyed("volume", "lock", "V")
    row = json.loads(keyed("ls", "--json").output)
    assert row["id"] == rid and row["secrecy"] == "secret" and row["title"] == ""
    assert "★秘密" in keyed("ls").output
    hits = [json.loads(line) for line in keyed("search", "secrecy:secret", "--json").output.splitlines()]
    assert [h["record_id"] for h in hits] == [rid] and hits[0]["locked"] and not hits[0]["title"]
    assert keyed("search", MARK_ASCII, "--count").output.strip() == "0"
    shown = json.loads(keyed("show", rid, "--json").output)
    assert shown["locked"] and shown["title"] == ""
    r = keyed("get", rid, "-o", tmp_path / "out", ok=False)
    assert r.exit_code == 12 and "locked" in r.output and "dangan volume unlock V" in r.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unlocked_records_round_trip_and_open(keyed, archive_root, tmp_path):
    src = tmp_path / FILENAME
    src.write_text(f"正文 {MARK_ASCII}", encoding="utf-8")
    rid = ingest(keyed, src, "--title", TITLE, "--meta", "party=甲方")["record_id"]
    keyed("volume", "unlock", "V")
    shown = json.loads(keyed("show", rid, "--json").output)
    assert shown["title"] == TITLE and shown["metadata"]["party"] == "甲方" and not shown["locked"]
    keyed("get", rid, "-o", tmp_path / "out")
    assert (tmp_path / "out" / FILENAME).read_bytes() == src.read_bytes()
    keyed("check")


def test_wrong_passphrase_changes_nothing(keyed, archive_root, monkeypatch):
    keyed("volume", "lock")
    monkeypatch.setenv("DANGAN_PASSPHRASE", "wrong")
    r = keyed("volume", "unlock", "V", ok=False)
    assert r.exit_code == 12 and "passphrase" in r.output and "Traceback" not in r.output
    last = json.loads(keyed("audit", "log", "--json", "--limit", "1").output)
    assert (last["action"], last["outcome"]) == ("volume.unlock", "failure")
    assert PASS not in json.dumps(last) and "wrong" not in json.dumps(last["details"]).replace("wrong passphrase", "")


def test_a_missing_keystore_is_a_clear_error(keyed, archive_root, tmp_path):
    store = next((tmp_path / "home").rglob("*.json"))
    store.rename(store.with_suffix(".moved"))
    r = keyed("volume", "unlock", "V", ok=False)
    assert r.exit_code == 4 and "keystore" in r.output
    store.with_suffix(".moved").rename(store)


def test_a_corrupted_keystore_is_a_clear_error_and_is_not_rewritten(keyed, archive_root, tmp_path):
    store = next((tmp_path / "home").rglob("*.json"))
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2])
    r = keyed("volume", "unlock", "V", ok=False)
    assert r.exit_code in (6, 12) and "keystore" in r.output.lower()
    assert store.read_bytes() == data[: len(data) // 2]
    store.write_bytes(data)


def test_secret_records_outside_confidential_volumes_are_refused(keyed, tmp_path):
    src = tmp_path / "s.txt"
    src.write_text("x", encoding="utf-8")
    r = keyed("ingest", src, "--secrecy", "secret", ok=False)
    assert "confidential volume" in r.output
    keyed("volume", "create", "TS", "--secrecy", "top-secret")
    r = keyed("ingest", src, "--volume", "TS", "--secrecy", "secret", ok=False)
    assert "top-secret" in r.output
    r = keyed("ingest", src, "--volume", "V", "--secrecy", "top-secret", ok=False)
    assert "top-secret" in r.output
    assert keyed("ls", "--json").output == ""


def grep(marker: str, roots: list[Path]) -> list[str]:
    forms = {marker.encode("utf-8"), marker.encode("utf-16-le"), marker.encode("utf-16-be")}
    try:
        forms.add(marker.encode("gbk"))
    except UnicodeEncodeError:
        pass
    found = []
    for root in roots:
        for p in root.rglob("*") if root.is_dir() else [root]:
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                found += [f"{p}: {f!r}" for f in forms if f in data]
    return found


def test_no_plaintext_anywhere(keyed, archive_root, tmp_path, monkeypatch):
    """Markers in content (UTF-8 and GBK), title and file name never reach archive, index, SQLite, temp or logs."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    utf8 = src_dir / FILENAME
    utf8.write_text(f"机密合同 {MARK_ASCII} {MARK_CN}\n" * 50, encoding="utf-8")
    gbk = src_dir / "gbk-note.txt"
    gbk.write_bytes(f"备忘 {MARK_CN} {MARK_ASCII}\n".encode("gbk"))
    a = ingest(keyed, utf8, "--title", TITLE)["record_id"]
    ingest(keyed, gbk, "--title", TITLE + "2")
    keyed("volume", "unlock", "V")
    hits = [json.loads(line) for line in keyed("search", MARK_ASCII, "--json").output.splitlines()]
    assert {h["record_id"] for h in hits} >= {a}, "search inside the unlocked volume finds the marker"
    keyed("volume", "lock", "V")
    keyed("volume", "unlock", "V")
    revised = src_dir / "rev.txt"
    revised.write_text(f"修订 {MARK_ASCII} {MARK_CN}", encoding="utf-8")
    keyed("revise", a, revised, "-m", "amended")
    keyed("get", a, "-o", tmp_path / "export")
    assert MARK_ASCII in (tmp_path / "export" / "rev.txt").read_text(encoding="utf-8")
    from dangan.core.archive import Archive
    from dangan.core.destruction import destroy_record
    arch = Archive(archive_root)
    destroy_record(arch, a, reason="retention expired")
    arch.close()
    roots = [archive_root, tmpdir]
    for marker in (MARK_ASCII, MARK_CN, "TITLEMARK", "机密标题", "FNAMEMARK", "秘密文件"):
        assert grep(marker, roots) == [], marker
    for p in archive_root.glob("catalogue.sqlite*"):
        assert grep(MARK_ASCII, [p]) == []
