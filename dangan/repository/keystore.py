"""The keystore: keys of confidential volumes, kept outside the archive.

Each confidential volume has an X25519 key pair.  Its public key is stored in
clear, so records can be filed into the volume while it is locked (a scanner
drop folder); its private key is wrapped under the key-encryption key (KEK),
derived from a passphrase or a key file (``keystore_kek``).  Each record has
its own random 32-byte record key, wrapped to the volume's public key like
an age X25519 stanza (``keystore_wrap``).  Record keys live only here, never
in the archive: destroying one (crypto-shredding) makes the record's
ciphertext unreadable everywhere, old archive backups included.

Layout (``dangan-keystore/1``, JSON, mode 0600; see ``keystore_file`` for the
checksum and atomic writes)::

    format       "dangan-keystore/1"
    archive_id   the archive this keystore belongs to
    kek          {type, kdf, salt, params, check}
    volumes      {volume_id: {public_key, wrapped_private_key, generation, created, rotated}}
    records      {record_id: {volume, ephemeral, wrapped_key, created}}
    destroyed    {volumes: {id: {destroyed}}, records: {id: {volume, destroyed}}}
    copies       [absolute paths of registered copies]
    sha256       checksum of everything else

Every change is a read-modify-write under an ``flock`` on ``<path>.lock``:
the file is re-read under the lock, so concurrent processes never lose each
other's keys.  Every save writes the main file and then each registered copy
in full (atomically); a copy that cannot be written is brought up to date by
the next save.  Shredding raises :class:`CopiesOutOfDate` when a copy could
not be reached, because until then that copy still holds the key.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CryptoError, IntegrityError, NotFound, UsageError
from . import keystore_file as kf
from .crypto import new_key
from .keystore_kek import Kek, argon2_available, b64, new_spec, require_current, unb64, unlock
from .keystore_wrap import (
    new_key_pair,
    require_pair,
    unwrap_record_key,
    unwrap_volume_private,
    wrap_record_key,
    wrap_volume_private,
)

__all__ = ["Keystore", "Kek", "CopiesOutOfDate", "argon2_available"]

log = logging.getLogger(__name__)


class CopiesOutOfDate(CryptoError):
    """The keystore was saved, but some registered copies could not be written."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 512:
        raise UsageError(f"a {what} id must be a non-empty string")
    return value


def _validate(doc: dict[str, Any], path: Path, archive_id: str) -> None:
    """Check the shape of a decoded keystore; IntegrityError if anything is off."""
    if doc.get("archive_id") != archive_id:
        raise IntegrityError(f"keystore at {path} belongs to archive {doc.get('archive_id')!r}, not {archive_id!r}")
    ok = (isinstance(doc.get("kek"), dict) and isinstance(doc.get("volumes"), dict)
          and isinstance(doc.get("records"), dict) and isinstance(doc.get("copies"), list)
          and isinstance(doc.get("destroyed"), dict)
          and isinstance(doc["destroyed"].get("volumes"), dict) and isinstance(doc["destroyed"].get("records"), dict))
    if ok:
        ok = all(isinstance(v, dict) and {"public_key", "wrapped_private_key"} <= v.keys()
                 for v in doc["volumes"].values())
        ok = ok and all(isinstance(r, dict) and {"volume", "ephemeral", "wrapped_key"} <= r.keys()
                        and r["volume"] in doc["volumes"] for r in doc["records"].values())
        ok = ok and all(isinstance(c, str) for c in doc["copies"])
    if not ok:
        raise IntegrityError(f"keystore at {path} is damaged (malformed content)")


