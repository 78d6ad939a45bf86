"""The keystore: KEK unlock, volume and record keys, corruption, concurrency, shredding, rotation, export."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dangan.errors import CryptoError, IntegrityError, NotFound, UsageError
from dangan.repository import keystore_file, keystore_kek
from dangan.repository.crypto import Binding, decrypt_bytes, encrypt_bytes
from dangan.repository.keystore import CopiesOutOfDate, Keystore
from dangan.repository.keystore_kek import Kek
from conftest import REPO  # noqa: E402

AID = "archive-0001"
PW = b"correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2id/scrypt, cheaper parameters (one test keeps the defaults)."""
    monkeypatch.setattr(keystore_kek, "ARGON2_PARAMS", {"iterations": 1, "memory_kib": 8 * 1024, "lanes": 1})


@pytest.fixture
def ks_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keystore.json"


@pytest.fixture
def ks(ks_path: Path) -> Keystore:
    return Keystore.create(ks_path, AID, passphrase=PW)


def rewrite(path: Path, change) -> None:
    """Edit the keystore's JSON and recompute its checksum: tampering by someone who knows the format."""
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_bytes(keystore_file.encode(doc))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# -- create, open, unlock -----------------------------------------------------
def test_create_open_unlock_with_passphrase(ks: Keystore, ks_path: Path) -> None:
    assert keystore_kek.argon2_available()  # this build of cryptography has it
    again = Keystore.open(ks_path, AID)
    assert again.kdf_name == "argon2id"
    assert again.kdf_params == {"iterations": 1, "memory_kib": 8192, "lanes": 1}
    doc = json.loads(ks_path.read_bytes())
    assert doc["kek"]["kdf"] == "argon2id" and len(keystore_kek.unb64(doc["kek"]["salt"], "salt")) == 16
    kek = again.unlock_kek(passphrase=PW)
    vid_pub = again.create_volume("vol-1", kek)
    assert len(vid_pub) == 32 and again.volume_public_key("vol-1") == vid_pub
    assert PW not in ks_path.read_bytes()


