"""Export records as a BagIt bag (RFC 8493, BagIt 1.0) with sha512 manifests.

    DIR/
      bagit.txt
      bag-info.txt              Source-Organization, Fonds, Archival-Code (one per record), Payload-Oxum...
      manifest-sha512.txt
      tagmanifest-sha512.txt
      data/<record id>/files/<original names>   byte-identical, verified while read
      data/<record id>/metadata.json            the catalogue fields (opened for sealed records)
      data/<record id>/premis-events.json       the record's audit events with PREMIS event types
      data/<record id>/metadata.xml             the same as DA/T 48-style XML (``transfer_xml``)
      移交清单.pdf                               the hand-over register (a tag file), signed by both sides

Every record is checked before anything is written: ``export`` must be
allowed (``core.access.require``: clearance, then plugins with the approvals
on file), and a sealed record (in a confidential volume) is exported only
while its volume is unlocked *and* with an ``export`` approval for the actor
(``dangan access grant export ID --to USER``), whatever the plugins say.
The bag is built in a hidden sibling folder and renamed into place, so a
failure leaves no half bag.  Each record gets a ``record.export`` event.
A transfer (``disposition execute``) passes the approved list as the
``export`` approval and adds Transfer-List lines to bag-info.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import CryptoError, UsageError
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def _enc(path: str) -> str:
    """RFC 8493 2.1.3: only CR and LF are percent-encoded in manifest paths (as bagit-python does)."""
    return path.replace("\r", "%0D").replace("\n", "%0A")


def _sha512(p: Path) -> str:
    h = hashlib.sha512()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def select(archive: Archive, refs=(), *, volume: str | None = None, query: str | None = None) -> list[str]:
    if sum(bool(x) for x in (refs, volume, query)) != 1:
        raise UsageError("give record ids, or --volume V, or --query Q (exactly one)")
    from dangan.core.search.listing import list_filtered
    if refs:
        return list(dict.fromkeys(archive.resolve(r) for r in refs))
    found = list_filtered(archive, query or "", volume=volume, sort="code")
    ids = [r.id for r in found if r.status != "destroyed"]
    if not ids:
        raise UsageError("nothing to export: no record matches")
    return ids


def _check(archive: Archive, rid: str, approvals: frozenset = frozenset()):
    from dangan.core.policy.access import approvals_for, deny_record, plugin_actor, require
    rec = archive.record(rid)
    if rec.status in ("destroyed", "transferred"):
        raise UsageError(f"record {rid} was {rec.status}: only its tombstone remains")
    require(archive, "export", rec, approvals)
    sealed = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()["sealed"]
    if sealed:
        if "export" not in approvals_for(archive, plugin_actor(archive).name, rid) | approvals:
            raise deny_record(archive, "export", rec, f"record {rid} is in confidential volume {rec.volume}: "
                              f"exporting it needs an export approval (`dangan access grant export {rid} --to "
                              f"{archive.actor.name} --reason ...`)", "core")
        opened, locked = archive.opened(rec)
        if locked:
            raise CryptoError(f"record {rid} is sealed and volume {rec.volume} is locked: "
                              f"`dangan volume unlock {rec.volume}` first")
        rec = opened
    # a loan, or an export approval on file (a grant, an approved transfer list), is the authority to hand it out
    if "export" not in approvals_for(archive, plugin_actor(archive).name, rid) | approvals:
        from dangan.core.policy.loan_policy import require_loan
        require_loan(archive, rec, "export")
    return rec


REGISTER = "移交清单.pdf"
SECRECY_ZH = {"public": "公开", "internal": "内部", "secret": "秘密", "confidential": "机密", "top-secret": "绝密"}
RETENTION_ZH = {"permanent": "永久", "long-term": "长期", "short-term": "短期"}


def _register_pdf(archive: Archive, recs: list, info: dict, receiver: str) -> bytes:
    """The 移交清单 of the bag: one line per record in archival-code order, the bag's fixity, signatures."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.transfer_register import transfer_register_form
    rows = [{"序号": n, "档号": r.archival_code or r.id, "题名": r.title, "日期": r.date or "",
             "保管期限": RETENTION_ZH.get(r.retention or "", r.retention or ""),
             "密级": SECRECY_ZH.get(r.secrecy or "", r.secrecy or ""), "文件数": len(r.files),
             "字节数": sum(f.size for f in r.files)}
            for n, r in enumerate(sorted(recs, key=lambda r: (r.archival_code or "", r.id)), 1)]
    name = archive.config.name or archive.config.fonds
    return render_form(transfer_register_form({**info, "from": name, "to": receiver, "fonds": archive.config.fonds},
                                              rows, archive_name=name))


