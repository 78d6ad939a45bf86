"""A new version of a record: a new main file and/or changed fields; everything else carries over."""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.errors import LockTimeout
from dangan.model import Record
from dangan.core.store import mime as mimes
from dangan.core.store import pronom
from dangan.core.catalogue import records
from dangan.core.catalogue.fields import RecordFields
from dangan.core.kernel.clock import utc_text
from dangan.core.store.layout import file_entry, metadata_document, stored_original_names
from dangan.core.store.derivative_formats import describe
from dangan.core.store.new_version import carry_over, commit_version
from dangan.core.store.source_files import open_source, shown_name

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def revise(ingestor, ref: str, path: Path | None, fields: RecordFields | None = None, message: str = "",
           *, status: str | None = None, action: str = "record.revise") -> Record:
    archive = ingestor.archive
    old = archive.record(ref)
    from dangan.core.policy.access import require
    from dangan.core.management.holds import assert_not_held
    from dangan.core.catalogue.tombstones import assert_alive, assert_alive_in
    assert_alive(archive, old, "revised")              # a destroyed or transferred record stays dead
    assert_not_held(archive, old.id, "revised")        # a held record cannot be changed
    require(archive, "edit", old)
    rid = old.id
    now = utc_text()
    sealed_old = _sealed(archive, rid)
    prot, old, sealed_names, sealed_plain = _protection(archive, old, sealed_old)
    base = RecordFields(old.title, old.department, old.category, old.year, old.date, old.retention,
                        old.secrecy, old.volume, old.tags, old.metadata)
    new_fields = (fields or RecordFields()).normalised().merged_over(base)
    from dangan.core.catalogue.volumes import check_refiling
    check_refiling(archive, old, new_fields.volume, new_fields.secrecy or old.secrecy, sealed=prot.confidential)
    version = old.version + 1
    with archive.store.stage(rid) as draft:
        inv_files = {f.logical_path: f for f in archive.store.files(rid, old.version)}
        names = sealed_names if prot.confidential else stored_original_names(archive.store, rid)
        # plaintext size and digest of each carried file (a sealed record's from its sealed block: the
        # catalogue's sha512 is the ciphertext's)
        plain = sealed_plain if prot.confidential else {f.path: (f.size, f.sha512) for f in old.files}
        # entries as stored: sizes and digests of what is on disk (ciphertext for sealed records)
        carried = {f.path: replace(f, size=inv_files[f.path].size, sha512=inv_files[f.path].digest)
                   for f in old.files}
        files = []
        taken = {f.path for f in old.files if f.role == "attachment"}
        main_old = old.main_file
        extraction = old.extraction
        queue = path is not None and ingestor.defers(prot)      # [ingest] extraction = "workers": a worker's job
        if path is not None:
            path = Path(path)
            with open_source(path, follow_symlinks=True).fh as fh:
                from dangan.core.store.antivirus import Antivirus
                Antivirus.of(archive.config, archive.root).check(fh, shown_name(path))   # a new version too
                name = prot.name(path.name, taken, len(old.files) + version)
                size, digest, psize, pdigest = prot.add_file(draft, name, fh, version)
            content_mime = mimes.by_content(path if prot.confidential else draft.content / name)
            ext_mime = mimes.by_extension(path.name)
            files.append(file_entry(name, "main", size, digest, content_mime, ext_mime,
                                    mimes.mismatch(content_mime, ext_mime)))
            if not prot.confidential and pronom.identify_enabled(archive.config):
                pronom.identify_entry(files[-1], draft.content / name, path.name)
            names[name] = shown_name(path.name)          # undecodable bytes escaped
            plain[name] = (psize, pdigest)
            probe = Record(id=rid, fonds=old.fonds, files=list(files), version=version)
            extraction = {} if queue else ingestor._extract(draft, prot, probe, name,
                                                            path if prot.confidential else None)
            # what the extraction found (x.*: the PDF/A copy, pages OCR'd…) describes the new file, not the old one
            new_fields.metadata = {**{k: v for k, v in new_fields.metadata.items() if not k.startswith("x.")},
                                   **{k: v for k, v in probe.metadata.items() if k.startswith("x.")}}
        else:
            files.append(carried[main_old.path])
            carry_over(draft, inv_files, main_old)
        for f in old.files:
            if f.role == "attachment":
                files.append(carried[f.path])
                carry_over(draft, inv_files, f)
        # derivatives carried keep their entry, new ones are identified now; a sealed record describes none
        derivatives = [] if prot.confidential else describe(
            draft, old.derivatives, identify=pronom.identify_enabled(archive.config),
            sizes={lp: s.size for lp, s in inv_files.items()},
            read_kept=lambda lp: archive.store.local_file(rid, inv_files[lp]))
        rec = Record(
            id=rid, fonds=old.fonds, title=new_fields.title or old.title, department=new_fields.department,
            category=new_fields.category, year=new_fields.year, date=new_fields.date,
            retention=new_fields.retention, secrecy=new_fields.secrecy or old.secrecy,
            volume=new_fields.volume, archival_code=old.archival_code, tags=new_fields.tags,
            metadata=new_fields.metadata, files=files, version=version, created=old.created,
            updated=now, status=status or old.status, extraction=extraction, derivatives=derivatives)
        from dangan.core.management.declassification import check_lowering
        check_lowering(archive, old, rec, action)          # lowering secrecy needs an approved declassification
        stored, stored_names = prot.stored(rec, names, plain, message=message or "revise")
        message = prot.version_message(message or "revise")      # sealed: kept in the sealed block only

        def before_publish(conn: sqlite3.Connection) -> bytes:
            row = conn.execute("SELECT piece_class, piece, version FROM records WHERE id = ?", (rid,)).fetchone()
            assert_alive_in(conn, rid, "revised")  # a destruction may have begun meanwhile
            if row["version"] != old.version:
                raise LockTimeout(f"record {rid} changed while revising it: try again")
            catalogue = {"piece_class": row["piece_class"], "piece": row["piece"], "sealed": prot.sealed}
            return metadata_document(stored, stored_names, catalogue)

        def after_publish(conn: sqlite3.Connection) -> None:
            records.update_record(conn, stored, actor=archive.actor.name, message=message,
                                  original_names=stored_names, sealed=prot.sealed)
            details: dict[str, Any] = {"version": rec.version, "message": message if not prot.confidential else None,
                       "status": rec.status if rec.status != old.status else None}
            if rec.secrecy != old.secrecy:
                details["secrecy"] = {"from": old.secrecy, "to": rec.secrecy}
            changes = field_changes(old, rec)
            if changes:       # a sealed record's values stay out of the trail: only which fields changed
                details["changes"] = {k: ({"sealed": True} if prot.confidential else v)
                                      for k, v in changes.items()}
            if path is not None and not prot.confidential:
                details["source"] = shown_name(path)
            archive.audit(conn, action, rid, details=details)
            if queue:                             # the new file's extraction job, committed with its version
                from dangan.core.store.deferred import requeue
                requeue(conn, rid)

        commit_version(archive, draft, rid, source="(revision)", message=message, created=now,
                       before_publish=before_publish, after_publish=after_publish)
    if queue:
        ingestor.queued.add(rid)
    return rec


