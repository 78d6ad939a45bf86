"""How a record's content and confidential fields are protected in the store.

``PlainProtection`` stores files as they are.  ``SealedProtection`` (records of
a confidential volume) stores every file, the extracted text and the
confidential catalogue fields encrypted under the record's own key; logical
paths are opaque (``content-1`` …) so no file name reaches the inventory.

Plain allow-list (stays readable in store, catalogue and main index): id,
fonds, volume, secrecy, dates (date, year, created, updated), department,
category, retention, archival code, status, version.  Everything else —
title, tags, free metadata, file names, MIME types, plaintext sizes and
digests, extraction results — is in the sealed block, which is encrypted
(bound to volume, record, version and the path ``metadata.json``) and kept in
the version's ``metadata.json`` and in the catalogue's ``records.sealed``.
"""
from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO

from dangan.errors import CryptoError, IntegrityError
from dangan.model import Record
from dangan.core.store.layout import logical_name, text_path

if TYPE_CHECKING:
    from dangan.core.catalogue.volumes import Volume
    from dangan.core.archive import Archive

SEALED_FIELDS = ("title", "tags", "metadata", "extraction")
#: The digest kept (sealed) of each plaintext file, for fixity checks after decryption.  sha256
#: rather than sha512 because the ciphertext is hashed with sha512 for OCFL anyway, and sha256
#: runs on SHA-NI at about twice sha512's speed (see docs/benchmarks.md).
PLAINTEXT_DIGEST = "sha256"
OPAQUE_MIME = "application/octet-stream"
#: The message a sealed record's revision gets in the OCFL inventory and in ``versions.message``;
#: the message given (``revise -m``) is kept in the version's sealed block.
SEALED_MESSAGE = "sealed revision"


class PlainProtection:
    confidential = False
    sealed = None

    def name(self, original: str, taken: set[str], index: int) -> str:
        return logical_name(original, taken)

    def add_file(self, draft, lp: str, fh: BinaryIO, version: int) -> tuple[int, str, int, str]:
        size, digest = draft.add_stream(lp, fh)
        return size, digest, size, digest

    def add_text(self, draft, lp: str, text: str, version: int) -> None:
        draft.add_bytes(text_path(lp), text.encode("utf-8"))

    def add_derivative(self, draft, path: str, data: bytes, version: int) -> None:
        """A derivative file (a PDF/A copy) under ``.dangan/``."""
        draft.add_bytes(path, data)

    def stored(self, rec: Record, names: dict[str, str], plain: dict[str, tuple[int, str]],
               message: str | None = None) -> tuple[Record, dict]:
        return rec, names

    def version_message(self, message: str) -> str:
        return message


class SealedProtection:
    confidential = True

    def __init__(self, volume, record_id: str, record_key: bytes) -> None:
        self.volume = volume
        self.record_id = record_id
        self.key = record_key
        self.sealed: str | None = None

    def _binding(self, version: int, lp: str):
        from dangan.repository.crypto import Binding
        return Binding(self.volume.id, self.record_id, version, lp)

    def name(self, original: str, taken: set[str], index: int) -> str:
        name = f"content-{index}"
        while name in taken:
            index += 1
            name = f"content-{index}"
        return name

    def add_file(self, draft, lp: str, fh: BinaryIO, version: int) -> tuple[int, str, int, str]:
        from dangan.repository.crypto import encrypt_stream
        reader = encrypt_stream(fh, self.key, self._binding(version, lp), digest=PLAINTEXT_DIGEST)
        size, digest = draft.add_stream(lp, reader)
        return size, digest, reader.plaintext_size, reader.plaintext_digest

    def add_text(self, draft, lp: str, text: str, version: int) -> None:
        from dangan.repository.crypto import encrypt_bytes
        tp = text_path(lp)
        draft.add_bytes(tp, encrypt_bytes(text.encode("utf-8"), self.key, self._binding(version, tp)))

    def add_derivative(self, draft, path: str, data: bytes, version: int) -> None:
        from dangan.repository.crypto import encrypt_bytes
        draft.add_bytes(path, encrypt_bytes(data, self.key, self._binding(version, path)))

    def stored(self, rec: Record, names: dict[str, str], plain: dict[str, tuple[int, str]],
               message: str | None = None) -> tuple[Record, dict]:
        """The record as store and catalogue may hold it; the rest goes into ``self.sealed``
        (with the version's message, when given: inventory and catalogue get ``SEALED_MESSAGE``)."""
        payload = {name: getattr(rec, name) for name in SEALED_FIELDS}
        if message is not None:
            payload["message"] = message
        payload["files"] = [{"path": f.path, "original_name": names.get(f.path, f.path), "mime": f.mime,
                             "mime_by_extension": f.mime_by_extension, "mime_mismatch": f.mime_mismatch,
                             "size": plain.get(f.path, (f.size, None))[0],
                             PLAINTEXT_DIGEST: plain.get(f.path, (f.size, None))[1]} for f in rec.files]
        self.sealed = seal(payload, self.key, self._binding(rec.version, "metadata.json"))
        files = [replace(f, mime=OPAQUE_MIME, mime_by_extension=None, mime_mismatch=False, puid=None, format_name=None,
                         format_basis=None) for f in rec.files]
        shown = replace(rec, title="", tags=[], metadata={}, extraction={}, files=files)
        return shown, {f.path: f.path for f in files}

    def version_message(self, message: str) -> str:
        return SEALED_MESSAGE


