"""The backup repository format (``dangan-backup/1``): keys, blobs, snapshot manifests.

Files in the target::

    config                    plaintext JSON: format, repository id, scrypt parameters and salt,
                              the master key wrapped (dangan-enc/1) under the passphrase's key
    data/XX/NAME              one blob per distinct content (sha512), encrypted with dangan-enc/1;
                              NAME = HMAC-SHA256(name_key, sha512 digest): no digest leaks without the key
    snapshots/ID              one encrypted, zlib-compressed JSON manifest per snapshot
    locks/repo                the lock (pid, host, process start, operation, time)

Keys: ``master`` (32 random bytes) is the backup key; ``data_key`` and
``name_key`` are HKDF-SHA256 of it.  Every ciphertext is bound to its place
(``Binding(volume="dangan-backup:<repo id>", record="blob"|"snapshot", 0,
name)``): a blob moved under another name, or a manifest under another id,
does not open.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
import zlib
from functools import cached_property
from typing import BinaryIO, Iterator

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from dangan.errors import CryptoError, IntegrityError, NotFound, UsageError
from dangan.repository.backup.target import BackupTarget
from dangan.repository.crypto import (CHUNK_SIZE, HEADER_SIZE, TAG_SIZE, Binding, DecryptionFailed, EncryptingReader,
                                     decrypt_bytes, decrypt_stream, encrypt_bytes, encrypt_stream, new_key)

FORMAT = "dangan-backup/1"
SNAPSHOT_FORMAT = "dangan-backup-snapshot/1"
CONFIG = "config"
SNAPSHOTS = "snapshots/"
DATA = "data/"
KDF_DEFAULT = {"name": "scrypt", "n": 2 ** 16, "r": 8, "p": 1}


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def encrypted_size(size: int) -> int:
    """The size of the dangan-enc/1 ciphertext of ``size`` plaintext bytes."""
    chunks = max(1, -(-size // CHUNK_SIZE))
    return HEADER_SIZE + size + TAG_SIZE * chunks


def _kek(passphrase: bytes, kdf: dict) -> bytes:
    if kdf.get("name") != "scrypt":
        raise UsageError(f"unknown key derivation {kdf.get('name')!r} in the backup repository")
    salt = base64.b64decode(kdf["salt"])
    return Scrypt(salt=salt, length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])).derive(passphrase)


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info).derive(key)


def init_repository(target: BackupTarget, passphrase: bytes, *, kdf: dict | None = None) -> "Repository":
    """Set up an empty target as a repository with a new random backup key."""
    if target.exists(CONFIG):
        raise UsageError(f"{target.location} is a backup repository already")
    if hasattr(target, "is_empty") and not target.is_empty():
        raise UsageError(f"{target.location} is not empty: choose an empty folder for a new backup repository")
    if hasattr(target, "ensure"):
        target.ensure()
    repo_id = uuid.uuid4().hex
    params = {**KDF_DEFAULT, **(kdf or {}), "salt": base64.b64encode(secrets.token_bytes(16)).decode()}
    master = new_key()
    wrapped = encrypt_bytes(master, _kek(passphrase, params), Binding(f"dangan-backup:{repo_id}", "config", 0,
                                                                       "master-key"))
    config = {"format": FORMAT, "id": repo_id, "created": utcnow(), "kdf": params,
              "master_key": base64.b64encode(wrapped).decode()}
    if not target.create_exclusive(CONFIG, json.dumps(config, indent=1).encode() + b"\n"):
        raise UsageError(f"{target.location} is a backup repository already")
    return Repository(target, config, master)


def read_config(target: BackupTarget) -> dict:
    try:
        config = json.loads(target.get(CONFIG))
    except NotFound:
        raise NotFound(f"no backup repository at {target.location}: set one up with `dangan backup init`") from None
    except ValueError as exc:
        raise IntegrityError(f"the backup repository config at {target.location} is damaged ({exc})") from None
    if config.get("format") != FORMAT:
        raise UsageError(f"{target.location}: unknown backup repository format {config.get('format')!r}")
    return config


def open_repository(target: BackupTarget, passphrase: bytes) -> "Repository":
    config = read_config(target)
    wrapped = base64.b64decode(config["master_key"])
    try:
        master = decrypt_bytes(wrapped, _kek(passphrase, config["kdf"]),
                               Binding(f"dangan-backup:{config['id']}", "config", 0, "master-key"))
    except DecryptionFailed as exc:
        if exc.reason == "wrong-key":
            raise CryptoError(f"wrong passphrase for the backup repository {target.location}") from None
        raise IntegrityError(f"the backup repository config at {target.location} is damaged ({exc})") from None
    return Repository(target, config, master)


class Repository:
    """An opened (unlocked) backup repository."""

    def __init__(self, target: BackupTarget, config: dict, master: bytes) -> None:
        self.target = target
        self.config = config
        self.id: str = config["id"]
        self._data_key = _hkdf(master, b"dangan-backup/data")
        self._name_key = _hkdf(master, b"dangan-backup/names")
        self._volume = f"dangan-backup:{self.id}"

    @property
    def location(self) -> str:
        return self.target.location

    # -- blobs --------------------------------------------------------------
    def blob_name(self, digest: str) -> str:
        h = hmac.new(self._name_key, digest.encode("ascii"), hashlib.sha256).hexdigest()
        return f"{DATA}{h[:2]}/{h}"

    def _binding(self, kind: str, name: str) -> Binding:
        return Binding(self._volume, kind, 0, name)

    def has_blob(self, digest: str, size: int) -> bool:
        """True if the blob is there with the size its ciphertext must have (a torn write is not a blob)."""
        return self.target.size(self.blob_name(digest)) == encrypted_size(size)

    def put_blob(self, digest: str, src: BinaryIO, *, durable: bool = False) -> int:
        """Encrypt ``src`` into the blob of ``digest``; the plaintext must hash to ``digest``.

        Returns the ciphertext size.  Nothing is stored if the digest differs.
        """
        name = self.blob_name(digest)
        return self.target.put_stream(name, _Checked(encrypt_stream(src, self._data_key,
                                                                    self._binding("blob", name)), digest),
                                      durable=durable)

    def put_blob_bytes(self, data: bytes, *, durable: bool = False) -> tuple[str, int]:
        import io
        digest = hashlib.sha512(data).hexdigest()
        if not self.has_blob(digest, len(data)):
            self.put_blob(digest, io.BytesIO(data), durable=durable)
        return digest, len(data)

    def read_blob(self, digest: str) -> Iterator[bytes]:
        """The blob's plaintext, authenticated and checked against ``digest`` (IntegrityError if not)."""
        name = self.blob_name(digest)
        h = hashlib.sha512()
        try:
            for chunk in decrypt_stream(self.target.stream(name), self._data_key, self._binding("blob", name)):
                h.update(chunk)
                yield chunk
        except DecryptionFailed as exc:
            raise BlobDamaged(name, exc.reason if exc.reason == "truncated" else "altered", str(exc)) from None
        except NotFound:
            raise BlobDamaged(name, "missing", f"{name} is missing") from None
        if h.hexdigest() != digest:
            raise BlobDamaged(name, "altered", f"{name} does not hold the content it is named for")

    def blob_bytes(self, digest: str) -> bytes:
        return b"".join(self.read_blob(digest))

    # -- snapshots ----------------------------------------------------------
    def snapshot_ids(self) -> list[str]:
        return sorted(name[len(SNAPSHOTS):] for name, _ in self.target.list(SNAPSHOTS))

    def load_snapshot(self, snap_id: str) -> dict:
        name = SNAPSHOTS + snap_id
        try:
            data = self.target.get(name)
        except NotFound:
            raise NotFound(f"no snapshot {snap_id} in the backup repository {self.location}") from None
        try:
            return json.loads(zlib.decompress(decrypt_bytes(data, self._data_key, self._binding("snapshot", snap_id))))
        except DecryptionFailed as exc:
            raise IntegrityError(f"snapshot {snap_id} in {self.location} is damaged ({exc})") from None
        except (zlib.error, ValueError) as exc:
            raise IntegrityError(f"snapshot {snap_id} in {self.location} is unreadable ({exc})") from None

    def save_snapshot(self, manifest: dict) -> None:
        """Write a manifest atomically, after every blob it names is durable."""
        snap_id = manifest["id"]
        data = zlib.compress(json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode(), 3)
        self.target.sync()
        self.target.put(SNAPSHOTS + snap_id, encrypt_bytes(data, self._data_key, self._binding("snapshot", snap_id)),
                        durable=True)

    def delete_snapshot(self, snap_id: str) -> None:
        self.target.delete(SNAPSHOTS + snap_id)

    def resolve_snapshot(self, ref: str) -> str:
        ids = self.snapshot_ids()
        if ref == "latest":
            if not ids:
                raise NotFound(f"the backup repository {self.location} has no snapshots yet")
            return ids[-1]
        matches = [i for i in ids if i == ref] or [i for i in ids if i.startswith(ref)]
        if len(matches) != 1:
            raise NotFound(f"no snapshot {ref!r} in {self.location}" if not matches
                           else f"snapshot {ref!r} is ambiguous: {', '.join(matches[:5])}")
        return matches[0]

    @cached_property
    def latest(self) -> dict | None:
        ids = self.snapshot_ids()
        return self.load_snapshot(ids[-1]) if ids else None