def test_default_parameters_are_recorded(ks_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert keystore_kek.ARGON2_PARAMS == {"iterations": 3, "memory_kib": 131072, "lanes": 4}
    ks = Keystore.create(ks_path, AID, passphrase=PW)
    assert ks.kdf_name == "argon2id" and ks.kdf_params == keystore_kek.ARGON2_PARAMS
    ks.unlock_kek(passphrase=PW)


def test_no_scrypt_fallback_when_argon2id_is_missing(ks_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 11.17: a build without Argon2id used to fall back to scrypt silently; now it is an explicit error
    monkeypatch.setattr(keystore_kek, "argon2_available", lambda: False)
    with pytest.raises(CryptoError, match="cryptography>=44"):
        Keystore.create(ks_path, AID, passphrase=PW)
    assert not ks_path.exists()


def test_argon2_keystore_on_a_build_without_it(ks: Keystore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystore_kek, "argon2_available", lambda: False)
    with pytest.raises(CryptoError, match="Argon2id"):
        ks.unlock_kek(passphrase=PW)


def test_keyfile(tmp_path: Path, ks_path: Path) -> None:
    keyfile, other = tmp_path / "kek.bin", tmp_path / "other.bin"
    keyfile.write_bytes(os.urandom(64))
    other.write_bytes(os.urandom(64))
    ks = Keystore.create(ks_path, AID, keyfile=keyfile)
    assert ks.kdf_name == "hkdf-sha256"
    kek = Keystore.open(ks_path, AID).unlock_kek(keyfile=keyfile)
    pub = ks.create_volume("v", kek)
    assert ks.volume_public_key("v") == pub
    with pytest.raises(CryptoError, match="wrong key file"):
        ks.unlock_kek(keyfile=other)
    with pytest.raises(UsageError, match="key file, not a passphrase"):
        ks.unlock_kek(passphrase=PW)
    (tmp_path / "short").write_bytes(b"x" * 31)
    with pytest.raises(UsageError, match="32 bytes"):
        Keystore.create(tmp_path / "k2.json", AID, keyfile=tmp_path / "short")


def test_wrong_passphrase_changes_nothing(ks: Keystore, ks_path: Path) -> None:
    before = snapshot(ks_path.parent)
    with pytest.raises(CryptoError) as ei:
        ks.unlock_kek(passphrase=b"correct horse battery stapler")
    assert ei.value.message == "wrong passphrase"
    assert snapshot(ks_path.parent) == before


def test_bad_arguments(ks: Keystore, ks_path: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="exactly one"):
        Keystore.create(tmp_path / "x.json", AID)
    with pytest.raises(UsageError, match="exactly one"):
        ks.unlock_kek(passphrase=PW, keyfile=tmp_path / "k")
    with pytest.raises(UsageError, match="non-empty"):
        Keystore.create(tmp_path / "x.json", AID, passphrase=b"")
    with pytest.raises(UsageError, match="already exists"):
        Keystore.create(ks_path, AID, passphrase=PW)


def test_missing_keystore(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as ei:
        Keystore.open(tmp_path / "nowhere.json", AID)
    assert "no keystore at" in ei.value.message and "$DANGAN_KEYSTORE" in ei.value.message


def test_file_mode_and_no_leftovers(ks: Keystore, ks_path: Path, tmp_path: Path) -> None:
    kek = ks.unlock_kek(passphrase=PW)
    ks.create_volume("v", kek)
    ks.add_copy(tmp_path / "escrow.json")
    for p in (ks_path, tmp_path / "escrow.json", ks_path.with_name("keystore.json.lock")):
        assert p.stat().st_mode & 0o777 == 0o600, p
    assert sorted(p.name for p in ks_path.parent.iterdir()) == ["keystore.json", "keystore.json.lock"]


def test_kek_is_not_shown_or_pickled(ks: Keystore) -> None:
    kek = ks.unlock_kek(passphrase=PW)
    assert "secret" in repr(kek) and kek.material().hex() not in repr(kek)
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    with kek:
        ks.create_volume("v", kek)
    with pytest.raises(UsageError, match="dropped"):
        ks.volume_private_key("v", kek)


# -- corruption ---------------------------------------------------------------
@pytest.fixture
def filled(ks: Keystore) -> tuple[Keystore, bytes]:
    kek = ks.unlock_kek(passphrase=PW)
    ks.create_volume("v", kek)
    ks.add_record_key("v", "r1")
    ks.add_record_key("v", "r2")
    return ks, ks.volume_private_key("v", kek)


def test_truncated_json(filled, ks_path: Path) -> None:
    ks_path.write_bytes(ks_path.read_bytes()[:-40])
    before = snapshot(ks_path.parent)
    with pytest.raises(IntegrityError, match="not valid JSON"):
        Keystore.open(ks_path, AID)
    ks, _ = filled
    with pytest.raises(IntegrityError):
        ks.add_record_key("v", "r3")
    assert snapshot(ks_path.parent) == before


def test_flipped_byte_in_wrapped_key_is_caught_by_the_checksum(filled, ks_path: Path) -> None:
    raw = ks_path.read_bytes()
    doc = json.loads(raw)
    wrapped = doc["records"]["r1"]["wrapped_key"].encode()
    i = raw.index(wrapped) + 5
    ks_path.write_bytes(raw[:i] + (b"A" if raw[i:i + 1] != b"A" else b"B") + raw[i + 1:])
    before = snapshot(ks_path.parent)
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        Keystore.open(ks_path, AID)
    ks, priv = filled
    with pytest.raises(IntegrityError):
        ks.record_key("r1", priv)
    assert snapshot(ks_path.parent) == before


def test_flipped_byte_with_checksum_recomputed_is_caught_by_the_aead(filled, ks_path: Path) -> None:
    ks, priv = filled

    def flip(doc):
        raw = bytearray(keystore_kek.unb64(doc["records"]["r1"]["wrapped_key"], "k"))
        raw[3] ^= 0x40
        doc["records"]["r1"]["wrapped_key"] = keystore_kek.b64(bytes(raw))

    rewrite(ks_path, flip)
    with pytest.raises(IntegrityError, match="record r1 fails authentication"):
        Keystore.open(ks_path, AID).record_key("r1", priv)
    assert len(ks.record_key("r2", priv)) == 32


def test_swapped_record_entries(filled, ks_path: Path) -> None:
    ks, priv = filled
    k1, k2 = ks.record_key("r1", priv), ks.record_key("r2", priv)
    assert k1 != k2

    def swap(doc):
        r = doc["records"]
        r["r1"], r["r2"] = r["r2"], r["r1"]

    rewrite(ks_path, swap)
    for rid in ("r1", "r2"):
        with pytest.raises(IntegrityError, match=f"record {rid} fails authentication"):
            ks.record_key(rid, priv)


def test_substituted_public_key_is_detected_on_unlock(filled, ks_path: Path) -> None:
    from dangan.repository.keystore_wrap import new_key_pair

    ks, _ = filled
    _, attacker_pub = new_key_pair()
    rewrite(ks_path, lambda doc: doc["volumes"]["v"].update(public_key=keystore_kek.b64(attacker_pub)))
    with pytest.raises(IntegrityError, match="volume v"):
        ks.volume_private_key("v", ks.unlock_kek(passphrase=PW))


def test_keystore_of_another_archive(filled, ks_path: Path) -> None:
    with pytest.raises(IntegrityError, match="belongs to archive"):
        Keystore.open(ks_path, "another-archive")


def test_malformed_content(filled, ks_path: Path) -> None:
    rewrite(ks_path, lambda doc: doc["records"]["r1"].pop("wrapped_key"))
    with pytest.raises(IntegrityError, match="malformed"):
        Keystore.open(ks_path, AID)


# -- volumes and records ------------------------------------------------------
def test_volume_and_record_keys(ks: Keystore, ks_path: Path) -> None:
    kek = ks.unlock_kek(passphrase=PW)
    pub = ks.create_volume("v", kek)
    with pytest.raises(UsageError, match="already has keys"):
        ks.create_volume("v", kek)
    locked = Keystore.open(ks_path, AID)  # a scanner: no passphrase
    key = locked.add_record_key("v", "rec-1")
    assert len(key) == 32 and locked.record_volume("rec-1") == "v"
    with pytest.raises(UsageError, match="already has a key"):
        locked.add_record_key("v", "rec-1")
    priv = ks.volume_private_key("v", kek)
    from dangan.repository.keystore_wrap import public_of

    assert public_of(priv) == pub
    assert ks.record_key("rec-1", priv) == key  # the other handle sees the new key
    assert key.hex() not in ks_path.read_text() and priv.hex() not in ks_path.read_text()
    with pytest.raises(NotFound):
        ks.record_key("rec-unknown", priv)
    with pytest.raises(NotFound):
        ks.volume_public_key("nope")
    with pytest.raises(NotFound):
        ks.add_record_key("nope", "rec-2")
    other = ks.create_volume("w", kek)
    assert other != pub
    with pytest.raises(CryptoError, match="does not belong to volume v"):
        ks.record_key("rec-1", ks.volume_private_key("w", kek))
    assert ks.volumes() == ["v", "w"] and ks.records("v") == ["rec-1"]


CONCURRENT = textwrap.dedent("""
    import sys
    from dangan.repository.keystore import Keystore
    ks = Keystore.open(sys.argv[1], sys.argv[2])
    for i in range(int(sys.argv[4])):
        print(f"{sys.argv[3]}-{i}", ks.add_record_key("v", f"{sys.argv[3]}-{i}").hex(), flush=True)
""")


def test_concurrent_adds_from_two_processes(ks: Keystore, ks_path: Path) -> None:
    kek = ks.unlock_kek(passphrase=PW)
    ks.create_volume("v", kek)
    root = REPO
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(ks_path), AID, name, "60"],
                              stdout=subprocess.PIPE, text=True, cwd=root) for name in ("a", "b")]
    keys = {}
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        keys.update(line.split() for line in out.splitlines())
    assert len(keys) == 120
    priv = ks.volume_private_key("v", kek)
    fresh = Keystore.open(ks_path, AID)
    assert len(fresh.records("v")) == 120
    for rid, hexkey in keys.items():
        assert fresh.record_key(rid, priv).hex() == hexkey


