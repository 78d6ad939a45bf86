"""Inspections (检查): the six-monthly check of files' condition, recorded per record or per volume.

An inspection records the condition (``good``, ``fair``, ``poor``), fading
(``none``, ``slight``, ``severe``), damage found, the storage environment
(temperature, humidity, pests...) and notes.  Recording needs the role
``archivist`` or ``admin``.  An inspection of a volume counts for every
record in it.  Each inspected record gets an audit event of type
``inspection`` (the action the plugins' ``inspection_due`` report and
``ReportContext.last_event`` look for), so plugin reports agree with
``dangan inspect due``.

Due: a record not destroyed whose last inspection (its own or its volume's),
or else its archiving, is ``[inspection] months`` (default 6) or more before
the as-of date.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dangan.core.catalogue.rowid import inserted_id
from dangan.errors import UsageError
from dangan.core.policy.users import require_role
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

CONDITIONS = ("good", "fair", "poor")
FADING = ("none", "slight", "severe")
INSPECTOR_ROLES = ("archivist", "admin")


def months(archive: Archive) -> int:
    m = archive.config.raw.get("inspection", {}).get("months", 6)
    if not isinstance(m, int) or m < 1:
        raise UsageError("dangan.toml: [inspection] months must be a positive number")
    return m


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(d.year + y, m + 1, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def record_inspection(archive: Archive, refs=(), *, volume: str | None = None, condition: str, fading: str = "none",
                      damage: str = "", environment: str = "", notes: str = "") -> list[int]:
    if bool(refs) == bool(volume):
        raise UsageError("inspect record ids, or a --volume (one of them)")
    if condition not in CONDITIONS:
        raise UsageError(f"unknown condition {condition!r}: use {', '.join(CONDITIONS)}")
    if fading not in FADING:
        raise UsageError(f"unknown fading {fading!r}: use {', '.join(FADING)}")
    require_role(archive, INSPECTOR_ROLES, "record inspections")
    if volume:
        from dangan.core.catalogue.volumes import require_volume
        v = require_volume(archive, volume)
        targets = [("volume", v.name)]
        covered = [r["id"] for r in archive.conn.execute(
            "SELECT id FROM records WHERE volume = ? AND status != 'destroyed'", (v.name,))]
    else:
        from dangan.core.policy.access import require
        covered = []
        for ref in refs:
            rec = archive.record(ref)
            if rec.status == "destroyed":
                raise UsageError(f"record {rec.id} was destroyed: nothing to inspect")
            require(archive, "view", rec)
            covered.append(rec.id)
        targets = [("record", rid) for rid in dict.fromkeys(covered)]
    t = utc_text()
    ids = []
    with archive.transaction() as conn:
        for kind, key in targets:
            cur = conn.execute(
                "INSERT INTO inspections (record_id, volume, inspected_at, inspector, condition, fading, damage,"
                " environment, notes) VALUES (?,?,?,?,?,?,?,?,?)",
                (key if kind == "record" else None, key if kind == "volume" else None, t, archive.actor.name,
                 condition, fading, damage, environment, notes))
            ids.append(inserted_id(cur))
        details = {"condition": condition, "fading": fading, "damage": damage or None,
                   "environment": environment or None, "notes": notes or None, "volume": volume}
        for rid in dict.fromkeys(covered):
            archive.audit(conn, "inspection", rid, details=details)
        if volume:
            archive.audit(conn, "volume.inspect", volume, details={**details, "records": len(covered)})
    return ids


def list_inspections(archive: Archive, *, record: str | None = None, volume: str | None = None) -> list[dict]:
    where, params = [], []
    if record:
        rid = archive.resolve(record)
        where.append("(record_id = ? OR volume = (SELECT volume FROM records WHERE id = ?))")
        params += [rid, rid]
    if volume:
        where.append("volume = ?")
        params.append(volume)
    sql = "SELECT * FROM inspections" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY inspected_at, id"
    return [dict(r) for r in archive.conn.execute(sql, params)]


def due(archive: Archive, as_of: dt.date | None = None) -> list[dict]:
    """Records (the actor may see) whose inspection is due on or before ``as_of``."""
    from dangan.core.search.listing import list_filtered
    as_of = as_of or dt.date.today()
    every = months(archive)
    last_rec = {r["record_id"]: r["t"] for r in archive.conn.execute(
        "SELECT record_id, max(inspected_at) AS t FROM inspections WHERE record_id IS NOT NULL GROUP BY record_id")}
    last_vol = {r["volume"]: r["t"] for r in archive.conn.execute(
        "SELECT volume, max(inspected_at) AS t FROM inspections WHERE volume IS NOT NULL GROUP BY volume")}
    out = []
    for rec in list_filtered(archive, sort="code"):
        if rec.status == "destroyed" or rec.created[:10] > as_of.isoformat():
            continue
        last = max((t for t in (last_rec.get(rec.id), last_vol.get(rec.volume)) if t), default=None)
        since = dt.date.fromisoformat((last or rec.created)[:10])
        due_on = add_months(since, every)
        if due_on <= as_of:
            out.append({"record_id": rec.id, "archival_code": rec.archival_code, "volume": rec.volume,
                        "last_inspection": last[:10] if last else None, "due": due_on.isoformat(),
                        "days_overdue": (as_of - due_on).days})
    return out


# -- the six-monthly inspection report ---------------------------------------------------------------------

def open_stored(archive: Archive, rid: str, stored) -> str:
    """Re-open one stored file: read it through (its sha512 checked) and, for PDF and text, parse it.
    Returns "" when it opens, else why not."""
    import io
    from dangan.errors import IntegrityError
    try:
        data = b"".join(archive.store.read_chunks(rid, stored))
    except (IntegrityError, OSError) as exc:
        return f"{stored.logical_path}: {exc}"
    name = stored.logical_path.lower()
    try:
        if data.startswith(b"%PDF-") or name.endswith(".pdf"):
            from pypdf import PdfReader
            len(PdfReader(io.BytesIO(data)).pages)
        elif name.endswith((".txt", ".md", ".csv", ".xml", ".json", ".html")):
            data.decode("utf-8-sig") if not data.startswith((b"\xff\xfe", b"\xfe\xff")) else data.decode("utf-16")
    except UnicodeDecodeError:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError as exc:
            return f"{stored.logical_path}: not readable text ({exc.reason})"
    except Exception as exc:  # noqa: BLE001 - whatever the parser raises is the finding
        return f"{stored.logical_path}: does not open ({type(exc).__name__}: {exc})"
    return ""


def readable(archive: Archive, rec) -> tuple[str, str]:
    """(``ok`` | ``failed`` | ``sealed``, detail): every original file of the record's head re-opened."""
    from dangan.core.store.layout import DERIVATIVE_PREFIX, METADATA_PATH
    if archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rec.id,)).fetchone()["sealed"]:
        return "sealed", "ciphertext: fixity checked, content not opened"
    why = [w for s in archive.store.files(rec.id) if s.logical_path != METADATA_PATH
           and not s.logical_path.startswith(DERIVATIVE_PREFIX) for w in [open_stored(archive, rec.id, s)] if w]
    return ("failed", "; ".join(why)) if why else ("ok", "")


