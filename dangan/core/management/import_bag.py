"""`dangan import-bag DIR`: bring records exported by `dangan export --bagit` (or a transfer) back in.

The bag is validated with bagit-python first (every manifest digest, the
Payload-Oxum, required tag files); an invalid bag is refused and nothing is
written.  Each ``data/<id>/`` with a ``metadata.xml`` (DA/T 48-style, read
first: ``transfer_xml``; its 数字摘要 must name exactly the files beside it)
or a ``metadata.json`` becomes a record:
its files (``files/<original names>``) are ingested through the ordinary
pipeline — the main file with its attachments, matched by the sha512 the
metadata names — with the catalogue fields the metadata carries (title,
department, category, year, date, retention, secrecy, volume, tags,
metadata).  Archival codes are the receiving archive's: records are
imported in the order of their source archival codes, so a bag imported
into a fresh archive of the same fonds gets the same codes.  Duplicates are
handled like ingest: a file already archived is reported ``duplicate`` and
skipped unless ``allow_duplicate``.  Each imported record gets a
``record.import`` event naming the bag, the source id and archival code, and
(from metadata.xml) the source archive's event history of the record.  A
re-run after a kill resumes: a record this bag's import filed but died before
recording is given its ``record.import`` event (``resumed``), not called a
duplicate; the rest are filed.
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


def _metadata(d: Path) -> dict | None:
    """A record's metadata in the bag: ``metadata.xml`` (DA/T 48-style, ``transfer_xml``) where there is one,
    else dangan's ``metadata.json``; None for a folder that is neither."""
    from dangan.core.management.transfer_xml import read_record_xml
    xml, js = d / "metadata.xml", d / "metadata.json"
    if xml.is_file():
        return {**read_record_xml(xml.read_bytes(), str(xml)), "from_xml": True}
    if not js.is_file():
        return None
    try:
        meta = json.loads(js.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{js}: not a dangan metadata.json ({exc})") from None
    return {"id": meta.get("id"), "archival_code": meta.get("archival_code"), "files": meta.get("files", []),
            "fields": {k: meta.get(k) for k in FIELDS}, "events": [], "from_xml": False}


def read_bag(path: Path, *, require_signature: bool = False,
             signer_key: str | None = None) -> tuple[dict, list[dict]]:
    """Validate the bag and plan its records (nothing written): (bag-info, [{source, main, attachments, fields}]).
    Each metadata.xml's signature block is checked (``transfer_sign.verify``): a changed or falsely signed
    package is refused; ``require_signature`` refuses an unsigned one, ``signer_key`` one signed by another key."""
    from dangan.core.management.transfer_sign import verify
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
        meta = _metadata(d)
        if meta is None:
            continue
        files = [p for p in sorted((d / "files").rglob("*")) if p.is_file()] if (d / "files").is_dir() else []
        if not files:
            raise UsageError(f"{d.name}: the bag holds no files for this record")
        digests = {p: _sha512(p) for p in files}
        listed = {f["sha512"] for f in meta["files"] if f.get("sha512")}
        if meta["from_xml"] and listed != set(digests.values()):
            raise UsageError(f"{d.name}: the files do not match the 数字摘要 (sha512) of metadata.xml, nothing "
                             f"imported")
        if meta["from_xml"]:
            signature = verify(meta["root"], f"{d.name}/metadata.xml", require_signature=require_signature,
                               signer_key=signer_key)
        elif require_signature or signer_key:
            raise UsageError(f"{d.name}: no signed metadata.xml (DA/T 48) for this record, nothing imported")
        else:
            signature = {"signed": False, "key": None}
        role = {f["sha512"]: f["role"] for f in meta["files"]}
        mains = [p for p in files if role.get(digests[p]) == "main"] or files[:1]
        plans.append({"source": meta["id"] or d.name, "source_code": meta["archival_code"],
                      "main": mains[0], "attachments": [p for p in files if p != mains[0]],
                      "events": meta["events"], "signature": signature,
                      "fields": {k: v for k, v in meta["fields"].items() if k in FIELDS and v not in (None, "", [], {})}})
    if not plans:
        raise UsageError(f"{path}: no dangan records in this bag (data/<id>/metadata.json)")
    plans.sort(key=lambda p: (p["source_code"] is None, p["source_code"] or "", p["source"]))
    return dict(bag.info), plans


def _interrupted_here(archive: Archive, rid: str, main: Path) -> bool:
    """Was ``rid`` (whose main file is this one of the bag: the duplicate check matched it) filed by an import
    that died before its ``record.import`` event — ingested from this very path, or completed by recovery
    (``record.recover``, no ingest event) after a kill mid-write?  Then the re-run writes the event instead
    of calling it a duplicate."""
    from dangan.core.catalogue import audit as audit_log
    from dangan.core.store.source_files import shown_name
    if any(True for _ in audit_log.events(archive.conn, obj=rid, action="record.import")):
        return False
    ingests = list(audit_log.events(archive.conn, obj=rid, action="record.ingest"))
    if not ingests:
        return any(True for _ in audit_log.events(archive.conn, obj=rid, action="record.recover"))
    return any(e.details.get("source") == shown_name(main) for e in ingests)


def import_bag(archive: Archive, path: Path, *, allow_duplicate: bool = False, on_outcome=None,
               require_signature: bool = False, signer_key: str | None = None) -> list[dict]:
    """Import every record of a valid bag; returns one outcome per record (archived or duplicate)."""
    from dangan.core.policy.users import acting_user
    acting_user(archive, action="import")           # once users are registered, only they may archive
    info, plans = read_bag(path, require_signature=require_signature, signer_key=signer_key)
    out = []
    for plan in plans:
        def provenance(rid: str) -> None:
            archive.record_event("record.import", rid, details={
                "bag": str(path), "source_id": plan["source"], "source_archival_code": plan["source_code"],
                "source_organization": info.get("Source-Organization"), "payload_oxum": info.get("Payload-Oxum"),
                "signature": {k: plan["signature"].get(k) for k in ("signed", "key", "signer", "time")},
                "source_events": plan["events"]})
        try:
            rec = archive.ingest(plan["main"], attachments=tuple(plan["attachments"]),
                                 allow_duplicate=allow_duplicate, index=False, **plan["fields"])
            o = {"status": "archived", "source": plan["source"], "record_id": rec.id,
                 "archival_code": rec.archival_code, "source_archival_code": plan["source_code"],
                 "signed_by_key": plan["signature"].get("key")}
            provenance(rec.id)
        except DuplicateRecord as exc:
            if exc.existing_id and _interrupted_here(archive, exc.existing_id, plan["main"]):
                rec = archive.record(exc.existing_id)      # filed by this bag's import, killed before its event
                provenance(rec.id)
                o = {"status": "archived", "source": plan["source"], "record_id": rec.id, "resumed": True,
                     "archival_code": rec.archival_code, "source_archival_code": plan["source_code"]}
            else:
                o = {"status": "duplicate", "source": plan["source"], "record_id": exc.existing_id,
                     "message": exc.message}
        out.append(o)
        if on_outcome:
            on_outcome(o)
    from dangan.core.search.indexing import drain
    drain(archive)              # once for the bag: the outbox (index_outbox) holds what a crash would leave
    archive.record_event("import.bagit", details={"bag": str(path), "records": len(plans),
                                                  "archived": sum(o["status"] == "archived" for o in out)})
    return out
