"""Confidential volumes: sealed at rest, readable only while unlocked, and no plaintext anywhere."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from leak_helpers import grep

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
    keyed("check", "--decrypt")
    keyed("volume", "lock")
    locked = keyed("check", "--decrypt", "--json", ok=False)
    assert locked.exit_code == 6 and "locked" in locked.output


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
    from dangan.core.management.destruction import destroy_record
    arch = Archive(archive_root)
    destroy_record(arch, a, reason="retention expired")
    arch.close()
    roots = [archive_root, tmpdir]
    for marker in (MARK_ASCII, MARK_CN, "TITLEMARK", "机密标题", "FNAMEMARK", "秘密文件"):
        assert grep(marker, roots) == [], marker
    for p in archive_root.glob("catalogue.sqlite*"):
        assert grep(MARK_ASCII, [p]) == []


def corpus_files():
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and "LICENSES" not in p.parts
                  and p.name not in ("MANIFEST.tsv", "README.md") and p.stat().st_size > 0)


def test_every_corpus_file_round_trips_through_a_confidential_volume(keyed, archive_root, tmp_path):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.core.store.retrieval import get_files
    keyed("volume", "unlock", "V")
    a = Archive(archive_root, Actor("tester", "tester"))
    ingestor = Ingestor(a, allow_duplicate=True)          # content round-trip: extraction is tested elsewhere
    pairs = [(src, ingestor.ingest(src, RecordFields(volume="V")).id) for src in corpus_files()]
    for src, rid in pairs:
        out = tmp_path / "out" / rid
        (written,) = get_files(a, rid, out)
        assert written.name == src.name and written.read_bytes() == src.read_bytes(), src
    a.close()
    keyed("check")


def test_crypto_shredding_makes_old_ciphertext_unreadable(keyed, archive_root, tmp_path):
    import shutil
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    from dangan.core.confidential.sealing import record_key
    from dangan.errors import CryptoError
    src = tmp_path / "x.txt"
    src.write_text("将被销毁 " + MARK_ASCII, encoding="utf-8")
    rid = ingest(keyed, src)["record_id"]
    keyed("volume", "unlock", "V")
    from dangan.core.kernel.actor import Actor
    a = Archive(archive_root, Actor("tester", "tester"))     # the unlock is tester's (issue 11.5)
    rec = a.record(rid)
    stored = a.store.files(rid)
    old_copy = tmp_path / "old-backup-of-object"
    shutil.copytree(a.store.object_path(rid), old_copy)        # as an earlier backup would hold it
    destroy_record(a, rid, reason="test")
    a.close()
    b = Archive(archive_root, Actor("tester", "tester"))
    with pytest.raises(CryptoError, match="destroyed"):
        record_key(b, rec)
    b.close()
    assert any(MARK_ASCII.encode() not in p.read_bytes() for p in old_copy.rglob("*") if p.is_file())
    assert stored


def test_rotate_key_rewraps_only(keyed, archive_root, tmp_path):
    from dangan.core.archive import Archive
    src = tmp_path / "r.txt"
    src.write_text("轮换 " + MARK_ASCII, encoding="utf-8")
    rid = ingest(keyed, src)["record_id"]
    a = Archive(archive_root)
    obj = a.store.object_path(rid)
    before = {p.relative_to(obj): p.read_bytes() for p in obj.rglob("*") if p.is_file()}
    a.close()
    keyed("volume", "rotate-key", "V")
    after = {p.relative_to(obj): p.read_bytes() for p in obj.rglob("*") if p.is_file()}
    assert before == after, "rotation leaves ciphertext untouched"
    keyed("volume", "lock")
    keyed("volume", "unlock", "V")
    keyed("get", rid, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "r.txt").read_bytes() == src.read_bytes()
    actions = [json.loads(line)["action"] for line in keyed("audit", "log", "--json").output.splitlines()]
    assert "volume.rotate-key" in actions


def test_export_key_gives_an_escrow_copy(keyed, archive_root, tmp_path, monkeypatch):
    from dangan.repository.keystore import Keystore
    monkeypatch.setenv("DANGAN_EXPORT_PASSPHRASE", "escrow pass")
    dest = tmp_path / "escrow.json"
    keyed("volume", "export-key", "V", "--to", dest)
    import tomllib
    aid = tomllib.loads((archive_root / "dangan.toml").read_text(encoding="utf-8"))["archive"]["id"]
    ks = Keystore.open(dest, aid)
    kek = ks.unlock_kek(passphrase=b"escrow pass")
    assert ks.volumes() and all(len(ks.volume_private_key(v, kek)) == 32 for v in ks.volumes())


def test_the_passphrase_can_come_from_a_file_descriptor(keyed, archive_root, monkeypatch):
    import os as _os
    monkeypatch.delenv("DANGAN_PASSPHRASE")
    r, w = _os.pipe()
    _os.write(w, PASS.encode() + b"\n")
    _os.close(w)
    keyed("volume", "unlock", "V", "--passphrase-fd", str(r))
    _os.close(r)
    assert "until" in keyed("volume", "list").output


@pytest.mark.slow
def test_a_3_gib_sparse_file_round_trips_in_bounded_memory(keyed, archive_root, tmp_path):
    import sys
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(3 * 1024 ** 3)
        fh.seek(1024 ** 3)
        fh.write(b"MIDDLE")
    keyed("volume", "unlock", "V")
    code = (
        "import resource, sys, json; from pathlib import Path\n"
        "from dangan.core.archive import Archive\nfrom dangan.core.catalogue.fields import RecordFields\n"
        "from dangan.core.store.ingest import Ingestor\nfrom dangan.core.store.retrieval import get_files\n"
        f"a = Archive(Path({str(archive_root)!r}))\n"
        f"rec = Ingestor(a).ingest(Path({str(big)!r}), RecordFields(volume='V'))\n"
        f"get_files(a, rec.id, Path({str(tmp_path / 'out')!r}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[-1]) < 400 * 1024, "peak RSS stays far below the file size"
    import filecmp
    assert filecmp.cmp(big, tmp_path / "out" / "big.bin", shallow=False)


def test_a_sealed_record_that_names_no_volume_is_damage_not_a_missing_volume(keyed, archive_root, tmp_path):
    """Found by mypy (Record.volume is Optional): such a record used to be refused as "no volume None",
    with advice to run `dangan volume create None`."""
    import sqlite3
    src = tmp_path / "sealed.txt"
    src.write_text(f"正文 {MARK_ASCII}", encoding="utf-8")
    rid = ingest(keyed, src)["record_id"]
    keyed("volume", "unlock", "V")
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    with conn:
        conn.execute("UPDATE records SET volume = NULL WHERE id = ?", (rid,))     # the damage
    conn.close()
    r = keyed("get", rid, "-o", tmp_path / "out", ok=False)
    assert r.exit_code == 6, r.output
    assert f"record {rid} has sealed fields but names no volume" in r.output and "volume create" not in r.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