# -- shredding ----------------------------------------------------------------
def test_shred_record_reaches_every_copy(filled, ks_path: Path, tmp_path: Path) -> None:
    ks, priv = filled
    escrow = tmp_path / "escrow" / "ks.json"
    escrow.parent.mkdir()
    ks.add_copy(escrow)
    assert ks.copies == [escrow]
    wrapped = json.loads(ks_path.read_bytes())["records"]["r1"]["wrapped_key"]
    assert wrapped in escrow.read_text()
    ks.shred_record("r1")
    for path in (ks_path, escrow):
        assert wrapped not in path.read_text()
        copy = Keystore.open(path, AID)
        with pytest.raises(CryptoError, match="record r1 was destroyed on .*can never be read again"):
            copy.record_key("r1", priv)
        assert copy.destroyed("r1") and copy.destroyed("r2") is None
        assert copy.record_volume("r1") == "v"
        assert len(copy.record_key("r2", priv)) == 32
    with pytest.raises(NotFound):
        ks.record_key("never-existed", priv)
    with pytest.raises(NotFound):
        ks.shred_record("never-existed")
    with pytest.raises(UsageError, match="destroyed"):
        ks.add_record_key("v", "r1")  # a destroyed id is never reused


def test_shred_with_an_unreachable_copy(filled, ks_path: Path, tmp_path: Path) -> None:
    ks, priv = filled
    disk = tmp_path / "usb"
    disk.mkdir()
    ks.add_copy(disk / "ks.json")
    wrapped = json.loads(ks_path.read_bytes())["records"]["r1"]["wrapped_key"]
    (disk / "ks.json").rename(tmp_path / "unplugged.json")
    disk.rmdir()  # the escrow disk is unplugged
    with pytest.raises(CopiesOutOfDate) as ei:
        ks.shred_record("r1")
    assert ei.value.paths == [disk / "ks.json"] and "still hold" in ei.value.message
    assert wrapped not in ks_path.read_text()
    assert not disk.exists()  # never created on the missing mount point
    disk.mkdir()
    (tmp_path / "unplugged.json").rename(disk / "ks.json")  # plugged back in, stale
    assert wrapped in (disk / "ks.json").read_text()
    ks.sync_copies()
    assert wrapped not in (disk / "ks.json").read_text()
    with pytest.raises(CryptoError, match="destroyed"):
        Keystore.open(disk / "ks.json", AID).record_key("r1", priv)


