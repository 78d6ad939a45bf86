"""`dangan import-bag DIR`: bring records exported by `dangan export --bagit` (or a transfer) back in.

The bag is validated with bagit-python first (every manifest digest, the
Payload-Oxum, required tag files); an invalid bag is refused and nothing is
written.  Each ``data/<id>/`` with a ``metadata.json`` becomes a record:
its files (``files/<original names>``) are ingested through the ordinary
pipeline — the main file with its attachments, matched by the sha512 the
metadata names — with the catalogue fields the metadata carries (title,
department, category, year, date, retention, secrecy, volume, tags,
metadata).  Archival codes are the receiving archive's: records are
imported in the order of their source archival codes, so a bag imported
into a fresh archive of the same fonds gets the same codes.  Duplicates are
handled like ingest: a file already archived is reported ``duplicate`` and
skipped unless ``allow_duplicate``.  Each imported record gets a
``record.import`` event naming the bag, the source id and archival code.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import DuplicateRecord, UsageError

if TYPE_CHECKING:
    from dangan.core.archive import Archive

FIELDS = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume", "tags", "metadata")


def _sha512(p: Path) -> str:
    h = hashlib.sha512()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_bag(path: Path) -> tuple[dict, list[dict]]:
    """Validate the bag and plan its records (nothing written): (bag-info, [{source, main, attachments, fields}])."""
    import bagit
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: give the bag's folder")
    try:
        bag = bagit.Bag(str(path))
        bag.validate()
    except bagit.BagError as exc:        # BagValidationError is one
        raise UsageError(f"{path} is not a valid BagIt bag, nothing imported: {exc}") from None
    plans = []
    for d in sorted(p for p in (path / "data").iterdir() if p.is_dir()):
        meta_path = d / "metadata.json"
        if not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UsageError(f"{meta_path}: not a dangan metadata.json ({exc})") from None
        files = [p for p in sorted((d / "files").rglob("*")) if p.is_file()] if (d / "files").is_dir() else []
        if not files:
            raise UsageError(f"{d.name}: the bag holds no files for this record")
        role = {f["sha512"]: f["role"] for f in meta.get("files", [])}
        digests = {p: _sha512(p) for p in files}
        mains = [p for p in files if role.get(digests[p]) == "main"] or files[:1]
        plans.append({"source": meta.get("id", d.name), "source_code": meta.get("archival_code"),
                      "main": mains[0], "attachments": [p for p in files if p != mains[0]],
                      "fields": {k: meta[k] for k in FIELDS if meta.get(k) not in (None, "", [], {})}})
    if not plans:
        raise UsageError(f"{path}: no dangan records in this bag (data/<id>/metadata.json)")
    plans.sort(key=lambda p: (p["source_code"] is None, p["source_code"] or "", p["source"]))
    return dict(bag.info), plans


def import_bag(archive: Archive, path: Path, *, allow_duplicate: bool = False, on_outcome=None) -> list[dict]:
    """Import every record of a valid bag; returns one outcome per record (archived or duplicate)."""
    from dangan.core.policy.users import acting_user
    acting_user(archive, action="import")           # once users are registered, only they may archive
    info, plans = read_bag(path)
    out = []
    for plan in plans:
        try:
            rec = archive.ingest(plan["main"], attachments=tuple(plan["attachments"]),
                                 allow_duplicate=allow_duplicate, **plan["fields"])
            o = {"status": "archived", "source": plan["source"], "record_id": rec.id,
                 "archival_code": rec.archival_code, "source_archival_code": plan["source_code"]}
            archive.record_event("record.import", rec.id, details={
                "bag": str(path), "source_id": plan["source"], "source_archival_code": plan["source_code"],
                "source_organization": info.get("Source-Organization"), "payload_oxum": info.get("Payload-Oxum")})
        except DuplicateRecord as exc:
            o = {"status": "duplicate", "source": plan["source"], "record_id": exc.existing_id,
                 "message": exc.message}
        out.append(o)
        if on_outcome:
            on_outcome(o)
    archive.record_event("import.bagit", details={"bag": str(path), "records": len(plans),
                                                  "archived": sum(o["status"] == "archived" for o in out)})
    return out
