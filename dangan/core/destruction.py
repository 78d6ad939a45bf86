"""Destroying a record: content gone from store, index and keys; a tombstone and a certificate remain.

The record's OCFL object is purged and replaced by a *tombstone object* under
the same id whose only file is ``metadata.json`` (status ``destroyed``, the
plain allow-list fields and the destruction certificate), so the store stays
the source of truth: ``rebuild-catalogue`` brings the tombstone back, never
the record.  A sealed record's key is shredded in every keystore copy first
(crypto-shredding), so its ciphertext — in old backups too — can never be
read again.  Plugins may veto through the ``dangan_destroy`` wrapper.

Refused here, whoever calls: a record under a legal hold (``holds.RecordHeld``)
and a permanent record.  Approval is the caller's part: ``disposition.execute``
passes the approver and the destruction list's approval chain (``approval``),
which the certificate and the tombstone keep.  The title stays in the
tombstone unless the record is confidential (secret and above).

**Transfer** (``transfer_record``, called by ``disposition.execute`` after
the records were exported as a BagIt bag for the receiving archive) takes
the same path: once transferred the archive no longer holds the record, so
its content, index entries and (sealed) key go, backups owe a purge, and a
tombstone of status ``transferred`` keeps the identity, the approval chain
and a transfer certificate naming the bag and the sha512 digest of its
``manifest-sha512.txt`` (which in turn fixes every payload file's digest).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from ..model import Record
from . import records as rows
from .storage import METADATA_PATH, metadata_document

PLAIN_FIELDS = ("id", "fonds", "archival_code", "department", "category", "year", "date", "retention", "secrecy",
                "volume", "created")


def destroy_record(archive, ref: str, *, reason: str, approved_by: str | None = None,
                   approval: dict | None = None) -> dict:
    return _remove(archive, ref, "destroyed", reason=reason, approved_by=approved_by, approval=approval)


def transfer_record(archive, ref: str, *, bag: dict, reason: str, approved_by: str | None = None,
                    approval: dict | None = None) -> dict:
    """After the record went out in ``bag`` (``{"bag", "manifest_sha512", "payload_oxum", ...}``)."""
    return _remove(archive, ref, "transferred", reason=reason, approved_by=approved_by, approval=approval, bag=bag)


def _remove(archive, ref: str, status: str, *, reason: str, approved_by: str | None, approval: dict | None,
            bag: dict | None = None) -> dict:
    from ..errors import UsageError
    from ..model import is_confidential
    from .holds import assert_not_held
    rec = archive.record(ref)
    if rec.status in ("destroyed", "transferred"):
        raise UsageError(f"record {rec.id} was {rec.status} already")
    assert_not_held(archive, rec.id, status)
    from .audit_anchor import require_intact
    require_intact(archive)                 # never shred or purge what the trail could not then record
    if (rec.retention or "") == "permanent":
        raise UsageError(f"record {rec.id} is kept permanently: it can never be {status}")
    row = archive.conn.execute("SELECT sealed, piece_class, piece FROM records WHERE id = ?", (rec.id,)).fetchone()
    sealed = row["sealed"]
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    verb = "destroyed" if status == "destroyed" else "transferred"
    certificate = {
        "record_id": rec.id, "archival_code": rec.archival_code, f"{verb}_at": now, f"{verb}_by": archive.actor.name,
        **({"transfer": bag} if bag else {}),
        "approved_by": approved_by, "approval": approval, "reason": reason, "versions": rec.version, "crypto_shredded": bool(sealed),
        # digests of what was stored (ciphertext for sealed records): proof of what was destroyed, not content
        "stored_digests": sorted({f.digest for v in range(1, rec.version + 1)
                                  for f in archive.store.files(rec.id, v)}),
    }
    certificate["certificate_sha256"] = hashlib.sha256(
        json.dumps(certificate, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def perform():
        if sealed:
            from .volumes import open_keystore
            open_keystore(archive).shred_record(rec.id)
            archive.__dict__.get("_record_keys", {}).pop(rec.id, None)
        archive.store.purge(rec.id)
        title = "" if sealed or is_confidential(rec.secrecy or "public") else rec.title
        tomb = Record(**{k: getattr(rec, k) for k in PLAIN_FIELDS}, title=title, status=status, version=1,
                      updated=now, metadata={})
        message = f"tombstone: record {verb}"
        with archive.store.stage(rec.id) as draft:
            draft.add_bytes(METADATA_PATH, metadata_document(tomb, {}, {
                "destruction" if bag is None else "transfer": certificate, "piece_class": row["piece_class"],
                "piece": row["piece"]}))
            draft.publish(message=message, user_name=archive.actor.name, created=now)
        with archive.transaction() as conn:
            conn.execute("DELETE FROM files WHERE record_id = ?", (rec.id,))
            conn.execute("DELETE FROM versions WHERE record_id = ?", (rec.id,))
            conn.execute("DELETE FROM records WHERE id = ?", (rec.id,))
            rows.insert_record(conn, tomb, actor=archive.actor.name, message=message,
                               original_names={}, piece_class=row["piece_class"], piece=row["piece"])
            conn.execute("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, 'delete', ?)", (rec.id, now))
            archive.audit(conn, "record.destroy" if bag is None else "record.transfer", rec.id, details={
                "reason": reason, "approved_by": approved_by, "certificate_sha256": certificate["certificate_sha256"],
                "crypto_shredded": bool(sealed), **({"bag": bag} if bag else {})})
            from . import backup
            backup.note_destruction(archive, conn, rec.id, certificate)   # every backup repo owes a purge
        return certificate

    plugins = archive.plugins
    from .access import plugin_actor
    result = plugins.destroy(rec, plugin_actor(archive), reason, perform)
    from .indexing import drain
    drain(archive)
    from . import backup
    backup.purge_after_destruction(archive)     # at once where the backup key is at hand; else at the next run
    return result if isinstance(result, dict) else certificate


def transfer_batch(archive, ids: list[str], dest, *, list_id: str, reasons: dict[str, str],
                   approved_by: str | None, approval: dict | None) -> tuple[dict, dict[str, tuple[str, str | None]]]:
    """Export ``ids`` as one BagIt bag at ``dest`` for the receiving archive, then tombstone each.

    Returns the bag's description and ``{record id: (outcome, certificate sha256)}``.  The bag is written
    first (every record checked before anything is written); a record refused afterwards stays here and
    says so ("in the bag, not transferred: ...")."""
    from ..errors import AccessDenied, PluginError, UsageError
    from .export_bagit import export_bag
    out = export_bag(archive, ids, dest, approvals=frozenset({"export"}),
                     info_extra=(("Transfer-List", list_id), ("Transfer-Approved-By", approved_by or "-")))
    bag = {"bag": out["bag"], "manifest_sha512": out["manifest_sha512"], "payload_oxum": out["payload_oxum"],
           "records": out["records"], "list": list_id}
    outcomes: dict[str, tuple[str, str | None]] = {}
    for rid in ids:
        try:
            cert = transfer_record(archive, rid, bag=bag, reason=reasons.get(rid, f"transfer list {list_id}"),
                                   approved_by=approved_by, approval=approval)
            outcomes[rid] = ("transferred", cert["certificate_sha256"])
        except (UsageError, AccessDenied, PluginError) as exc:
            outcomes[rid] = (f"in the bag, not transferred: {exc.message}", None)
    archive.record_event("disposition.transfer", list_id, details={**bag, "outcomes": {
        r: o for r, (o, _s) in outcomes.items()}})
    return bag, outcomes