def test_shred_volume(filled, ks_path: Path) -> None:
    ks, priv = filled
    kek = ks.unlock_kek(passphrase=PW)
    ks.shred_volume("v")
    with pytest.raises(CryptoError, match="volume v were destroyed"):
        ks.volume_private_key("v", kek)
    with pytest.raises(CryptoError, match="record r2 was destroyed"):
        ks.record_key("r2", priv)
    doc = json.loads(ks_path.read_bytes())
    assert doc["volumes"] == {} and doc["records"] == {}
    assert set(doc["destroyed"]["records"]) == {"r1", "r2"}
    with pytest.raises(UsageError):
        ks.create_volume("v", kek)


# -- rotation, KEK change, export ---------------------------------------------
def test_rotate_keeps_record_keys(filled, ks_path: Path) -> None:
    ks, old_priv = filled
    kek = ks.unlock_kek(passphrase=PW)
    before = {r: ks.record_key(r, old_priv) for r in ("r1", "r2")}
    b = Binding("v", "r1", 1, "content-1")
    blob = encrypt_bytes(b"minutes of the meeting", before["r1"], b)
    old_pub = ks.volume_public_key("v")
    old_entries = json.loads(ks_path.read_bytes())["records"]
    new_pub = ks.rotate_volume("v", kek)
    assert new_pub != old_pub and ks.volume_public_key("v") == new_pub
    new_priv = ks.volume_private_key("v", kek)
    assert new_priv != old_priv
    after = {r: ks.record_key(r, new_priv) for r in ("r1", "r2")}
    assert after == before
    assert decrypt_bytes(blob, after["r1"], b) == b"minutes of the meeting"
    entries = json.loads(ks_path.read_bytes())["records"]
    assert all(entries[r]["wrapped_key"] != old_entries[r]["wrapped_key"] for r in entries)
    with pytest.raises(CryptoError, match="rotated"):
        ks.record_key("r1", old_priv)
    assert json.loads(ks_path.read_bytes())["volumes"]["v"]["generation"] == 2


def test_change_kek(filled, ks_path: Path, tmp_path: Path) -> None:
    ks, priv = filled
    kek = ks.unlock_kek(passphrase=PW)
    ks.change_kek(kek, passphrase=b"a new passphrase")
    with pytest.raises(CryptoError, match="wrong passphrase"):
        ks.unlock_kek(passphrase=PW)
    with pytest.raises(CryptoError, match="unlock again"):
        ks.volume_private_key("v", kek)  # the old KEK is no longer the keystore's
    new = Keystore.open(ks_path, AID).unlock_kek(passphrase=b"a new passphrase")
    assert ks.volume_private_key("v", new) == priv
    keyfile = tmp_path / "kek.bin"
    keyfile.write_bytes(os.urandom(32))
    ks.change_kek(new, keyfile=keyfile)
    assert ks.kdf_name == "hkdf-sha256"
    assert ks.volume_private_key("v", ks.unlock_kek(keyfile=keyfile)) == priv


def test_export(filled, ks_path: Path, tmp_path: Path) -> None:
    ks, priv = filled
    kek = ks.unlock_kek(passphrase=PW)
    ks.create_volume("w", kek)
    ks.add_record_key("w", "w1")
    ks.shred_record("r2")
    dest = tmp_path / "escrow" / "export.json"
    ks.export(dest, ["v"], kek, passphrase=b"escrow passphrase")
    assert dest.stat().st_mode & 0o777 == 0o600
    exported = Keystore.open(dest, AID)
    with pytest.raises(CryptoError, match="wrong passphrase"):
        exported.unlock_kek(passphrase=PW)
    ekek = exported.unlock_kek(passphrase=b"escrow passphrase")
    assert exported.volumes() == ["v"] and exported.copies == []
    assert exported.volume_private_key("v", ekek) == priv
    assert exported.record_key("r1", priv) == ks.record_key("r1", priv)
    assert exported.destroyed("r2")
    with pytest.raises(NotFound):
        exported.record_key("w1", priv)
    with pytest.raises(UsageError, match="overwrite"):
        ks.export(dest, None, kek, passphrase=b"x")
    everything = tmp_path / "all.json"
    ks.export(everything, None, kek, passphrase=b"x")
    assert Keystore.open(everything, AID).volumes() == ["v", "w"]


def test_kek_type() -> None:
    assert Kek(b"\x01" * 32, b"c").material() == b"\x01" * 32