def export_bag(archive: Archive, ids: list[str], dest: Path, *, approvals: frozenset = frozenset(),
               info_extra: tuple = (), receiver: str = "") -> dict:
    from dangan.core.catalogue.audit import PREMIS, events
    from dangan.core.management.transfer_sign import fingerprint, public_bytes, sign, signing_key
    from dangan.core.management.transfer_xml import record_xml
    from dangan.core.store.retrieval import get_files
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not an empty folder: choose a new one")
    recs = [_check(archive, rid, frozenset(approvals)) for rid in ids]            # every refusal before anything is written
    private = signing_key(archive)          # the archive's key signs each metadata.xml (DA/T 48 电子签名块)
    key_fp = fingerprint(public_bytes(private)) if private is not None else None
    work = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        for rec in recs:
            base = work / "data" / rec.id
            get_files(archive, rec.id, base / "files", approvals=frozenset({"export"}))
            (base / "metadata.json").write_text(json.dumps(rec.to_dict(), ensure_ascii=False, indent=1,
                                                           sort_keys=True) + "\n", encoding="utf-8")
            history = list(events(archive.conn, obj=rec.id))
            evs = [{**e.to_dict(), "premis_type": PREMIS.get(e.action) or e.action} for e in history]
            now = utc_text()                  # the catalogue's UTC text (…Z), as every time core writes
            organisation = archive.config.name or archive.config.fonds
            (base / "metadata.xml").write_bytes(sign(record_xml(
                rec, history, organisation=organisation, fonds=archive.config.fonds, created=now),
                private=private, signer=archive.actor.name, organisation=organisation, time=now))
            (base / "premis-events.json").write_text(json.dumps(evs, ensure_ascii=False, indent=1) + "\n",
                                                     encoding="utf-8")
        manifest, total, count = [], 0, 0
        for p in sorted((work / "data").rglob("*")):
            if p.is_file():
                manifest.append(f"{_sha512(p)}  {_enc(p.relative_to(work).as_posix())}\n")
                total += p.stat().st_size
                count += 1
        (work / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
        (work / "manifest-sha512.txt").write_text("".join(manifest), encoding="utf-8")
        info = [("Source-Organization", archive.config.name or archive.config.fonds),
                ("Bagging-Date", dt.date.today().isoformat()), ("Bag-Software-Agent", "dangan"),
                ("Payload-Oxum", f"{total}.{count}"), ("Fonds", archive.config.fonds),
                ("External-Description", f"{len(recs)} record(s) exported by {archive.actor.name}")]
        info += [("Archival-Code", f"{r.archival_code or '-'} {r.id}") for r in recs] + list(info_extra)
        if receiver:
            info.append(("Receiving-Organization", receiver))
        if key_fp:
            info.append(("Transfer-Signing-Key", key_fp))
        (work / "bag-info.txt").write_text("".join(f"{k}: {v}\n" for k, v in info), encoding="utf-8")
        (work / REGISTER).write_bytes(_register_pdf(archive, recs, {
            "date": dt.date.today().isoformat(), "records": len(recs), "files": sum(len(r.files) for r in recs),
            "bytes": total,
            "payload_oxum": f"{total}.{count}", "manifest_sha512": _sha512(work / "manifest-sha512.txt"),
            "signing_key": key_fp}, receiver))
        tags = [f"{_sha512(work / n)}  {n}\n" for n in ("bagit.txt", "bag-info.txt", "manifest-sha512.txt", REGISTER)]
        (work / "tagmanifest-sha512.txt").write_text("".join(tags), encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with archive.transaction() as conn:
        for rec in recs:
            archive.audit(conn, "record.export", rec.id, details={"format": "bagit", "to": str(dest)})
        archive.audit(conn, "export.bagit", details={"to": str(dest), "records": [r.id for r in recs],
                                                     "files": count, "bytes": total, "receiver": receiver or None})
    return {"bag": str(dest), "records": [r.id for r in recs], "files": count, "bytes": total, "signing_key": key_fp,
            "register": str(dest / REGISTER),
            "payload_oxum": f"{total}.{count}", "manifest_sha512": _sha512(dest / "manifest-sha512.txt")}