def seal(payload: dict[str, Any], key: bytes, binding) -> str:
    from dangan.repository.crypto import encrypt_bytes
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return base64.b64encode(encrypt_bytes(data, key, binding)).decode("ascii")


def unseal(sealed: str, key: bytes, binding) -> dict[str, Any]:
    from dangan.repository.crypto import decrypt_bytes
    try:
        blob = base64.b64decode(sealed)
    except ValueError:
        raise CryptoError("the sealed catalogue fields are damaged (not base64)") from None
    return json.loads(decrypt_bytes(blob, key, binding))


# -- reading sealed records ---------------------------------------------------
def sealed_volume(archive: Archive, rec: Record) -> Volume:
    """The volume a sealed record is filed in; a sealed record that names none is damage, said so."""
    from dangan.core.catalogue.volumes import require_volume
    if rec.volume is None:
        raise IntegrityError(f"record {rec.id} has sealed fields but names no volume: its key cannot be found")
    return require_volume(archive, rec.volume)


def record_key(archive: Archive, rec: Record) -> bytes:
    """The record's key (its volume must be unlocked); cached for the life of the archive object."""
    from dangan.core.catalogue.volumes import open_keystore, private_key
    cache = archive.__dict__.setdefault("_record_keys", {})
    if rec.id not in cache:
        vol = sealed_volume(archive, rec)
        volume_keys = archive.__dict__.setdefault("_volume_keys", {})
        if vol.id not in volume_keys:
            volume_keys[vol.id] = private_key(archive, vol)
        if "_keystore" not in archive.__dict__:
            archive.__dict__["_keystore"] = open_keystore(archive)
        cache[rec.id] = archive.__dict__["_keystore"].record_key(rec.id, volume_keys[vol.id])
    return cache[rec.id]


def sealed_of(archive: Archive, rid: str) -> str | None:
    row = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()
    return row["sealed"] if row else None


def opened(archive: Archive, rec: Record, sealed: str, key: bytes | None = None) -> tuple[Record, dict[str, dict]]:
    """The record with its sealed fields restored (needs the volume unlocked); and file details by path."""
    from dangan.repository.crypto import Binding
    vol = sealed_volume(archive, rec)
    key = key or record_key(archive, rec)
    payload = unseal(sealed, key, Binding(vol.id, rec.id, rec.version, "metadata.json"))
    files = {f["path"]: f for f in payload.pop("files")}
    out = replace(rec, **{k: payload[k] for k in SEALED_FIELDS if k in payload})
    out.files = [replace(f, mime=files.get(f.path, {}).get("mime", f.mime),
                         mime_by_extension=files.get(f.path, {}).get("mime_by_extension"),
                         mime_mismatch=files.get(f.path, {}).get("mime_mismatch", False),
                         size=files.get(f.path, {}).get("size", f.size)) for f in rec.files]
    return out, files


def decrypt_chunks(archive: Archive, rec: Record, stored, key: bytes):
    """Plaintext chunks of one stored file of a sealed record (authenticated chunk by chunk)."""
    from dangan.repository.crypto import Binding, decrypt_stream
    vol = sealed_volume(archive, rec)
    written_in = int(stored.content_path.split("/", 1)[0][1:])
    return decrypt_stream(archive.store.read_chunks(rec.id, stored), key,
                          Binding(vol.id, rec.id, written_in, stored.logical_path))


def versions_shown(archive: Archive, ref: str) -> list[dict]:
    """A record's versions; a sealed record's revision messages opened from each version's sealed block
    while its volume is unlocked for the actor (else they read ``SEALED_MESSAGE``)."""
    from dangan.repository.crypto import Binding
    from dangan.core.store.layout import METADATA_PATH, parse_metadata
    rows = archive.versions(ref)
    if not any(r["message"] == SEALED_MESSAGE for r in rows):
        return rows
    rec = archive.record(ref)
    try:
        key = record_key(archive, rec)
    except CryptoError:
        return rows                               # locked: the messages stay sealed
    vol = sealed_volume(archive, rec)
    for r in rows:
        if r["message"] != SEALED_MESSAGE:
            continue
        _rec, _names, cat = parse_metadata(archive.store.read_bytes(rec.id, METADATA_PATH, r["version"]), rec.id)
        if cat.get("sealed"):
            payload = unseal(cat["sealed"], key, Binding(vol.id, rec.id, r["version"], "metadata.json"))
            r["message"] = payload.get("message", r["message"])
    return rows