class Keystore:
    """Keys of one archive's confidential volumes.  Build with :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, archive_id: str, doc: dict[str, Any], stamp: kf.Stamp) -> None:
        self.path = path
        self.archive_id = archive_id
        self._doc = doc
        self._stamp = stamp
        self.stale_copies: list[Path] = []

    # -- opening --------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, archive_id: str, *, passphrase: bytes | None = None,
               keyfile: Path | None = None) -> "Keystore":
        path = Path(path).absolute()
        _id(archive_id, "archive")
        spec, kek = new_spec(archive_id, passphrase=passphrase, keyfile=keyfile)
        kek.wipe()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {"format": kf.FORMAT, "archive_id": archive_id, "created": _now(), "kek": spec, "volumes": {},
               "records": {}, "destroyed": {"volumes": {}, "records": {}}, "copies": []}
        with kf.locked(path):
            if path.exists():
                raise UsageError(f"a keystore already exists at {path}")
            kf.write_atomic(path, kf.encode(doc))
        return cls.open(path, archive_id)

    @classmethod
    def open(cls, path: Path, archive_id: str) -> "Keystore":
        path = Path(path).absolute()
        doc, stamp = kf.read(path)
        _validate(doc, path, archive_id)
        return cls(path, archive_id, doc, stamp)

    def _current(self) -> dict[str, Any]:
        """The keystore as on disk now (re-read only when the file changed)."""
        try:
            changed = kf.stamp(self.path) != self._stamp
        except FileNotFoundError:
            raise NotFound(f"no keystore at {self.path}: create a volume or set $DANGAN_KEYSTORE") from None
        if changed:
            doc, stamp = kf.read(self.path)
            _validate(doc, self.path, self.archive_id)
            self._doc, self._stamp = doc, stamp
        return self._doc

    @contextmanager
    def _edit(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under the lock; nothing is written if the body raises."""
        with kf.locked(self.path):
            doc, _ = kf.read(self.path)  # a fresh object to change
            _validate(doc, self.path, self.archive_id)
            yield doc
            data = kf.encode(doc)
            kf.write_atomic(self.path, data)
            self._doc, self._stamp = doc, kf.stamp(self.path)
            self.stale_copies = self._write_copies(doc, data)

    def _write_copies(self, doc: dict[str, Any], data: bytes) -> list[Path]:
        stale = []
        for copy in doc["copies"]:
            p = Path(copy)
            try:
                if not p.parent.is_dir():  # never create folders on an unmounted disk's mount point
                    raise FileNotFoundError(f"folder {p.parent} is missing")
                kf.write_atomic(p, data)
            except OSError as exc:
                log.warning("keystore copy %s could not be written: %s", p, exc.strerror or exc)
                stale.append(p)
        return stale

    def _require_copies_reached(self, what: str) -> None:
        if self.stale_copies:
            paths = ", ".join(map(str, self.stale_copies))
            raise CopiesOutOfDate(f"{what} in {self.path}, but not yet in its copies {paths}: they still hold the "
                                  "key until they are reachable and the keystore is saved again (sync_copies)",
                                  list(self.stale_copies))

    # -- the KEK --------------------------------------------------------------
    @property
    def kdf_name(self) -> str:
        """The KDF that protects the KEK: ``argon2id``, ``scrypt`` or ``hkdf-sha256`` (key file)."""
        return str(self._current()["kek"]["kdf"])

    @property
    def kdf_params(self) -> dict[str, Any]:
        return dict(self._current()["kek"].get("params", {}))

    def unlock_kek(self, *, passphrase: bytes | None = None, keyfile: Path | None = None) -> Kek:
        return unlock(self._current()["kek"], self.archive_id, passphrase=passphrase, keyfile=keyfile)

    def change_kek(self, kek: Kek, *, passphrase: bytes | None = None, keyfile: Path | None = None) -> None:
        """Protect the keystore with a new passphrase or key file: volume private keys are re-wrapped."""
        spec, new = new_spec(self.archive_id, passphrase=passphrase, keyfile=keyfile)
        try:
            with self._edit() as doc:
                require_current(kek, doc["kek"])
                for vid, vol in doc["volumes"].items():
                    pub = unb64(vol["public_key"], "a public key")
                    priv = self._unwrap_private(vol, vid, kek)
                    vol["wrapped_private_key"] = b64(wrap_volume_private(priv, pub, new, self.archive_id, vid))
                doc["kek"] = spec
        finally:
            new.wipe()

    # -- volumes --------------------------------------------------------------
    def volumes(self) -> list[str]:
        return sorted(self._current()["volumes"])

    def _volume(self, doc: dict[str, Any], volume_id: str) -> dict[str, Any]:
        vol = doc["volumes"].get(volume_id)
        if vol is None:
            gone = doc["destroyed"]["volumes"].get(volume_id)
            if gone:
                raise CryptoError(f"the keys of volume {volume_id} were destroyed on {gone['destroyed']}")
            raise NotFound(f"volume {volume_id} has no keys in the keystore at {self.path}")
        return vol

    def _unwrap_private(self, vol: dict[str, Any], volume_id: str, kek: Kek) -> bytes:
        return unwrap_volume_private(unb64(vol["wrapped_private_key"], "a wrapped key"),
                                     unb64(vol["public_key"], "a public key"), kek, self.archive_id, volume_id)

    def create_volume(self, volume_id: str, kek: Kek) -> bytes:
        _id(volume_id, "volume")
        with self._edit() as doc:
            require_current(kek, doc["kek"])
            if volume_id in doc["volumes"] or volume_id in doc["destroyed"]["volumes"]:
                raise UsageError(f"volume {volume_id} already has keys (or had them, destroyed)")
            priv, pub = new_key_pair()
            doc["volumes"][volume_id] = {
                "public_key": b64(pub), "generation": 1, "created": _now(), "rotated": None,
                "wrapped_private_key": b64(wrap_volume_private(priv, pub, kek, self.archive_id, volume_id))}
        return pub

    def volume_public_key(self, volume_id: str) -> bytes:
        return unb64(self._volume(self._current(), volume_id)["public_key"], "a public key")

    def volume_private_key(self, volume_id: str, kek: Kek) -> bytes:
        doc = self._current()
        require_current(kek, doc["kek"])
        return self._unwrap_private(self._volume(doc, volume_id), volume_id, kek)

    def rotate_volume(self, volume_id: str, kek: Kek) -> bytes:
        """A new key pair; every record key re-wrapped to it (record keys, hence ciphertext, unchanged)."""
        with self._edit() as doc:
            require_current(kek, doc["kek"])
            vol = self._volume(doc, volume_id)
            old = self._unwrap_private(vol, volume_id, kek)
            priv, pub = new_key_pair()
            for rid, rec in doc["records"].items():
                if rec["volume"] == volume_id:
                    key = self._unwrap_record(rec, rid, old)
                    epk, body = wrap_record_key(key, pub, self.archive_id, volume_id, rid)
                    rec["ephemeral"], rec["wrapped_key"] = b64(epk), b64(body)
            vol.update(public_key=b64(pub), generation=int(vol.get("generation", 1)) + 1, rotated=_now(),
                       wrapped_private_key=b64(wrap_volume_private(priv, pub, kek, self.archive_id, volume_id)))
        return pub

    def shred_volume(self, volume_id: str) -> None:
        """Destroy the volume's private key and all its record keys, here and in every copy."""
        with self._edit() as doc:
            self._volume(doc, volume_id)
            now = _now()
            for rid in [r for r, rec in doc["records"].items() if rec["volume"] == volume_id]:
                del doc["records"][rid]
                doc["destroyed"]["records"][rid] = {"volume": volume_id, "destroyed": now}
            del doc["volumes"][volume_id]
            doc["destroyed"]["volumes"][volume_id] = {"destroyed": now}
        self._require_copies_reached(f"the keys of volume {volume_id} were destroyed")

    # -- records --------------------------------------------------------------
    def _record(self, doc: dict[str, Any], record_id: str) -> dict[str, Any]:
        rec = doc["records"].get(record_id)
        if rec is None:
            gone = doc["destroyed"]["records"].get(record_id)
            if gone:
                raise CryptoError(f"the key of record {record_id} was destroyed on {gone['destroyed']}: "
                                  "its content can never be read again")
            raise NotFound(f"record {record_id} has no key in the keystore at {self.path}")
        return rec

    def _unwrap_record(self, rec: dict[str, Any], record_id: str, volume_private: bytes) -> bytes:
        return unwrap_record_key(unb64(rec["ephemeral"], "an ephemeral key"), unb64(rec["wrapped_key"], "a wrapped key"),
                                 volume_private, self.archive_id, rec["volume"], record_id)

    def add_record_key(self, volume_id: str, record_id: str) -> bytes:
        """Make, wrap to the volume's public key and store a new record key; return it.  No KEK needed."""
        _id(record_id, "record")
        key = new_key()
        with self._edit() as doc:
            pub = unb64(self._volume(doc, volume_id)["public_key"], "a public key")
            if record_id in doc["records"] or record_id in doc["destroyed"]["records"]:
                raise UsageError(f"record {record_id} already has a key (or had one, destroyed)")
            epk, body = wrap_record_key(key, pub, self.archive_id, volume_id, record_id)
            doc["records"][record_id] = {"volume": volume_id, "ephemeral": b64(epk), "wrapped_key": b64(body),
                                         "created": _now()}
        return key

    def record_key(self, record_id: str, volume_private_key: bytes) -> bytes:
        doc = self._current()
        rec = self._record(doc, record_id)
        vol = self._volume(doc, rec["volume"])
        require_pair(volume_private_key, unb64(vol["public_key"], "a public key"), rec["volume"])
        return self._unwrap_record(rec, record_id, volume_private_key)

    def record_volume(self, record_id: str) -> str:
        doc = self._current()
        gone = doc["destroyed"]["records"].get(record_id)
        if gone:
            return str(gone["volume"])
        return str(self._record(doc, record_id)["volume"])

    def records(self, volume_id: str) -> list[str]:
        return sorted(r for r, rec in self._current()["records"].items() if rec["volume"] == volume_id)

    def destroyed(self, record_id: str) -> str | None:
        """When the record's key was destroyed (ISO time), or None if it was not."""
        gone = self._current()["destroyed"]["records"].get(record_id)
        return str(gone["destroyed"]) if gone else None

    def shred_record(self, record_id: str) -> None:
        """Destroy the record's key here and in every copy; a tombstone (id, volume, time) remains."""
        with self._edit() as doc:
            if record_id in doc["destroyed"]["records"] and record_id not in doc["records"]:
                pass  # already destroyed: saving again still reaches copies that were out of date
            else:
                rec = self._record(doc, record_id)
                del doc["records"][record_id]
                doc["destroyed"]["records"][record_id] = {"volume": rec["volume"], "destroyed": _now()}
        self._require_copies_reached(f"the key of record {record_id} was destroyed")

    # -- copies and export ----------------------------------------------------
    @property
    def copies(self) -> list[Path]:
        return [Path(c) for c in self._current()["copies"]]

    def add_copy(self, path: Path) -> None:
        """Register a copy (an escrow disk, say); it is written now and on every save."""
        p = Path(path).absolute()
        if p == self.path:
            raise UsageError("a keystore cannot be its own copy")
        if not p.parent.is_dir():
            raise UsageError(f"cannot keep a keystore copy in {p.parent}: no such folder")
        with self._edit() as doc:
            if str(p) not in doc["copies"]:
                doc["copies"].append(str(p))
        if p in self.stale_copies:
            raise CopiesOutOfDate(f"keystore copy {p} is registered but could not be written", [p])

    def sync_copies(self) -> None:
        """Write every registered copy again (after a copy's disk came back)."""
        with self._edit():
            pass
        self._require_copies_reached("the keystore is saved")

    def export(self, dest: Path, volume_ids: list[str] | None, kek: Kek, *, passphrase: bytes) -> None:
        """Write a self-contained keystore with these volumes (all if None), under its own passphrase."""
        dest = Path(dest).absolute()
        doc = self._current()
        require_current(kek, doc["kek"])
        ids = sorted(doc["volumes"]) if volume_ids is None else list(volume_ids)
        spec, new = new_spec(self.archive_id, passphrase=passphrase, keyfile=None)
        try:
            volumes = {}
            for vid in ids:
                vol = dict(self._volume(doc, vid))
                priv = self._unwrap_private(vol, vid, kek)
                pub = unb64(vol["public_key"], "a public key")
                vol["wrapped_private_key"] = b64(wrap_volume_private(priv, pub, new, self.archive_id, vid))
                volumes[vid] = vol
        finally:
            new.wipe()
        out = {"format": kf.FORMAT, "archive_id": self.archive_id, "created": _now(), "exported_from": str(self.path),
               "kek": spec, "volumes": volumes, "copies": [],
               "records": {r: rec for r, rec in doc["records"].items() if rec["volume"] in volumes},
               "destroyed": {"volumes": {},
                             "records": {r: g for r, g in doc["destroyed"]["records"].items()
                                         if g.get("volume") in volumes}}}
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with kf.locked(dest):
            if dest.exists():
                raise UsageError(f"will not overwrite {dest}: choose a new file for the export")
            kf.write_atomic(dest, kf.encode(out))

    def __repr__(self) -> str:
        return f"<Keystore {self.path}>"

