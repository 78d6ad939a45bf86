"""PRONOM identification of records archived before it existed (``dangan identify``).

A plain record whose current files carry no format (``format_basis`` unset: archived before
migration 12, or with ``[formats] identify = false``), or whose derivatives (PDF/A copy, text,
thumbnail: ``store.derivative_formats``) are not described yet, gets a new version in which every
file is kept as it is (no copy) and ``metadata.json`` names each original's and each derivative's
PUID, format name and basis — the store stays the truth the catalogue is rebuilt from.  The
version is written like any other (``store.new_version.commit_version``: the one crash-safe
protocol, with the audit event ``record.identify``, PREMIS "format identification").  Sealed
records are left alone (their format is sealed with them); records whose files and derivatives
all have a format are skipped.
"""
from __future__ import annotations

from dataclasses import replace

import sqlite3
from typing import TYPE_CHECKING

from dangan.errors import DanganError, LockTimeout
from dangan.core.catalogue import records
from dangan.core.kernel.clock import utc_text
from dangan.core.store import pronom
from dangan.core.store.derivative_formats import describe
from dangan.core.store.layout import DERIVATIVE_PREFIX, METADATA_PATH, metadata_document, stored_original_names
from dangan.core.store.new_version import commit_version

if TYPE_CHECKING:
    from dangan.core.archive import Archive

ROLES = ("archivist", "admin")


def needing_identification(archive: Archive) -> list[str]:
    """Plain, held records with a current file never identified: an original, an attachment or a derivative
    the catalogue lists, or (looked up in the store) a derivative stored before derivatives were described."""
    held = " r.sealed IS NULL AND r.status NOT IN ('destroyed', 'transferred')"
    found = {r["id"] for r in archive.conn.execute(
        "SELECT DISTINCT r.id FROM records r JOIN files f ON f.record_id = r.id AND f.version = r.version"
        " WHERE f.format_basis IS NULL AND" + held)}
    undescribed = [r["id"] for r in archive.conn.execute(
        "SELECT r.id FROM records r WHERE" + held + " AND NOT EXISTS (SELECT 1 FROM files f WHERE"
        " f.record_id = r.id AND f.version = r.version AND f.role = 'derivative')") if r["id"] not in found]
    found.update(rid for rid in undescribed if _stored_derivatives(archive, rid))
    return sorted(found)


def _stored_derivatives(archive: Archive, record_id: str) -> list[str]:
    try:
        return [f.logical_path for f in archive.store.files(record_id) if f.logical_path.startswith(DERIVATIVE_PREFIX)]
    except (DanganError, OSError, KeyError):
        return []                         # a missing object is `dangan check`'s finding, not this command's


def _identified(old) -> bool:
    return all(f.format_basis is not None for f in old.files + old.derivatives)


def identify_record(archive: Archive, record_id: str) -> dict:
    """Identify one record's files in a new version; ``{"record_id", "status", "version", "files"}``."""
    row = archive.conn.execute("SELECT version, sealed, status FROM records WHERE id = ?", (record_id,)).fetchone()
    if row is None or row["sealed"] or row["status"] in ("destroyed", "transferred"):
        return {"record_id": record_id, "status": "skipped", "reason": "sealed or not held" if row else "unknown"}
    old = archive.record_from_store(record_id)
    inv_files = {f.logical_path: f for f in archive.store.files(record_id, old.version)}
    described = {d.path for d in old.derivatives}
    if _identified(old) and all(lp in described for lp in inv_files if lp.startswith(DERIVATIVE_PREFIX)):
        return {"record_id": record_id, "status": "skipped", "reason": "already identified"}
    names = stored_original_names(archive.store, record_id, old.version)
    files = []
    for f in old.files:
        if f.format_basis is None:
            f = replace(f)
            with archive.store.local_file(record_id, inv_files[f.path]) as path:    # (S3: a temporary copy)
                pronom.identify_entry(f, path, names.get(f.path, f.path))
        files.append(f)
    now, version = utc_text(), old.version + 1
    rec = replace(old, version=version, updated=now, files=files)
    message = "formats identified (PRONOM)"
    with archive.store.stage(record_id) as draft:
        for lp, stored in inv_files.items():
            if lp != METADATA_PATH:
                draft.keep(lp, stored.digest)             # every file and derivative, as it is
        rec.derivatives = describe(draft, old.derivatives, identify=True,
                                   sizes={lp: s.size for lp, s in inv_files.items()},
                                   read_kept=lambda lp: archive.store.local_file(record_id, inv_files[lp]))

        def before_publish(conn: sqlite3.Connection) -> bytes:
            cur = conn.execute("SELECT piece_class, piece, version FROM records WHERE id = ?",
                               (record_id,)).fetchone()
            from dangan.core.catalogue.tombstones import assert_alive_in
            assert_alive_in(conn, record_id, "identified")
            if cur["version"] != old.version:
                raise LockTimeout(f"record {record_id} changed while its formats were identified: try again")
            catalogue = {"piece_class": cur["piece_class"], "piece": cur["piece"], "sealed": None}
            return metadata_document(rec, names, catalogue)

        def after_publish(conn: sqlite3.Connection) -> None:
            records.update_record(conn, rec, actor=archive.actor.name, message=message, original_names=names)
            archive.audit(conn, "record.identify", record_id, details={
                "version": version, "pronom": pronom.pronom_version(),
                "files": {f.path: f.puid for f in files}, "derivatives": {d.path: d.puid for d in rec.derivatives}})

        commit_version(archive, draft, record_id, source="(identify)", message=message, created=now,
                       before_publish=before_publish, after_publish=after_publish)
    return {"record_id": record_id, "status": "identified", "version": version,
            "files": {f.path: f.puid for f in files}, "derivatives": {d.path: d.puid for d in rec.derivatives}}


def identify_formats(archive: Archive, refs=(), *, every: bool = False) -> list[dict]:
    """Identify the named records (or, with ``every``, all that need it); archivists and admins only."""
    from dangan.core.policy.users import require_role
    from dangan.errors import UsageError
    require_role(archive, ROLES, "identify formats")
    if bool(refs) == every:
        raise UsageError("name record ids, or --all (one of them)")
    targets = needing_identification(archive) if every else [archive.resolve(r) for r in dict.fromkeys(refs)]
    return [identify_record(archive, rid) for rid in targets]
