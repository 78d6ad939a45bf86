"""Destroying a record: content gone from store, index and keys; a tombstone and a certificate remain.

The record's OCFL object is purged and replaced by a *tombstone object* under
the same id whose only file is ``metadata.json`` (status ``destroyed``, the
plain allow-list fields and the destruction certificate), so the store stays
the source of truth: ``rebuild-catalogue`` brings the tombstone back, never
the record.  A sealed record's key is shredded in every keystore copy first
(crypto-shredding), so its ciphertext — in old backups too — can never be
read again.  Plugins may veto through the ``dangan_destroy`` wrapper.

Refused here, whoever calls: a record under a legal hold (``holds.RecordHeld``),
a permanent record, and a record with an issued loan or an open loan request.

**Order** (``destruction_intent``): the intent — tombstone, certificate and
audit details fixed in advance — is committed first; then the key is
shredded, the object set aside out of the storage root, the tombstone
published, and one transaction rewrites the catalogue from the tombstone with
the ``record.destroy`` event and the list item's outcome; the set-aside
object is deleted only after that commit.  A crash anywhere after the intent
is rolled forward by the next command.  Approval is the caller's part: ``disposition.execute``
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

import hashlib
import json
from typing import TYPE_CHECKING

from dangan.model import Record
from dangan.core.store.layout import metadata_document
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

GONE = ("destroyed", "transferred")
PLAIN_FIELDS = ("id", "fonds", "archival_code", "department", "category", "year", "date", "retention", "secrecy",
                "volume", "created")


def destroy_record(archive: Archive, ref: str, *, reason: str, approved_by: str | None = None,
                   approval: dict | None = None, list_id: str | None = None) -> dict:
    return _remove(archive, ref, "destroyed", reason=reason, approved_by=approved_by, approval=approval,
                   list_id=list_id)


def transfer_record(archive: Archive, ref: str, *, bag: dict, reason: str, approved_by: str | None = None,
                    approval: dict | None = None, list_id: str | None = None) -> dict:
    """After the record went out in ``bag`` (``{"bag", "manifest_sha512", "payload_oxum", ...}``)."""
    return _remove(archive, ref, "transferred", reason=reason, approved_by=approved_by, approval=approval, bag=bag,
                   list_id=list_id)


def refusal(archive: Archive, rec: Record, doing: str) -> str | None:
    """Why ``rec`` cannot be ``doing`` (destroyed/transferred) now, or None: gone, permanent, on loan."""
    from dangan.core.management.lending import on_loan
    if rec.status in GONE:
        return f"record {rec.id} was {rec.status} already"
    if (rec.retention or "") == "permanent":
        return f"record {rec.id} is kept permanently: it can never be {doing}"
    loan = on_loan(archive, rec.id)
    if loan:
        return f"record {rec.id} is on loan {loan} (issued or requested): it is not {doing} until returned"
    return None


def _remove(archive: Archive, ref: str, status: str, *, reason: str, approved_by: str | None, approval: dict | None,
            bag: dict | None = None, list_id: str | None = None) -> dict:
    from dangan.errors import UsageError
    from dangan.model import is_confidential
    from dangan.core.management import destruction_intent as intent
    from dangan.core.management.holds import assert_not_held
    intent.recover(archive)              # an interrupted destruction of this record is finished first
    rec = archive.record(ref)
    why = refusal(archive, rec, status)
    if why:
        raise UsageError(why)
    assert_not_held(archive, rec.id, status)
    from dangan.core.catalogue.audit_anchor import require_intact
    require_intact(archive)                 # never shred or purge what the trail could not then record
    if (rec.retention or "") == "permanent":
        raise UsageError(f"record {rec.id} is kept permanently: it can never be {status}")
    row = archive.conn.execute("SELECT sealed, piece_class, piece FROM records WHERE id = ?", (rec.id,)).fetchone()
    sealed = row["sealed"]
    if sealed:          # the key must be in this keystore (or gone already) before the destruction is decided
        from dangan.core.catalogue.volumes import open_keystore
        ks = open_keystore(archive)
        if ks.destroyed(rec.id) is None:
            ks.record_volume(rec.id)         # NotFound names the keystore that lacks it: nothing was changed
    now = utc_text()
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
    title = "" if sealed or is_confidential(rec.secrecy or "public") else rec.title
    tomb = Record(**{k: getattr(rec, k) for k in PLAIN_FIELDS}, title=title, status=status, version=1,
                  updated=now, metadata={})
    tombstone = metadata_document(tomb, {}, {"destruction" if bag is None else "transfer": certificate,
                                             "piece_class": row["piece_class"], "piece": row["piece"]})
    event = {"reason": reason, "approved_by": approved_by, "certificate_sha256": certificate["certificate_sha256"],
             "crypto_shredded": bool(sealed), **({"bag": bag} if bag else {}), **({"list": list_id} if list_id else {})}

    def guard():            # inside the intent's transaction: nobody adds a hold or a loan in between
        fresh = archive.record(rec.id)
        why = refusal(archive, fresh, status) or ("" if fresh.version == rec.version else
                                                  f"record {rec.id} changed meanwhile: try again")
        if why:
            raise UsageError(why)
        assert_not_held(archive, rec.id, status)

    def perform():
        with intent.record_lock(archive, rec.id):
            started = intent.begin(archive, rid=rec.id, status=status, list_id=list_id, tombstone=tombstone,
                                   certificate=certificate, event=event, sealed=bool(sealed), created=now,
                                   guard=guard)
            try:
                return intent.roll_forward(archive, started)
            finally:
                intent.release_lease(archive, rec.id)     # done, or left to recovery (any machine, PostgreSQL)

    plugins = archive.plugins
    from dangan.core.policy.access import plugin_actor
    result = plugins.destroy(rec, plugin_actor(archive), reason, perform)
    from dangan.core.search.indexing import drain
    drain(archive)
    from dangan.core.backup import api as backup
    backup.purge_after_destruction(archive)     # at once where the backup key is at hand; else at the next run
    return result if isinstance(result, dict) else certificate


def transfer_batch(archive: Archive, ids: list[str], dest, *, list_id: str, reasons: dict[str, str],
                   approved_by: str | None, approval: dict | None) -> tuple[dict, dict[str, tuple[str, str | None]]]:
    """Export ``ids`` as one BagIt bag at ``dest`` for the receiving archive, then tombstone each.

    Returns the bag's description and ``{record id: (outcome, certificate sha256)}``.  The bag is written
    first (every record checked before anything is written); a record refused afterwards stays here and
    says so ("in the bag, not transferred: ...")."""
    from dangan.errors import AccessDenied, PluginError, UsageError
    from dangan.core.management.export_bagit import export_bag
    out = export_bag(archive, ids, dest, approvals=frozenset({"export"}),
                     info_extra=(("Transfer-List", list_id), ("Transfer-Approved-By", approved_by or "-")))
    bag = {"bag": out["bag"], "manifest_sha512": out["manifest_sha512"], "payload_oxum": out["payload_oxum"],
           "records": out["records"], "list": list_id}
    outcomes: dict[str, tuple[str, str | None]] = {}
    for rid in ids:
        try:
            cert = transfer_record(archive, rid, bag=bag, reason=reasons.get(rid, f"transfer list {list_id}"),
                                   approved_by=approved_by, approval=approval, list_id=list_id)
            outcomes[rid] = ("transferred", cert["certificate_sha256"])
        except (UsageError, AccessDenied, PluginError) as exc:
            outcomes[rid] = (f"in the bag, not transferred: {exc.message}", None)
    archive.record_event("disposition.transfer", list_id, details={**bag, "outcomes": {
        r: o for r, (o, _s) in outcomes.items()}})
    return bag, outcomes
