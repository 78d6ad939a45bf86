"""Physical locations of paper originals (DA/T 22 §6): the tree 库房 (room) → 架 (shelf) → 层 (level) →
盒 (box), each box with a barcode, and the box each record's paper original is in.

A location's id is its path (``库房1/A架/3层/盒0007``), so ``dangan where`` reads it whole; a box moved to
another level keeps its barcode, and its records go with it (they point at the box).  Every change is
audited (``location.add``, ``box.fill``, ``box.move``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.errors import NotFound, UsageError
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

KINDS = ("room", "shelf", "level", "box")
LABELS = {"room": "库房", "shelf": "架", "level": "层", "box": "盒"}
#: What each kind may sit in (a box may also stand on its own, before it is shelved).
PARENT_KIND = {"room": None, "shelf": "room", "level": "shelf", "box": "level"}


def get(archive: Archive, ref: str) -> dict[str, Any]:
    row = archive.conn.execute("SELECT * FROM locations WHERE id = ? OR barcode = ?", (ref, ref)).fetchone()
    if row is None:
        raise NotFound(f"no location or box {ref!r} (see `dangan box list`)")
    return dict(row)


def add(archive: Archive, kind: str, name: str, parent: str | None = None) -> dict[str, Any]:
    if kind not in KINDS:
        raise UsageError(f"unknown location kind {kind!r}: use one of {', '.join(KINDS)}")
    name = name.strip()
    if not name or "/" in name or not name.isprintable() or len(name) > 100:
        raise UsageError(f"invalid {kind} name {name!r}: one line without '/'")
    want = PARENT_KIND[kind]
    if parent is not None:
        p = get(archive, parent)
        if p["kind"] != want:
            raise UsageError(f"a {kind} ({LABELS[kind]}) goes in a {want or 'nothing'}, not in a {p['kind']} "
                             f"({p['id']})")
        lid = f"{p['id']}/{name}"
    elif want is not None and kind != "box":
        raise UsageError(f"a {kind} ({LABELS[kind]}) goes in a {want}: give --in")
    else:
        lid = name
    if archive.conn.execute("SELECT 1 FROM locations WHERE id = ?", (lid,)).fetchone():
        raise UsageError(f"location {lid!r} exists already")
    with archive.transaction() as conn:
        barcode = None
        if kind == "box":
            n = conn.execute("SELECT count(*) FROM locations WHERE kind = 'box'").fetchone()[0] + 1
            barcode = f"{archive.config.fonds}-BOX-{n:06d}"
        conn.execute("INSERT INTO locations (id, kind, name, parent, barcode, created, created_by)"
                     " VALUES (?,?,?,?,?,?,?)", (lid, kind, name, parent and get(archive, parent)["id"], barcode,
                                                 utc_text(), archive.actor.name))
        archive.audit(conn, "location.add", lid, details={"kind": kind, "barcode": barcode})
    return get(archive, lid)


def fill(archive: Archive, box: str, record_ids: list[str]) -> list[str]:
    """Put the paper originals of these records into ``box`` (from wherever they were)."""
    from dangan.core.management.lending import paper_out
    b = get(archive, box)
    if b["kind"] != "box":
        raise UsageError(f"{b['id']} is a {b['kind']}, not a box")
    for r in record_ids:
        out = paper_out(archive.conn, r)
        if out:
            raise UsageError(f"the paper original of record {r} is out on loan {out['loan']} (借出, due {out['due']}):"
                             " it goes back into its box when returned (`dangan lend return`)")
    t = utc_text()
    with archive.transaction() as conn:
        moved = {r: row["box"] for r in record_ids
                 for row in conn.execute("SELECT box FROM record_locations WHERE record_id = ?", (r,))}
        conn.executemany("INSERT INTO record_locations (record_id, box, placed, placed_by) VALUES (?,?,?,?)"
                         " ON CONFLICT(record_id) DO UPDATE SET box = excluded.box, placed = excluded.placed,"
                         " placed_by = excluded.placed_by", [(r, b["id"], t, archive.actor.name) for r in record_ids])
        archive.audit(conn, "box.fill", b["id"], details={"records": record_ids, "from": moved})
    return record_ids


def move(archive: Archive, box: str, to: str | None) -> dict[str, Any]:
    """Put ``box`` on another level (None: off the shelves); it keeps its barcode and its records."""
    b = get(archive, box)
    if b["kind"] != "box":
        raise UsageError(f"{b['id']} is a {b['kind']}, not a box: only boxes move")
    parent = get(archive, to) if to else None
    if parent is not None and parent["kind"] != "level":
        raise UsageError(f"a box goes on a level (层), not in a {parent['kind']} ({parent['id']})")
    new_id = f"{parent['id']}/{b['name']}" if parent else b["name"]
    if new_id != b["id"] and archive.conn.execute("SELECT 1 FROM locations WHERE id = ?", (new_id,)).fetchone():
        raise UsageError(f"location {new_id!r} exists already")
    with archive.transaction() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("UPDATE locations SET id = ?, parent = ? WHERE id = ?", (new_id, parent and parent["id"], b["id"]))
        conn.execute("UPDATE record_locations SET box = ? WHERE box = ?", (new_id, b["id"]))
        archive.audit(conn, "box.move", b["barcode"], details={"from": b["id"], "to": new_id})
    return get(archive, new_id)


def list_locations(archive: Archive) -> list[dict[str, Any]]:
    return [dict(r) for r in archive.conn.execute(
        "SELECT l.*, (SELECT count(*) FROM record_locations p WHERE p.box = l.id) AS records,"
        " (SELECT count(*) FROM record_locations p JOIN loan_items i ON i.record_id = p.record_id AND i.paper_out = 1"
        "  AND i.issued_at IS NOT NULL AND i.returned_at IS NULL WHERE p.box = l.id) AS out_on_loan"
        " FROM locations l ORDER BY l.id")]


def where(archive: Archive, rid: str) -> dict[str, Any] | None:
    """The box a record's paper original is in, with the path up to its room; None if it has no place."""
    row = archive.conn.execute("SELECT * FROM record_locations WHERE record_id = ?", (rid,)).fetchone()
    if row is None:
        return None
    box = get(archive, row["box"])
    path: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = box
    while cur is not None:
        path.insert(0, {"kind": cur["kind"], "label": LABELS[cur["kind"]], "name": cur["name"]})
        cur = get(archive, cur["parent"]) if cur["parent"] else None
    from dangan.core.management.lending import paper_out
    out = paper_out(archive.conn, rid)
    return {"record_id": rid, "box": box["id"], "barcode": box["barcode"], "path": path,
            "placed": row["placed"], "placed_by": row["placed_by"],
            "status": "借出" if out else "在库", "out": out}