#: Extraction outcomes the report names record by record (``ok``, ``empty`` and ``unsupported`` are not findings).
EXTRACTION_PROBLEMS = ("failed", "not-ocred", "encrypted", "unknown")


def head_bytes(archive: Archive) -> dict[str, int]:
    """Bytes of each record's current files (originals and attachments; derivatives not counted)."""
    return {r["record_id"]: r["bytes"] for r in archive.conn.execute(
        "SELECT f.record_id, sum(f.size) AS bytes FROM files f JOIN records r ON r.id = f.record_id"
        " AND f.version = r.version WHERE f.role != 'derivative' GROUP BY f.record_id")}


def formats_at_risk(archive: Archive, held: set[str]) -> dict:
    """Current original files by PRONOM format, and those not in a preservation format (``[formats]``) and
    not kept as a checked PDF/A copy in one either (those are listed apart, ``kept_as_copy``)."""
    from collections import Counter
    from dangan.core.store.pdfa import pdfa_path
    from dangan.core.store.pronom import at_risk, preservation_puids
    keep = preservation_puids(archive.config)
    copies = {(r["record_id"], r["path"]): r["puid"] for r in archive.conn.execute(
        "SELECT f.record_id, f.path, f.puid FROM files f JOIN records r ON r.id = f.record_id AND r.version = f.version"
        " WHERE f.role = 'derivative' AND f.path LIKE '.dangan/pdfa/%' AND r.sealed IS NULL")}
    by_puid: Counter = Counter()
    names: dict[str, str] = {}
    risky, kept, unidentified = [], [], 0
    for f in archive.conn.execute(
            "SELECT f.record_id, f.path, f.puid, f.format_name, f.format_basis, r.archival_code, r.sealed FROM files f"
            " JOIN records r ON r.id = f.record_id AND r.version = f.version WHERE f.role != 'derivative'"
            " ORDER BY r.archival_code, f.record_id, f.path"):
        if f["record_id"] not in held or f["sealed"]:
            continue
        if f["format_basis"] is None:
            unidentified += 1
            continue
        key = f["puid"] or "-"
        by_puid[key] += 1
        names.setdefault(key, f["format_name"] or "")
        why = at_risk(f["puid"], keep)
        if not why:
            continue
        entry = {"record_id": f["record_id"], "archival_code": f["archival_code"], "path": f["path"],
                 "puid": f["puid"], "format_name": f["format_name"], "reason": why}
        copy = pdfa_path(f["path"])
        if copies.get((f["record_id"], copy)) in keep:
            kept.append({**entry, "reason": "kept as PDF/A copy", "copy": copy, "copy_puid": copies[(f["record_id"], copy)]})
        else:
            risky.append(entry)
    return {"by_puid": [{"puid": p, "format_name": names[p], "files": n, "preservation": p in keep}
                        for p, n in sorted(by_puid.items())],
            "at_risk": risky, "kept_as_copy": kept, "not_identified": unidentified}


