"""``dangan check``: every digest recomputed, store and catalogue compared.

The OCFL rules themselves are checked by ``repository.validate`` (our own
validator, the same code that passes the official fixtures); here we add
what only the archive knows: every object has its record and every record
its object, and the catalogue says what the store says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from dangan.repository.ocfl import vnum
from dangan.core.catalogue import records

if TYPE_CHECKING:
    from pathlib import Path

    from dangan.core.archive import Archive


@dataclass(frozen=True)
class Problem:
    record_id: str
    message: str

    def to_dict(self) -> dict:
        return {"record_id": self.record_id, "message": self.message}


def check(archive: Archive, ref: str | None = None, *, digests: bool = True, decrypt: bool = False,
          progress: Callable[[int, int], None] | None = None) -> list[Problem]:
    from dangan.repository.validate import validate_object

    from dangan.core.catalogue.audit_verify import verify as verify_audit
    from dangan.core.store.recovery import recover_interrupted

    problems: list[Problem] = []
    trail = verify_audit(archive)          # the audit trail and its anchors (a broken one takes no event)
    problems.extend(Problem("audit", p) for p in trail.problems)
    if trail.ok:
        recover_interrupted(archive)     # finish writes a crash interrupted: completing them is not damage
    store = archive.store
    conn = archive.conn
    # writes under way (a live writer's, or a dead one's whose lease has not ended: another machine's recovery
    # settles it then): what they have published is valid but the catalogue does not name it yet
    writing = {r["object_id"] for r in conn.execute("SELECT object_id FROM ingest_intents")}
    for row in conn.execute("SELECT record_id, created, actor, host FROM destruction_intents"):   # not completable
        problems.append(Problem(row["record_id"], f"destruction begun {row['created']} by {row['actor']} on"
                                f" {row['host']} is not completed (under way there, or blocked: see the warnings)"))
    if ref is not None:
        rid = archive.resolve(ref)
        targets = [(rid, None if store.remote else store.object_path(rid))]
    else:
        targets = list(_store_objects(store, problems))
        in_store = {rid for rid, _ in targets}
        for row in conn.execute("SELECT id FROM records WHERE status != 'destroyed'"):
            if row["id"] not in in_store:
                problems.append(Problem(row["id"], "in the catalogue but missing from the store"))
        problems.extend(_piece_counters(conn))
        problems.extend(_record_keys(archive))
    for i, (rid, root) in enumerate(targets):
        if progress:
            progress(i + 1, len(targets))
        if not (store.exists(rid) if root is None else root.exists()):
            problems.append(Problem(rid, "in the catalogue but missing from the store"))
            continue
        with store.local_object(rid, trusted=rid in writing) as local:    # a bucket's: a private local copy
            report = validate_object(local, expected_id=rid, check_digests=digests)
        for p in report.errors:
            problems.append(Problem(rid, f"{p.code} {p.message}"))
        if report.errors:
            continue
        if rid in writing and _published_ahead(archive, rid):
            continue                   # a live writer's version, published, not yet committed: compared once it is
        problems.extend(_compare(archive, rid))
        if decrypt:
            problems.extend(_plaintext_fixity(archive, rid))
    outcome = "success" if not problems else "failure"
    if trail.ok:
        archive.record_event("archive.check", ref or "", outcome, details={
            "objects": len(targets), "problems": len(problems), "digests": digests,
            "first_problems": [p.message for p in problems[:5]]})
    return problems


def _piece_counters(conn) -> list[Problem]:
    """Every class's piece counter at or above its records' highest piece number (件号)."""
    out = []
    for r in conn.execute("SELECT r.piece_class AS cls, max(r.piece) AS top, c.last AS last FROM records r"
                          " LEFT JOIN piece_counters c ON c.class_key = r.piece_class"
                          " WHERE r.piece_class IS NOT NULL AND r.piece IS NOT NULL GROUP BY r.piece_class, c.last"):
        if r["last"] is None or r["last"] < r["top"]:
            out.append(Problem("piece_counters", f"the piece counter of {r['cls']} is at {r['last'] or 0} but its "
                                                 f"records go up to piece {r['top']} (new pieces are numbered after "
                                                 "the highest; `dangan rebuild-catalogue` resets the counter)"))
    return out


def _record_keys(archive: Archive) -> list[Problem]:
    """Every active sealed record still has its key: a shredded one (a destruction interrupted between
    shredding and purging) means the content can never be read again.  Not checked where no keystore is
    at hand (a copy of the archive carries no key)."""
    from dangan.errors import DanganError
    from dangan.core.catalogue.volumes import open_keystore
    rows = archive.conn.execute("SELECT id FROM records WHERE sealed IS NOT NULL AND sealed != ''"
                                " AND status NOT IN ('destroyed', 'transferred') ORDER BY id").fetchall()
    if not rows:
        return []
    try:
        ks = open_keystore(archive)
    except DanganError:
        return []
    out = []
    for r in rows:
        rid = r["id"]
        gone = ks.destroyed(rid)
        if gone:
            out.append(Problem(rid, f"the record is active but its key was shredded on {gone}: its content can never "
                                    "be read again (a destruction interrupted after shredding; run `dangan "
                                    "disposition execute` on its list to finish it)"))
            continue
        try:
            ks.record_volume(rid)
        except DanganError as exc:
            out.append(Problem(rid, f"the record is sealed but has no key: {exc.message}"))
    return out


def _store_objects(store, problems: list[Problem]) -> Iterator[tuple[str, Path | None]]:
    if store.remote:                        # in a bucket: keys are made from the id, so each is where it belongs
        for rid in store.object_ids():
            yield rid, None
        return
    for root in store.iter_object_roots():
        try:
            rid = json.loads((root / "inventory.json").read_bytes())["id"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(str(root.relative_to(store.root)), f"unreadable inventory: {exc}"))
            continue
        if store.object_path(rid) != root:
            problems.append(Problem(rid, f"object is at {root.relative_to(store.root)}, not where the layout puts it"))
        yield rid, root


def _plaintext_fixity(archive: Archive, rid: str) -> list[Problem]:
    """Decrypt a sealed record's files (its volume unlocked) and compare the sealed plaintext digests."""
    import hashlib

    from dangan.errors import CryptoError
    from dangan.core.confidential.sealing import PLAINTEXT_DIGEST, decrypt_chunks, opened, record_key
    row = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()
    if row is None or not row["sealed"]:
        return []
    rec = archive.record(rid)
    try:
        key = record_key(archive, rec)
        _full, files = opened(archive, rec, row["sealed"], key)
        out = []
        for stored in archive.store.files(rid):
            want = (files.get(stored.logical_path) or {}).get(PLAINTEXT_DIGEST)
            if not want:
                continue
            h = hashlib.new(PLAINTEXT_DIGEST)
            for chunk in decrypt_chunks(archive, rec, stored, key):
                h.update(chunk)
            if h.hexdigest() != want:
                out.append(Problem(rid, f"{stored.logical_path}: decrypted content differs from its sealed digest"))
        return out
    except CryptoError as exc:
        return [Problem(rid, f"not decrypted: {exc.message}")]