#: The catalogue fields a cataloguing edit (著录) changes, as they are compared and shown.
EDITED_FIELDS = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume", "tags")


def field_changes(old: Record, new: Record) -> dict[str, dict]:
    """Each changed field with its value before and after (``metadata.KEY`` for metadata fields; fields
    the extraction sets, ``x.*``, are not an edit)."""
    out: dict[str, dict] = {}
    for name in EDITED_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if (sorted(a) if name == "tags" else a) != (sorted(b) if name == "tags" else b):
            out[name] = {"from": a, "to": b}
    for key in sorted(set(old.metadata) | set(new.metadata)):
        if key.startswith("x."):
            continue
        a, b = old.metadata.get(key), new.metadata.get(key)
        if a != b:
            out[f"metadata.{key}"] = {"from": a, "to": b}
    return out


def version_changes(archive: Archive, rid: str, versions: list[int]) -> dict[int, dict[str, dict]]:
    """The field changes each version made, read from the store (the truth: a rebuilt catalogue keeps them).
    A sealed record's versions are compared as the store holds them in the clear (its sealed fields not)."""
    out: dict[int, dict[str, dict]] = {}
    prev = None
    for v in sorted(versions):
        cur = archive.record_from_store(rid, v)
        out[v] = field_changes(prev, cur) if prev is not None else {}
        prev = cur
    return out


def _sealed(archive: Archive, rid: str) -> str | None:
    row = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()
    return row["sealed"] if row else None


def _protection(archive: Archive, old: Record, sealed: str | None):
    """The protection of the record, the record with its sealed fields opened, sealed original names and
    sealed plaintext (size, digest) by path."""
    from dangan.core.confidential.sealing import (PLAINTEXT_DIGEST, PlainProtection, SealedProtection, opened,
                                                  record_key, sealed_volume)
    if not sealed:
        return PlainProtection(), old, {}, {}
    key = record_key(archive, old)
    full, files = opened(archive, old, sealed, key)
    names = {p: f.get("original_name", p) for p, f in files.items()}
    plain = {p: (f.get("size"), f.get(PLAINTEXT_DIGEST)) for p, f in files.items()}
    return SealedProtection(sealed_volume(archive, old), old.id, key), full, names, plain
