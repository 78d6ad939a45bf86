"""Record rows in the catalogue: writing, reading, listing, resolving ids."""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from dangan.errors import NotFound, UsageError
from dangan.model import Record, RecordFile
from dangan.core.catalogue import folded

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"   # Crockford base32, lower case
ID_LENGTH = 13


def new_record_id() -> str:
    """A stable, random record id (60 bits): 'd' + 12 base32 characters."""
    import secrets
    n = secrets.randbits(60)
    chars = []
    for _ in range(12):
        chars.append(_ALPHABET[n & 31])
        n >>= 5
    return "d" + "".join(chars)


def resolve_id(conn: sqlite3.Connection, ref: str) -> str:
    """A full id, or a unique prefix of at least 4 characters, or an archival code."""
    ref = ref.strip()
    row = conn.execute("SELECT id FROM records WHERE id = ? OR archival_code = ?", (ref, ref)).fetchone()
    if row:
        return row["id"]
    if len(ref) >= 4 and all(c in _ALPHABET for c in ref[1:]):
        rows = conn.execute("SELECT id FROM records WHERE id >= ? AND id < ? LIMIT 2",
                            (ref, ref + "\uffff")).fetchall()
        if len(rows) == 1:
            return rows[0]["id"]
        if len(rows) > 1:
            raise UsageError(f"record id prefix {ref!r} is ambiguous: give more characters")
    raise NotFound(f"no record {ref!r} in this archive")


def next_piece(conn: sqlite3.Connection, piece_class: str) -> int:
    """The next piece number (件号) of a class: above both its counter and every record's piece, so a counter
    left behind (edited, or restored from an older copy) never hands out a number already taken."""
    counter = conn.execute("SELECT last FROM piece_counters WHERE class_key = ?", (piece_class,)).fetchone()
    used = conn.execute("SELECT max(piece) AS top FROM records WHERE piece_class = ?", (piece_class,)).fetchone()
    return max(counter["last"] if counter else 0, used["top"] or 0) + 1


def code_holder(conn: sqlite3.Connection, archival_code: str | None, *, other_than: str = "") -> str | None:
    """The id of the record holding ``archival_code`` (other than ``other_than``), if any."""
    if not archival_code:
        return None
    row = conn.execute("SELECT id FROM records WHERE archival_code = ? AND id != ?",
                       (archival_code, other_than)).fetchone()
    return row["id"] if row else None


def short_id_length(conn: sqlite3.Connection, minimum: int = 6) -> int:
    """How many leading characters tell every record id of the catalogue apart (at least ``minimum``)."""
    n, prev = minimum, ""
    for (rid,) in conn.execute("SELECT id FROM records ORDER BY id"):
        common = next((i for i, (a, b) in enumerate(zip(prev, rid)) if a != b), min(len(prev), len(rid)))
        n = max(n, common + 1)
        prev = rid
    return n


def insert_record(conn: sqlite3.Connection, rec: Record, *, actor: str, message: str,
                  original_names: dict[str, str], piece_class: str | None, piece: int | None,
                  sealed: str | None = None) -> None:
    main = rec.main_file
    conn.execute(
        "INSERT INTO records (id, fonds, archival_code, piece_class, piece, title, department, category, year, date,"
        " retention, secrecy, volume, tags, metadata, status, version, created, updated, main_sha512, main_mime,"
        " main_name, extraction_status, extraction_message, sealed, " + ", ".join(folded.FOLDED) + ")"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?" + ",?" * len(folded.FOLDED) + ")",
        (rec.id, rec.fonds, rec.archival_code, piece_class, piece, rec.title, rec.department, rec.category,
         rec.year, rec.date, rec.retention, rec.secrecy, rec.volume, json.dumps(sorted(rec.tags), ensure_ascii=False),
         json.dumps(rec.metadata, ensure_ascii=False, sort_keys=True), rec.status, rec.version, rec.created, rec.updated,
         main.sha512 if main else None, main.mime if main else None, main.path if main else None,
         rec.extraction.get("status"), rec.extraction.get("message"), sealed, *_folded(rec)))
    insert_version(conn, rec, actor=actor, message=message, original_names=original_names)


