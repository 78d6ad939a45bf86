"""Getting records back out: byte-identical, verified while reading."""
from __future__ import annotations

import os
from pathlib import Path

import hashlib
from typing import TYPE_CHECKING

from dangan.errors import CryptoError, IntegrityError, NotFound, UsageError
from dangan.repository.fsutil import translate_oserror
from dangan.core.confidential.sealing import PLAINTEXT_DIGEST
from dangan.core.store.source_files import restored_name, shown_name
from dangan.core.store.layout import DERIVATIVE_PREFIX, METADATA_PATH, THUMBNAILS_PREFIX, stored_original_names

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def get_files(archive: Archive, ref: str, out_dir: Path, *, version: int | None = None,
              include_derivatives: bool = False, overwrite: bool = False,
              approvals: frozenset[str] = frozenset()) -> list[Path]:
    """Write a record's files into ``out_dir`` under their original names.

    ``approvals`` name the authority a caller reads under: ``loan`` (writing a loan's issued copy) or
    ``export`` (an export that checked its records already); without one, a record the loan policy covers is
    read only by the borrower of an issued loan (``core.loan_policy``).

    Each file is written to ``NAME.part`` while its sha512 is checked and only
    renamed into place when it matches; a damaged file leaves no output.
    """
    from dangan.core.policy.access import require
    from dangan.core.confidential.sealing import decrypt_chunks, opened, record_key, sealed_of
    from dangan.core.catalogue.tombstones import GONE, what_happened
    head = archive.record(ref)
    if head.status in GONE:                     # only the tombstone is here: say so, never "nothing written"
        require(archive, "view", head)
        message = f"{what_happened(archive, head)}: its content is gone"
        archive.record_event("record.retrieve", head.id, "failure", details={"problem": message})
        from dangan.errors import RecordGone
        raise RecordGone(message)
    rec = archive.record(ref, version)
    require(archive, "read", rec, approvals)
    if not approvals & {"loan", "export"}:
        from dangan.core.policy.loan_policy import require_loan
        require_loan(archive, rec, "read")
    v = rec.version
    sealed = sealed_of(archive, rec.id) if version is None else _sealed_at(archive, rec.id, v)
    key: bytes | None = None
    plain_files: dict[str, dict] = {}
    if sealed:
        key = record_key(archive, rec)            # raises a clear error while the volume is locked
        _full, plain_files = opened(archive, rec, sealed, key)
        names = {p: f["original_name"] for p, f in plain_files.items()}
    else:
        names = stored_original_names(archive.store, rec.id, v)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    opaque: list[str] = []
    outcome, problem = "success", None
    try:
        stored_files = archive.store.files(rec.id, v)
        _agrees_with_catalogue(archive, rec.id, v, stored_files, None if sealed else names)
        for stored in stored_files:
            lp = stored.logical_path
            if lp == METADATA_PATH or (lp.startswith(DERIVATIVE_PREFIX) and not include_derivatives) \
                    or lp.startswith(THUMBNAILS_PREFIX):         # thumbnails are the faces' previews, not text
                continue
            name = names.get(lp, lp)
            from dangan.repository.paths import safe_name
            target = out_dir / (safe_name(restored_name(name)) if not lp.startswith(DERIVATIVE_PREFIX) else lp.replace("/", "_"))
            if target.exists() and not overwrite:
                raise UsageError(f"{target} exists: choose another -o folder or remove it")
            part = target.with_name(target.name + ".part")
            try:
                with open(part, "wb") as out:
                    if key is None:
                        chunks = archive.store.read_chunks(rec.id, stored)
                    else:
                        chunks = _verified(decrypt_chunks(archive, rec, stored, key),
                                           (plain_files.get(lp) or {}).get(PLAINTEXT_DIGEST), lp)
                    for chunk in chunks:
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            except (IntegrityError, CryptoError):
                part.unlink(missing_ok=True)
                raise
            except OSError as exc:
                part.unlink(missing_ok=True)
                raise translate_oserror(exc, f"writing {target}") from exc
            os.replace(part, target)
            written.append(target)
            opaque.append(lp)
    except (IntegrityError, NotFound, CryptoError) as exc:
        outcome, problem = "failure", exc.message
        raise
    finally:
        # a sealed record's file names are confidential: its event names the opaque logical paths only
        archive.record_event("record.retrieve", rec.id, outcome, details={
            "version": v, "to": shown_name(out_dir), "problem": problem,
            "files": list(opaque) if sealed else [shown_name(p.name) for p in written]})
    return written


def _agrees_with_catalogue(archive: Archive, rid: str, v: int, stored_files, names: dict[str, str] | None) -> None:
    """The store's files of version ``v`` are the catalogue's: same list, same sha512 (and, plain, the same
    original names); otherwise IntegrityError before anything is written.  The inventory alone can be
    rewritten consistently (content, both inventories, sidecars, metadata.json); the catalogue is a second,
    independent witness."""
    cat = {r["path"]: r for r in archive.conn.execute(
        "SELECT path, sha512, original_name FROM files WHERE record_id = ? AND version = ? AND role != 'derivative'",
        (rid, v))}
    held = {f.logical_path: f.digest for f in stored_files
            if f.logical_path != METADATA_PATH and not f.logical_path.startswith(DERIVATIVE_PREFIX)}
    if set(held) != set(cat):
        extra, missing = sorted(set(held) - set(cat)), sorted(set(cat) - set(held))
        raise IntegrityError(f"record {rid} v{v}: the store's files disagree with the catalogue's"
                             f" (only in the store: {', '.join(extra) or '-'}; only in the catalogue:"
                             f" {', '.join(missing) or '-'}): nothing was written; run `dangan check`")
    for lp, digest in sorted(held.items()):
        if cat[lp]["sha512"] != digest:
            raise IntegrityError(f"record {rid} v{v}: {lp} in the store differs from the sha512 the catalogue"
                                 " recorded: nothing was written; run `dangan check`")
        if names is not None and cat[lp]["original_name"] not in (None, names.get(lp, lp)):
            raise IntegrityError(f"record {rid} v{v}: the store names {lp} {names.get(lp, lp)!r}, the catalogue"
                                 f" {cat[lp]['original_name']!r}: nothing was written; run `dangan check`")


def _verified(chunks, digest: str | None, what: str):
    """Pass chunks through; at the end compare the plaintext digest kept in the sealed fields."""
    h = hashlib.new(PLAINTEXT_DIGEST)
    for c in chunks:
        h.update(c)
        yield c
    if digest and h.hexdigest() != digest and not what.startswith(DERIVATIVE_PREFIX):
        raise IntegrityError(f"{what}: the decrypted content does not match its recorded {PLAINTEXT_DIGEST}")


def _sealed_at(archive: Archive, rid: str, version: int) -> str | None:
    from dangan.core.store.layout import parse_metadata
    _rec, _names, cat = parse_metadata(archive.store.read_bytes(rid, METADATA_PATH, version), rid)
    return cat.get("sealed")