def _published_ahead(archive: Archive, rid: str) -> bool:
    """The store holds the version an open intent is writing: a new object the catalogue has no row for yet, or
    a head one past the catalogue's version."""
    row = archive.conn.execute("SELECT version FROM records WHERE id = ?", (rid,)).fetchone()
    return row is None or vnum(archive.store.inventory(rid)["head"]) == row["version"] + 1


def _compare(archive: Archive, rid: str) -> list[Problem]:
    from dangan.core.store.layout import read_metadata

    out: list[Problem] = []
    row = archive.conn.execute("SELECT * FROM records WHERE id = ?", (rid,)).fetchone()
    if row is None:
        return [Problem(rid, "in the store but missing from the catalogue (run `dangan rebuild-catalogue`)")]
    inv = archive.store.inventory(rid)
    head = vnum(inv["head"])
    if row["version"] != head:
        out.append(Problem(rid, f"catalogue says version {row['version']}, the store's head is v{head}"))
        return out
    try:
        stored = read_metadata(archive.store, rid, head)
    except Exception as exc:  # noqa: BLE001 - any unreadable metadata is a finding, reported by name
        return [Problem(rid, f"metadata.json: {exc}")]
    state = {f.logical_path: f.digest for f in archive.store.files(rid, head, inv)}
    for f in archive.conn.execute("SELECT path, sha512 FROM files WHERE record_id = ? AND version = ?", (rid, head)):
        if state.get(f["path"]) != f["sha512"]:
            out.append(Problem(rid, f"catalogue digest of {f['path']} differs from the store's"))
    fields = ["title", "department", "category", "year", "date", "retention", "secrecy", "volume", "archival_code",
              "status"]
    if row["archival_code"] is None and stored.archival_code:
        holder = records.code_holder(archive.conn, stored.archival_code, other_than=rid)
        if holder is not None:
            fields.remove("archival_code")
            out.append(Problem(rid, f"the store gives it archival code {stored.archival_code}, which record {holder} "
                                    "holds too (an interrupted ingest adopted without its code): give one of them a "
                                    "new code"))
    for field in fields:
        if getattr(stored, field) != row[field]:
            out.append(Problem(rid, f"catalogue {field} {row[field]!r} differs from the store's {getattr(stored, field)!r}"))
    return out
