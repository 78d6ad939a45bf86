"""DA/T 70 four-property checks (四性检测): authenticity, integrity, usability, security, per record.

The check items implemented (each gives ``pass``, ``fail`` or ``n/a`` with a detail):

authenticity (真实性)
  ``audit-chain``        the audit trail's hash chain is intact (``audit.verify``)
  ``ingest-event``       an ingest (or recovery) event names the record
  ``metadata-agrees``    the store's metadata.json agrees with the catalogue (fields, version, digests)
integrity (完整性)
  ``digests``            every stored file matches its sha512 (OCFL fixity of the object)
  ``files-present``      every file the catalogue lists for the head version is in the store
  ``version-sequence``   versions run v1..vN without gaps; the catalogue has each, head = N
usability (可用性)
  ``mime-known``         every original file has a known MIME type (not application/octet-stream)
  ``extraction``         the catalogue's extraction status is ok or empty (text extracted or none to get)
  ``readable``           each original file re-opens (read through; PDF and text parsed)
  ``preservation-format`` every original file's PRONOM format (fido, at ingest) is one of ``[formats]
                         preservation`` (``store.pronom``), or the original has a checked PDF/A copy in one
                         (its preservation rendition, ``store.derivative_formats``: "kept as PDF/A copy");
                         ``n/a`` for a sealed record or one never identified
security (安全性)
  ``secrecy-marked``     the record carries a secrecy marking
  ``sealed-if-confidential``  a record marked secret or above is sealed in a confidential volume
  ``keystore-entry``     a sealed record's key is in the keystore (and not shredded)
  ``no-plaintext-title`` a sealed record's title is neither in the catalogue nor in the store's metadata.json

Needs ``archivist``, ``admin`` or ``auditor``; only records the actor may see are checked.  The run is an
``inspection.four-property`` audit event (PREMIS: validation).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dangan.errors import UsageError
from dangan.repository.ocfl import vnum

if TYPE_CHECKING:
    from dangan.core.archive import Archive

ITEMS = {
    "authenticity": ("audit-chain", "ingest-event", "metadata-agrees"),
    "integrity": ("digests", "files-present", "version-sequence"),
    "usability": ("mime-known", "extraction", "readable", "preservation-format"),
    "security": ("secrecy-marked", "sealed-if-confidential", "keystore-entry", "no-plaintext-title"),
}
ROLES = ("archivist", "admin", "auditor")


def _targets(archive: Archive, refs, volume):
    from dangan.core.policy.access import visibility
    from dangan.core.search.listing import list_filtered
    if bool(refs) == bool(volume):
        raise UsageError("give record ids or --volume V (one of them)")
    if volume:
        recs = list_filtered(archive, volume=volume, sort="code")
        if not recs:
            raise UsageError(f"no record in volume {volume!r} (that you may see)")
    else:
        from dangan.core.policy.access import require
        recs = []
        for ref in dict.fromkeys(refs):
            rec = archive.record(ref)
            require(archive, "view", rec)
            recs.append(rec)
    visible = visibility(archive)
    return [r for r in recs if r.status not in ("destroyed", "transferred") and (visible is None or visible(r))]


def check_record(archive: Archive, rec, chain_problems: list[str]) -> list[dict]:
    store = archive.store
    if not store.exists(rec.id):
        return _check_record(archive, rec, chain_problems, None)
    with store.local_object(rec.id) as root:        # a bucket's object: checked in a private local copy
        return _check_record(archive, rec, chain_problems, root)


def _check_record(archive: Archive, rec, chain_problems: list[str], root) -> list[dict]:
    from dangan.model import is_confidential
    from dangan.repository.validate import validate_object
    from dangan.core.management.inspection import readable
    from dangan.core.store.integrity import _compare
    from dangan.core.store.layout import read_metadata
    rid, conn, store = rec.id, archive.conn, archive.store
    row = conn.execute("SELECT * FROM records WHERE id = ?", (rid,)).fetchone()
    sealed = row["sealed"]
    out: dict[str, tuple[str, str]] = {}
    out["audit-chain"] = ("fail", "; ".join(chain_problems[:3])) if chain_problems else ("pass", "")
    ingest = conn.execute("SELECT seq FROM audit WHERE object = ? AND action IN ('record.ingest', 'record.recover')"
                          " LIMIT 1", (rid,)).fetchone()
    out["ingest-event"] = ("pass", f"event {ingest['seq']}") if ingest else ("fail", "no ingest event names it")
    report = validate_object(root, expected_id=rid, check_digests=True) if root is not None else None
    if report is None:
        out["digests"] = ("fail", "the object is missing from the store")
    else:
        out["digests"] = ("fail", "; ".join(p.message for p in report.errors[:3])) if report.errors else ("pass", "")
    diffs = _compare(archive, rid) if report is not None and not report.errors else []
    out["metadata-agrees"] = ("fail", "; ".join(p.message for p in diffs[:3])) if diffs else \
        (("pass", "") if report is not None and not report.errors else ("fail", "store object not valid"))
    if report is None:
        for item in ("files-present", "version-sequence", "readable"):
            out[item] = ("fail", "the object is missing from the store")
    else:
        inv = store.inventory(rid)
        state = {f.logical_path for f in store.files(rid, vnum(inv["head"]), inv)}
        missing = [f["path"] for f in conn.execute("SELECT path FROM files WHERE record_id = ? AND version = ?",
                                                   (rid, row["version"])) if f["path"] not in state]
        missing += [s.logical_path for s in store.files(rid) if not (root / s.content_path).exists()]
        out["files-present"] = ("fail", "missing: " + ", ".join(missing)) if missing else ("pass", f"{len(state)} files")
        nums = sorted(vnum(v) for v in inv["versions"])
        cat = [r["version"] for r in conn.execute("SELECT version FROM versions WHERE record_id = ? ORDER BY version",
                                                  (rid,))]
        ok = nums == list(range(1, len(nums) + 1)) and cat == nums and row["version"] == nums[-1]
        out["version-sequence"] = ("pass", f"v1..v{nums[-1]}") if ok else \
            ("fail", f"store {nums}, catalogue {cat}, head {row['version']}")
        state_, why = readable(archive, rec)
        out["readable"] = ("pass", "") if state_ == "ok" else ("n/a", why) if state_ == "sealed" else ("fail", why)
    from dangan.core.catalogue.records import files_of
    every = files_of(conn, rid, row["version"], with_derivatives=True)    # (a volume's listing carries no files)
    originals = [f for f in every if f.role != "derivative"]
    unknown = [f.path for f in originals if not f.mime or f.mime == "application/octet-stream"]
    out["mime-known"] = ("fail", "unknown: " + ", ".join(unknown)) if unknown else \
        ("pass", ", ".join(sorted({f.mime for f in originals})))
    out["preservation-format"] = _preservation(archive, originals, [f for f in every if f.role == "derivative"],
                                               sealed)
    status = row["extraction_status"]
    out["extraction"] = ("pass", status) if status in ("ok", "empty") else \
        ("fail", f"{status}: {row['extraction_message'] or ''}".strip(": "))
    out["secrecy-marked"] = ("pass", rec.secrecy) if rec.secrecy else ("fail", "no secrecy marking")
    if is_confidential(rec.secrecy or "public"):
        out["sealed-if-confidential"] = ("pass", f"sealed in volume {rec.volume}") if sealed else \
            ("fail", f"marked {rec.secrecy} but stored in plain text")
    else:
        out["sealed-if-confidential"] = ("n/a", f"{rec.secrecy}: sealing not required")
    if sealed:
        out["keystore-entry"] = _keystore(archive, rid)
        plain = read_metadata(store, rid).title if report is not None and not report.errors else ""
        leaks = [w for w, t in (("catalogue", row["title"]), ("metadata.json", plain)) if t]
        out["no-plaintext-title"] = ("fail", "title in plain text in " + ", ".join(leaks)) if leaks else ("pass", "")
    else:
        out["keystore-entry"] = ("n/a", "not sealed")
        out["no-plaintext-title"] = ("n/a", "not sealed")
    return [{"record_id": rid, "archival_code": rec.archival_code, "property": prop, "item": item,
             "result": out[item][0], "detail": out[item][1]} for prop, items in ITEMS.items() for item in items]


def _preservation(archive: Archive, originals, derivatives, sealed) -> tuple[str, str]:
    """The DA/T 70 format test: each original in a preservation format of the archive's policy, or kept as a
    checked PDF/A copy in one."""
    from dangan.core.store.derivative_formats import rendition_for
    from dangan.core.store.pronom import at_risk, preservation_puids
    if sealed:
        return "n/a", "sealed: the format is sealed with the content"
    if not originals or all(f.format_basis is None for f in originals):
        return "n/a", "not identified (archived before identification, or [formats] identify = false)"
    keep = preservation_puids(archive.config)
    risky, shown = [], set()
    for f in originals:
        why = at_risk(f.puid, keep)
        copy = rendition_for(f, derivatives, keep) if why else None
        if copy is not None:
            shown.add(f"{f.path}: {f.puid or '?'} kept as PDF/A copy ({copy.puid} {copy.format_name or ''})".strip())
        elif why:
            risky.append(f"{f.path}: {f.puid or '?'} {f.format_name or ''} ({why})".replace("  ", " "))
        else:
            shown.add(f"{f.puid} {f.format_name}")
    if risky:
        return "fail", "; ".join(risky)
    return "pass", ", ".join(sorted(shown))


def _keystore(archive: Archive, rid: str) -> tuple[str, str]:
    from dangan.errors import DanganError
    from dangan.core.catalogue.volumes import open_keystore
    try:
        ks = open_keystore(archive)
        gone = ks.destroyed(rid)
        if gone:
            return "fail", f"the key was shredded on {gone}"
        return "pass", f"volume key {ks.record_volume(rid)}"
    except (DanganError, KeyError, OSError) as exc:
        return "fail", f"no key in the keystore ({getattr(exc, 'message', exc)})"


def four_property(archive: Archive, refs=(), *, volume: str | None = None) -> dict:
    """Run every check item on the records named (or a volume's); returns ``{"records", "rows", "summary"}``."""
    from dangan.core.catalogue.audit import verify
    from dangan.core.policy.users import require_role
    require_role(archive, ROLES, "run four-property checks")
    recs = _targets(archive, list(refs), volume)
    chain = verify(archive.conn)
    rows = [r for rec in recs for r in check_record(archive, rec, chain)]
    summary = {}
    for prop in ITEMS:
        mine = [r for r in rows if r["property"] == prop]
        summary[prop] = "fail" if any(r["result"] == "fail" for r in mine) else "pass"
    failed = sorted({r["record_id"] for r in rows if r["result"] == "fail"})
    archive.record_event("inspection.four-property", volume or "", "success" if not failed else "failure", details={
        "premis_event_type": "validation", "records": [r.id for r in recs], "failed": failed,
        "summary": summary, "items": {p: list(i) for p, i in ITEMS.items()}})
    return {"records": [r.id for r in recs], "rows": rows, "summary": summary, "failed": failed,
            "items": json.loads(json.dumps(ITEMS))}