def _locations(archive: Archive) -> dict:
    """The paper archive: boxes, records placed in them, and paper originals out on loan (with their box)."""
    conn = archive.conn
    out = [dict(r) for r in conn.execute(
        "SELECT p.record_id, p.box, i.loan_id AS loan, l.borrower, l.due FROM record_locations p JOIN loan_items i"
        " ON i.record_id = p.record_id AND i.paper_out = 1 AND i.issued_at IS NOT NULL AND i.returned_at IS NULL"
        " JOIN loans l ON l.id = i.loan_id AND l.status NOT IN ('refused', 'closed') ORDER BY p.box, p.record_id")]
    return {"boxes": conn.execute("SELECT count(*) FROM locations WHERE kind = 'box'").fetchone()[0],
            "placed": conn.execute("SELECT count(*) FROM record_locations").fetchone()[0],
            "out_on_loan": out}


def inspection_report(archive: Archive, *, sample: int | None = None, as_of: dt.date | None = None) -> dict:
    """Fixity of every object, readability, catalogue ↔ store, counts and bytes by department, year and
    category, holds, overdue loans, disposition due, inspections due and the last backup.  Recorded as an
    ``inspection.report`` event (PREMIS: validation).

    Totals cover the records held: destroyed and transferred records (their tombstones) are left out of
    counts, bytes and extraction figures; fixity still checks the tombstones and counts them apart."""
    import random
    from collections import Counter
    from dangan.core.backup.api import backup_status
    from dangan.core.management.disposition import due_list
    from dangan.core.management.holds import list_holds
    from dangan.core.store.integrity import check
    from dangan.core.management.lending import list_loans
    from dangan.core.search.listing import list_filtered
    require_role(archive, INSPECTOR_ROLES + ("auditor",), "run the inspection report")
    as_of = as_of or dt.date.today()
    problems = check(archive)
    recs = [r for r in list_filtered(archive, sort="code") if r.status not in ("destroyed", "transferred")]
    counts: dict[str, Counter] = {k: Counter() for k in ("department", "year", "category")}
    sizes: dict[str, Counter] = {k: Counter() for k in counts}
    extraction: Counter[str] = Counter()
    extraction_problems = []
    held_bytes = head_bytes(archive)
    for r in recs:
        size = held_bytes.get(r.id, 0)
        for k in counts:
            key = str(getattr(r, k) or "-")
            counts[k][key] += 1
            sizes[k][key] += size
        status = (r.extraction or {}).get("status") or "unknown"
        extraction[status] += 1
        if status in EXTRACTION_PROBLEMS:
            extraction_problems.append({"record_id": r.id, "archival_code": r.archival_code, "status": status,
                                        "message": (r.extraction or {}).get("message") or ""})
    tombstones = archive.conn.execute(
        "SELECT count(*) FROM records WHERE status IN ('destroyed', 'transferred')").fetchone()[0]
    chosen = recs if sample is None or sample >= len(recs) else random.sample(recs, sample)
    reads: Counter[str] = Counter()
    unreadable = []
    for r in chosen:
        state, why = readable(archive, r)
        reads[state] += 1
        if state == "failed":
            unreadable.append({"record_id": r.id, "archival_code": r.archival_code, "problem": why})
    overdue = list_loans(archive, overdue=True, as_of=as_of)
    report: dict[str, Any] = {
        "as_of": as_of.isoformat(), "archive": archive.config.name, "fonds": archive.config.fonds,
        "inspector": archive.actor.name,
        "fixity": {"objects": archive.store.count_objects() - tombstones, "tombstones": tombstones,
                   "problems": [p.to_dict() for p in problems]},
        "readability": {"checked": len(chosen), "of": len(recs), "sample": sample, **dict(reads),
                        "unreadable": unreadable, "extraction": dict(extraction),
                        "extraction_problems": extraction_problems},
        "catalogue_store": {"agree": not problems, "problems": len(problems)},
        "records": len(recs),
        "by": {k: [{k: key, "records": n, "bytes": sizes[k][key]} for key, n in sorted(counts[k].items())]
               for k in counts},
        "holds": [{"id": h["id"], "scope": f"{h['scope_kind']} {h['scope']}", "records": len(h["records"]),
                   "authority": h["authority"]} for h in list_holds(archive)],
        "overdue_loans": [{"loan": b["id"], "borrower": b["borrower"], "due": b["due"],
                           "days_overdue": b["days_overdue"], "outstanding": b["outstanding"]} for b in overdue],
        "disposition_due": [{"record_id": d["record_id"], "due": d.get("due"), "action": d.get("action"),
                             "held": d.get("held", False)} for d in due_list(archive, as_of)],
        "inspections_due": len(due(archive, as_of)),
        "formats": formats_at_risk(archive, {r.id for r in recs}),
        "backup": backup_status(archive),
        "locations": _locations(archive),
    }
    report["ok"] = not problems and not unreadable and not report["overdue_loans"] and not report["backup"]["overdue"]
    archive.record_event("inspection.report", outcome="success" if report["ok"] else "failure", details={
        "premis_event_type": "validation", "as_of": report["as_of"], "objects": report["fixity"]["objects"],
        "fixity_problems": len(problems), "checked": len(chosen), "unreadable": len(unreadable),
        "overdue_loans": len(overdue), "disposition_due": len(report["disposition_due"]),
        "holds": len(report["holds"]), "backup_age_hours": report["backup"]["age_hours"]})
    return report
