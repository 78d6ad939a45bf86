"""The ingest pipeline: a file handed to the archive becomes a record, durably.

file → MIME by content → staged copy with streaming sha512 → duplicate check
→ classify and validate (plugins) → text extraction (worker) → in ONE write
transaction: archival code, ``metadata.json``, atomic OCFL publish, record
rows, audit event, index-outbox row.

An *intent* row is committed before anything is published; if the process
dies between publishing and committing, ``recovery.recover_interrupted``
adopts the published object into the catalogue (or forgets an unpublished
one), so every file ends archived exactly once or not at all.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DanganError, DuplicateRecord, FileRefused
from ..model import Extraction, Record
from ..repository.fsutil import translate_oserror
from . import mime as mimes
from . import records
from .fields import RecordFields
from .storage import METADATA_PATH, file_entry, logical_name, metadata_document, stored_original_names, text_path

MAX_TEXT_BYTES = 50 * 1024 * 1024


@dataclass
class IngestOutcome:
    source: str
    status: str                     # archived, duplicate, refused, failed
    record_id: str | None = None
    archival_code: str | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def open_regular(path: Path):
    """Open a regular file for reading without blocking on FIFOs or devices."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FileRefused(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileRefused(f"{path}: is a folder") from None
    except PermissionError:
        raise FileRefused(f"{path}: permission denied") from None
    except OSError as exc:
        raise FileRefused(f"{path}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileRefused(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    fh = os.fdopen(fd, "rb")
    if st.st_size == 0:
        fh.close()
        raise FileRefused(f"{path}: empty file (0 bytes): nothing to archive")
    return fh


class Ingestor:
    """Ingests into one archive; hooks for extraction and archival codes are injected."""

    def __init__(self, archive, *, allow_duplicate: bool = False,
                 extractor: Callable[[Path, str], Extraction] | None = None,
                 classifier=None) -> None:
        self.archive = archive
        self.allow_duplicate = allow_duplicate
        self.extractor = extractor
        self.classifier = classifier     # plugins facade adapter: classify, validate, code

    # -- one record ---------------------------------------------------------
    def ingest(self, path: Path, fields: RecordFields, attachments: tuple[Path, ...] = ()) -> Record:
        archive = self.archive
        path = Path(path)
        fields = fields.normalised()
        rid = records.new_record_id()
        now = _now()
        with archive.store.stage(rid) as draft:
            taken: set[str] = set()
            names: dict[str, str] = {}
            files = []
            for role, src in [("main", path)] + [("attachment", Path(a)) for a in attachments]:
                with open_regular(src) as fh:
                    name = logical_name(src.name, taken)
                    taken.add(name)
                    try:
                        size, digest = draft.add_stream(name, fh)
                    except OSError as exc:
                        raise _refuse_or_translate(exc, src) from exc
                content_mime = mimes.by_content(draft.content / name)
                ext_mime = mimes.by_extension(src.name)
                files.append(file_entry(name, role, size, digest, content_mime, ext_mime,
                                        mimes.mismatch(content_mime, ext_mime)))
                names[name] = src.name
            main = files[0]
            if not self.allow_duplicate:
                self._refuse_duplicate(main.sha512, path)
            rec = Record(
                id=rid, fonds=archive.config.fonds, title=fields.title or Path(names[main.path]).stem,
                department=fields.department, category=fields.category,
                year=fields.year or (int(fields.date[:4]) if fields.date else dt.date.today().year),
                date=fields.date, retention=fields.retention, secrecy=fields.secrecy or "public",
                volume=fields.volume, tags=fields.tags, metadata=fields.metadata, files=files,
                version=1, created=now, updated=now)
            if self.classifier is not None:
                self.classifier.prepare(rec)       # defaults from schemes, validation (may refuse)
            self._extract(draft, rec, main.path)
            self._write_intent(rid, str(path))
            try:
                with archive.transaction() as conn:
                    if not self.allow_duplicate:
                        self._refuse_duplicate(main.sha512, path)
                    piece_class, piece = self._assign_code(conn, rec)
                    catalogue = {"piece_class": piece_class, "piece": piece}
                    draft.add_bytes(METADATA_PATH, metadata_document(rec, names, catalogue))
                    message = f"ingest {names[main.path]}"
                    draft.publish(message=message, user_name=archive.actor.name, created=_rfc3339(now))
                    records.insert_record(conn, rec, actor=archive.actor.name, message=message,
                                          original_names=names, piece_class=piece_class, piece=piece)
                    archive.audit(conn, "record.ingest", rid, details={
                        "source": str(path), "sha512": main.sha512, "size": main.size, "mime": main.mime,
                        "archival_code": rec.archival_code, "files": len(files)})
                    conn.execute("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, 'upsert', ?)",
                                 (rid, now))
                    conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (rid,))
            except BaseException:
                self._after_failure(rid)
                raise
        if self.classifier is not None:
            self.classifier.after_archive(rec)
        return rec

    # -- a new version --------------------------------------------------------
    def revise(self, ref: str, path: Path | None, fields: RecordFields | None = None, message: str = "",
               *, status: str | None = None, action: str = "record.revise") -> Record:
        """A new version: ``path`` replaces the main file; attachments and unchanged fields carry over."""
        archive = self.archive
        old = archive.record(ref)
        rid = old.id
        now = _now()
        base = RecordFields(old.title, old.department, old.category, old.year, old.date, old.retention,
                            old.secrecy, old.volume, old.tags, old.metadata)
        new_fields = (fields or RecordFields()).normalised().merged_over(base)
        with archive.store.stage(rid) as draft:
            inv_files = {f.logical_path: f for f in archive.store.files(rid)}
            names = stored_original_names(archive.store, rid)
            files = []
            taken = {f.path for f in old.files if f.role == "attachment"}
            main_old = old.main_file
            if path is not None:
                path = Path(path)
                with open_regular(path) as fh:
                    name = logical_name(path.name, taken)
                    size, digest = draft.add_stream(name, fh)
                content_mime = mimes.by_content(draft.content / name)
                ext_mime = mimes.by_extension(path.name)
                files.append(file_entry(name, "main", size, digest, content_mime, ext_mime,
                                        mimes.mismatch(content_mime, ext_mime)))
                names[name] = path.name
                self._extract(draft, None, name, record_files=files)
            else:
                files.append(main_old)
                draft.keep(main_old.path, main_old.sha512)
                tp = text_path(main_old.path)
                if tp in inv_files:
                    draft.keep(tp, inv_files[tp].digest)
            for f in old.files:
                if f.role == "attachment":
                    files.append(f)
                    draft.keep(f.path, f.sha512)
                    tp = text_path(f.path)
                    if tp in inv_files:
                        draft.keep(tp, inv_files[tp].digest)
            rec = Record(
                id=rid, fonds=old.fonds, title=new_fields.title or old.title, department=new_fields.department,
                category=new_fields.category, year=new_fields.year, date=new_fields.date,
                retention=new_fields.retention, secrecy=new_fields.secrecy or old.secrecy,
                volume=new_fields.volume, archival_code=old.archival_code, tags=new_fields.tags,
                metadata=new_fields.metadata, files=files, version=old.version + 1, created=old.created,
                updated=now, status=status or old.status,
                extraction=self._last_extraction if path is not None else old.extraction)
            self._write_intent(rid, str(path) if path else "(metadata)")
            try:
                with archive.transaction() as conn:
                    row = conn.execute("SELECT piece_class, piece, version FROM records WHERE id = ?", (rid,)).fetchone()
                    if row["version"] != old.version:
                        from ..errors import LockTimeout
                        raise LockTimeout(f"record {rid} changed while revising it: try again")
                    catalogue = {"piece_class": row["piece_class"], "piece": row["piece"]}
                    draft.add_bytes(METADATA_PATH, metadata_document(rec, names, catalogue))
                    draft.publish(message=message or "revise", user_name=archive.actor.name, created=_rfc3339(now))
                    records.update_record(conn, rec, actor=archive.actor.name, message=message or "revise",
                                          original_names=names)
                    archive.audit(conn, action, rid, details={
                        "version": rec.version, "source": str(path) if path else None, "message": message,
                        "status": rec.status if rec.status != old.status else None})
                    conn.execute("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, 'upsert', ?)",
                                 (rid, now))
                    conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (rid,))
            except BaseException:
                self._after_failure(rid)
                raise
        return rec

    # -- steps ----------------------------------------------------------------
    _last_extraction: dict = {}

    def _extract(self, draft, rec: Record | None, logical_path: str, record_files=None) -> None:
        """Run the extractor on the staged main file; store its text as a derivative."""
        self._last_extraction = {}
        if self.extractor is None:
            return
        staged = draft.content / logical_path
        mime = (rec.main_file.mime if rec else record_files[0].mime)
        result = self.extractor(staged, mime)
        meta = dict(result.metadata or {})
        info = {"status": result.status, "message": result.message, "ocr": result.ocr,
                "extractor": result.extractor, "seconds": meta.pop("seconds", None)}
        if result.text:
            data = result.text.encode("utf-8")[:MAX_TEXT_BYTES]
            draft.add_bytes(text_path(logical_path), data)
        media = {f"{k}": str(v) for k, v in meta.items()}
        if rec is not None:
            rec.extraction = info
            for k, v in media.items():
                rec.metadata.setdefault(f"x.{k}", v)
        self._last_extraction = info

    def _refuse_duplicate(self, digest: str, path: Path) -> None:
        existing = records.find_by_digest(self.archive.conn, digest)
        if existing:
            raise DuplicateRecord(f"{path}: already archived as record {existing} (use --allow-duplicate to archive "
                                  f"it again)", existing)

    def _assign_code(self, conn, rec: Record) -> tuple[str | None, int | None]:
        if self.classifier is None:
            return None, None
        piece_class = self.classifier.piece_class(rec)
        if piece_class is None:
            return None, None
        row = conn.execute("SELECT last FROM piece_counters WHERE class_key = ?", (piece_class,)).fetchone()
        piece = (row["last"] if row else 0) + 1
        conn.execute("INSERT INTO piece_counters (class_key, last) VALUES (?, ?) ON CONFLICT(class_key)"
                     " DO UPDATE SET last = excluded.last", (piece_class, piece))
        rec.archival_code = self.classifier.archival_code(rec, piece)
        return piece_class, piece

    def _write_intent(self, rid: str, source: str) -> None:
        with self.archive.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO ingest_intents (object_id, pid, host, source, started)"
                         " VALUES (?, ?, ?, ?, ?)", (rid, os.getpid(), socket.gethostname(), source, _now()))

    def _after_failure(self, rid: str) -> None:
        """The transaction failed: adopt what was published, or forget the intent."""
        from .recovery import settle_intent
        try:
            settle_intent(self.archive, rid)
        except DanganError:
            pass   # left for recovery at the next run; the intent row stays


def _refuse_or_translate(exc: OSError, src: Path) -> Exception:
    out = translate_oserror(exc, f"archiving {src}")
    if out is exc:
        return FileRefused(f"{src}: cannot read ({exc.strerror})")
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rfc3339(ts: str) -> str:
    return ts