def update_record(conn: sqlite3.Connection, rec: Record, *, actor: str, message: str,
                  original_names: dict[str, str], sealed: str | None = None) -> None:
    main = rec.main_file
    conn.execute(
        "UPDATE records SET archival_code=?, title=?, department=?, category=?, year=?, date=?, retention=?,"
        " secrecy=?, volume=?, tags=?, metadata=?, status=?, version=?, updated=?, main_sha512=?, main_mime=?,"
        " main_name=?, extraction_status=?, extraction_message=?, sealed=?, "
        + ", ".join(f"{c}=?" for c in folded.FOLDED) + " WHERE id=?",
        (rec.archival_code, rec.title, rec.department, rec.category, rec.year, rec.date, rec.retention,
         rec.secrecy, rec.volume, json.dumps(sorted(rec.tags), ensure_ascii=False),
         json.dumps(rec.metadata, ensure_ascii=False, sort_keys=True), rec.status, rec.version, rec.updated,
         main.sha512 if main else None, main.mime if main else None, main.path if main else None,
         rec.extraction.get("status"), rec.extraction.get("message"), sealed, *_folded(rec), rec.id))
    insert_version(conn, rec, actor=actor, message=message, original_names=original_names)


def _folded(rec: Record) -> tuple:
    return folded.values({c: getattr(rec, c) for c in folded.COLUMNS}, sorted(rec.tags), rec.metadata)


def insert_version(conn: sqlite3.Connection, rec: Record, *, actor: str, message: str,
                   original_names: dict[str, str]) -> None:
    conn.execute("INSERT INTO versions (record_id, version, created, actor, message) VALUES (?,?,?,?,?)",
                 (rec.id, rec.version, rec.updated, actor, message))
    conn.executemany(
        "INSERT INTO files (record_id, version, path, role, size, sha512, mime, mime_by_extension, mime_mismatch,"
        " original_name, puid, format_name, format_basis) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(rec.id, rec.version, f.path, f.role, f.size, f.sha512, f.mime, f.mime_by_extension, int(f.mime_mismatch),
          original_names.get(f.path, f.path), f.puid, f.format_name, f.format_basis)
         for f in rec.files + rec.derivatives])


def row_to_record(conn: sqlite3.Connection, row: sqlite3.Row, *, with_files: bool = True) -> Record:
    rec = Record(
        id=row["id"], fonds=row["fonds"], title=row["title"], department=row["department"],
        category=row["category"], year=row["year"], date=row["date"], retention=row["retention"],
        secrecy=row["secrecy"], volume=row["volume"], archival_code=row["archival_code"],
        tags=json.loads(row["tags"]), metadata=json.loads(row["metadata"]), version=row["version"],
        created=row["created"], updated=row["updated"], status=row["status"],
        extraction={k: v for k, v in (("status", row["extraction_status"]),
                                      ("message", row["extraction_message"])) if v is not None},
    )
    if with_files:
        every = files_of(conn, rec.id, rec.version, with_derivatives=True)
        rec.files = [f for f in every if f.role != "derivative"]
        rec.derivatives = [f for f in every if f.role == "derivative"]
    return rec


def files_of(conn: sqlite3.Connection, record_id: str, version: int, *,
             with_derivatives: bool = False) -> list[RecordFile]:
    """A version's original files (main first, then attachments); ``with_derivatives``: its derivatives too."""
    rows = conn.execute("SELECT * FROM files WHERE record_id = ? AND version = ?"
                        + ("" if with_derivatives else " AND role != 'derivative'")
                        + " ORDER BY role != 'main', path", (record_id, version))
    return [RecordFile(path=r["path"], role=r["role"], size=r["size"], sha512=r["sha512"], mime=r["mime"],
                       mime_by_extension=r["mime_by_extension"], mime_mismatch=bool(r["mime_mismatch"]),
                       puid=r["puid"], format_name=r["format_name"], format_basis=r["format_basis"])
            for r in rows]


def get_record(conn: sqlite3.Connection, ref: str) -> Record:
    rid = resolve_id(conn, ref)
    row = conn.execute("SELECT * FROM records WHERE id = ?", (rid,)).fetchone()
    return row_to_record(conn, row)


def find_by_digest(conn: sqlite3.Connection, sha512: str) -> str | None:
    row = conn.execute("SELECT id FROM records WHERE main_sha512 = ? AND status != 'destroyed' LIMIT 1",
                       (sha512,)).fetchone()
    return row["id"] if row else None


#: Records as the filter language sees them (``mime`` is the main file's type).
LISTING_SOURCE = "SELECT * FROM (SELECT *, main_mime AS mime, lower(main_mime) AS mime_fold FROM records) AS listing"

SORTS = {"created": "created, id", "date": "date, id", "code": "archival_code, id", "title": "title, id",
         "id": "id"}


def list_records(conn: sqlite3.Connection, where: str = "", params: Iterable[Any] = (), *, sort: str = "created",
                 limit: int | None = None, offset: int = 0) -> list[Record]:
    if sort not in SORTS:
        raise UsageError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    sql = LISTING_SOURCE
    if where:
        sql += " WHERE " + where
    sql += " ORDER BY " + SORTS[sort]
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [row_to_record(conn, r, with_files=False) for r in conn.execute(sql, list(params))]

