"""How a record lives in its OCFL object.

Each version holds the record's files under their original names as logical
paths (main file and attachments), ``metadata.json`` with the catalogue
fields, and derivatives under ``.dangan/`` (extracted text).  A user's file
named ``metadata.json`` or ``.dangan`` is stored as ``_metadata.json`` /
``_.dangan``; the original name is always kept in ``metadata.json``.
"""
from __future__ import annotations

import json
from typing import Any

from dangan.errors import IntegrityError
from dangan.model import Extraction, Record, RecordFile
from dangan.repository.paths import safe_name, unique_name
from dangan.core.store.source_files import NAME_MAX, fit_name, shown_name

METADATA_PATH = "metadata.json"
DERIVATIVE_PREFIX = ".dangan/"
FORMAT = "dangan-record/1"


THUMBNAILS_PREFIX = DERIVATIVE_PREFIX + "thumbnails/"


def thumbnail_path(logical_path: str) -> str:
    """Where a file's thumbnail is kept: ``.dangan/thumbnails/<name>.png`` (plain records only)."""
    folder, _, name = logical_path.rpartition("/")
    return f"{THUMBNAILS_PREFIX}{folder + '/' if folder else ''}{fit_name(name + '.png')}"


def text_path(logical_path: str) -> str:
    """Where a file's extracted text is kept: ``.dangan/text/<name>.txt``.

    A name too long for ``<name>.txt`` to be one file name (NAME_MAX, 255 bytes) gets a
    shortened name with a hash of the full one.  Names that fit keep the form every store
    has always had, so derivatives written before are found under the same path."""
    folder, _, name = logical_path.rpartition("/")
    derivative = fit_name(name + ".txt")
    return f"{DERIVATIVE_PREFIX}text/{folder + '/' if folder else ''}{derivative}"


def logical_name(original: str, taken: set[str]) -> str:
    """The logical path of a user's file: its last name component as text (undecodable bytes
    escaped), never a reserved name, unique in the version and at most NAME_MAX bytes."""
    name = fit_name(shown_name(safe_name(original)))
    if name in (METADATA_PATH, ".dangan"):
        name = "_" + name
    name = unique_name(name, taken)
    while len(name.encode("utf-8")) > NAME_MAX:        # "stem (2).ext" grew past the limit
        name = unique_name(fit_name(name, NAME_MAX - 8), taken)
    return name


def metadata_document(rec: Record, original_names: dict[str, str], catalogue: dict[str, Any]) -> bytes:
    d = rec.to_dict()
    for f in d["files"]:
        f["original_name"] = shown_name(original_names.get(f["path"], f["path"]))
    doc = {"format": FORMAT, "record": d, "catalogue": catalogue}
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def parse_metadata(data: bytes, object_id: str) -> tuple[Record, dict[str, str], dict[str, Any]]:
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown format {doc.get('format')!r}")
        d = doc["record"]
        names = {f["path"]: f.pop("original_name", f["path"]) for f in d.get("files", [])}
        rec = Record.from_dict(d)
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"object {object_id}: metadata.json is unreadable ({exc})") from None
    return rec, names, doc.get("catalogue", {})


def read_metadata(store, record_id: str, version: int | None = None) -> Record:
    """The record of ``version`` (default head) from the store, files checked against the inventory."""
    inv = store.inventory(record_id)
    v = int(inv["head"][1:]) if version is None else version
    data = store.read_bytes(record_id, METADATA_PATH, v)
    rec, _names, _cat = parse_metadata(data, record_id)
    stored = {f.logical_path: f for f in store.files(record_id, v, inv)}
    for f in rec.files + rec.derivatives:
        s = stored.get(f.path)
        if s is None or s.digest != f.sha512:
            raise IntegrityError(f"object {record_id} v{v}: {f.path} in metadata.json disagrees with the inventory")
    rec.version = v
    return rec


def file_entry(path: str, role: str, size: int, digest: str, mime: str, mime_ext: str | None,
               mismatch: bool) -> RecordFile:
    return RecordFile(path=path, role=role, size=size, sha512=digest, mime=mime, mime_by_extension=mime_ext,
                      mime_mismatch=mismatch)


def stored_original_names(store, record_id: str, version: int | None = None) -> dict[str, str]:
    """Logical path → the file's original name, from the version's metadata.json."""
    _rec, names, _cat = parse_metadata(store.read_bytes(record_id, METADATA_PATH, version), record_id)
    return names


#: The most text of one file a record keeps (its derivative is cut there).
MAX_TEXT_CHARS = 20 * 1024 * 1024


def recorded_extraction(result: Extraction) -> tuple[dict[str, Any], dict[str, str], str]:
    """How an extractor's result goes into a record, at ingest or later: the extraction info (status, message,
    ocr, extractor, seconds), the technical metadata as ``x.`` keys (never overriding a user's: the caller
    ``setdefault``s them) and the text for the derivative, cut to :data:`MAX_TEXT_CHARS`."""
    meta = dict(result.metadata or {})
    info = {"status": result.status, "message": result.message, "ocr": result.ocr,
            "extractor": result.extractor, "seconds": meta.pop("seconds", None)}
    return info, {f"x.{k}": str(v) for k, v in meta.items()}, (result.text or "")[:MAX_TEXT_CHARS]