class BlobDamaged(IntegrityError):
    def __init__(self, name: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.kind = kind


class _Checked:
    """Ciphertext reader that refuses to reach its end unless the plaintext had the expected digest."""

    def __init__(self, reader: EncryptingReader, digest: str) -> None:
        self._reader = reader
        self._digest = digest

    def read(self, n: int = -1) -> bytes:
        data = self._reader.read(n)
        if not data and self._reader.plaintext_sha512 != self._digest:
            raise IntegrityError("a file changed or fails its sha512 check while it was backed up "
                                 "(run `dangan check`)")
        return data


def failpoint_pause() -> None:
    """Sleep ``$DANGAN_TEST_BACKUP_PAUSE`` seconds between the steps of create and prune (kill -9 tests)."""
    import os
    import time
    pause = os.environ.get("DANGAN_TEST_BACKUP_PAUSE")
    if pause:
        time.sleep(float(pause))


def new_snapshot_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def blob_refs(manifest: dict) -> Iterator[tuple[str, int, str, str]]:
    """(digest, size, kind, owner) of every blob a manifest names.

    kind is ``record`` (owner: the record id), ``catalogue``, ``store`` (the
    storage root's own files) or ``archive`` (owner: dangan.toml, plugins/…).
    """
    cat = manifest.get("catalogue")
    if cat:
        yield cat["digest"], cat["size"], "catalogue", "catalogue"
    for rel, digest, size in manifest.get("store_files", []):
        yield digest, size, "store", f"store/{rel}"
    for rel, digest, size in manifest.get("archive_files", []):
        yield digest, size, "archive", rel
    for rid, entry in manifest.get("objects", {}).items():
        for rel, digest, size in entry["files"]:
            yield digest, size, "record", rid
