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
import logging
import socket
from dataclasses import dataclass
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from dangan.errors import DanganError, DuplicateRecord, FileRefused, IntegrityError
from dangan.model import Extraction, Record
from dangan.repository.fsutil import translate_oserror
from dangan.core.store import mime as mimes
from dangan.core.catalogue import records
from dangan.core.policy.departments import check_department
from dangan.core.catalogue.fields import RecordFields
from dangan.core.store.source_files import max_file_bytes, open_source, shown_name, title_from_name
from dangan.core.store.layout import METADATA_PATH, file_entry, metadata_document
from dangan.core.catalogue.volumes import ensure_plain_volume

MAX_TEXT_CHARS = 20 * 1024 * 1024
#: How much of a sealed record's file libmagic sees (its staged copy is ciphertext).
MAGIC_BYTES = 1024 * 1024
log = logging.getLogger("dangan.ingest")


@dataclass
class IngestOutcome:
    source: str
    status: str                     # archived, duplicate, refused, failed
    record_id: str | None = None
    archival_code: str | None = None
    message: str = ""
    exit_code: int = 0              # the refusal's stable exit code (dangan.errors), 0 when archived

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def open_regular(path: Path, *, follow_symlinks: bool = True, max_bytes: int | None = None):
    """Open a regular file for reading without blocking on FIFOs or devices (``source_files.open_source``)."""
    return open_source(path, follow_symlinks=follow_symlinks, max_bytes=max_bytes).fh


class Ingestor:
    """Ingests into one archive; extraction and classification (plugins) are injected."""

    def __init__(self, archive, *, allow_duplicate: bool = False,
                 extractor: Callable[[Path, str], Extraction] | None = None,
                 classifier=None, on_warning: Callable[[str], None] | None = None,
                 create_volume: bool = True) -> None:
        self.archive = archive
        self.on_warning = on_warning     # sparse files and the like: archived, but worth a word
        self.allow_duplicate = allow_duplicate
        self.create_volume = create_volume      # False: a --volume that does not exist is refused
        self.extractor = extractor
        self.classifier = classifier     # plugins facade adapter: classify, validate, code

    # -- one record ---------------------------------------------------------
    def ingest(self, path: Path, fields: RecordFields, attachments: tuple[Path, ...] = (), *,
               gate: Callable[[], Any] | None = None, follow_symlinks: bool = False,
               beneath: Path | None = None) -> Record:
        """Archive one file.  ``gate`` (a context-manager factory) is held around the commit: a
        batch uses it to commit files in input order while staging several at once.

        Every file is opened once (``source_files.open_source``: no symlink unless
        ``follow_symlinks``, regular files only, within ``[ingest] max_file_mb``) and read
        only through that descriptor; with ``beneath`` (a drop folder) no folder between it and
        the file may be a symbolic link."""
        path = Path(path)
        sources = [("main", path)] + [("attachment", Path(a)) for a in attachments]
        limit = max_file_bytes(self.archive.config)
        opened = []
        try:
            for _role, src in sources:                 # refuse unreadable files before any work
                opened.append(open_source(src, follow_symlinks=follow_symlinks, max_bytes=limit, beneath=beneath))
            for sf in opened:
                warning = sf.sparse_warning()
                if warning:
                    (self.on_warning or log.warning)(warning)
            return self._ingest(path, fields, [(role, sf) for (role, _), sf in zip(sources, opened)], gate)
        finally:
            for sf in opened:
                sf.close()

    def _ingest(self, path: Path, fields: RecordFields, sources: list, gate) -> Record:
        archive = self.archive
        fields = fields.normalised()
        check_department(archive, fields.department)     # a typo is refused, not filed under a new code
        if fields.volume and not self.create_volume:
            from dangan.core.catalogue.volumes import require_named_volume
            require_named_volume(archive, fields.volume)
        rid = records.new_record_id()
        now = _now()
        rec = Record(
            id=rid, fonds=archive.config.fonds, title=fields.title or title_from_name(path.name),
            department=fields.department, category=fields.category,
            year=fields.year or (int(fields.date[:4]) if fields.date else dt.date.today().year),
            date=fields.date, retention=fields.retention, secrecy=fields.secrecy or "public",
            volume=fields.volume, tags=fields.tags, metadata=fields.metadata, version=1, created=now, updated=now)
        if self.classifier is not None:
            self.classifier.prepare(rec, fields.secrecy)   # scheme defaults, filing, validation (may refuse)
        volume, implicit_volume = self._volume_for(rec)
        prot = protection_for(archive, volume, rid)
        with archive.store.stage(rid) as draft:
            taken: set[str] = set()
            names: dict[str, str] = {}
            plain: dict[str, tuple[int, str]] = {}
            for i, (role, sf) in enumerate(sources, 1):
                name = prot.name(sf.path.name, taken, i)      # escaped by logical_name
                taken.add(name)
                try:
                    size, digest, psize, pdigest = prot.add_file(draft, name, sf.fh, 1)
                except OSError as exc:
                    raise _refuse_or_translate(exc, sf.path) from exc
                content_mime = (mimes.by_bytes(sf.head(MAGIC_BYTES)) if prot.confidential
                                else mimes.by_content(draft.content / name))
                ext_mime = mimes.by_extension(sf.name)
                rec.files.append(file_entry(name, role, size, digest, content_mime, ext_mime,
                                            mimes.mismatch(content_mime, ext_mime)))
                names[name] = sf.name
                plain[name] = (psize, pdigest)
            main = rec.files[0]
            if not self.allow_duplicate and not prot.confidential:
                self._refuse_duplicate(main.sha512, path)
            # a sealed record is extracted from the source (its staged copy is ciphertext): through
            # the open descriptor, so a file swapped in under the same name is never read
            rec.extraction = self._extract(draft, prot, rec, main.path,
                                           sources[0][1].proc_path if prot.confidential else None)
            stored, stored_names = prot.stored(rec, names, plain)
            with (gate() if gate else nullcontext()):
                self._commit(draft, rec, stored, stored_names, names, prot, implicit_volume, path, now)
        if self.classifier is not None:
            self.classifier.after_archive(rec)
        return rec

    def _commit(self, draft, rec: Record, stored: Record, stored_names: dict, names: dict, prot,
                implicit_volume: bool, path: Path, now: str) -> None:
        """Intent, then one transaction: archival code, metadata.json, publish, rows, audit, outbox."""
        archive = self.archive
        rid, main = rec.id, rec.files[0]
        self._write_intent(rid, "(confidential)" if prot.confidential else shown_name(path))
        try:
            with archive.transaction() as conn:
                archive.audit_ready(conn)            # a broken audit trail is refused before publishing
                if not self.allow_duplicate and not prot.confidential:
                    self._refuse_duplicate(main.sha512, path)
                if implicit_volume:
                    ensure_plain_volume(conn, archive, rec.volume, rec)
                piece_class, piece = self._assign_code(conn, rec)
                stored.archival_code = rec.archival_code      # plain: on the allow-list
                catalogue = {"piece_class": piece_class, "piece": piece, "sealed": prot.sealed}
                draft.add_bytes(METADATA_PATH, metadata_document(stored, stored_names, catalogue))
                message = "ingest" if prot.confidential else f"ingest {names[main.path]}"
                draft.publish(message=message, user_name=archive.actor.name, created=now)
                _test_exit_hook("DANGAN_TEST_EXIT_AFTER_PUBLISH")
                records.insert_record(conn, stored, actor=archive.actor.name, message=message,
                                      original_names=stored_names, piece_class=piece_class, piece=piece,
                                      sealed=prot.sealed)
                details = {"sha512": main.sha512, "size": main.size, "files": len(rec.files),
                           "archival_code": rec.archival_code, "volume": rec.volume}
                if not prot.confidential:
                    details.update(source=shown_name(path), mime=main.mime)
                archive.audit(conn, "record.ingest", rid, details=details)
                conn.execute("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, 'upsert', ?)",
                             (rid, now))
                conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (rid,))
        except BaseException:
            self._after_failure(rid)
            raise

    def revise(self, ref: str, path: Path | None, fields: RecordFields | None = None, message: str = "",
               *, status: str | None = None, action: str = "record.revise") -> Record:
        from dangan.core.store.revision import revise
        return revise(self, ref, path, fields, message, status=status, action=action)

    # -- steps ----------------------------------------------------------------
    def _volume_for(self, rec: Record):
        """The record's volume (None if it has none), and whether it must be made as a plain volume."""
        from dangan.core.catalogue.volumes import file_into, get_volume
        if rec.volume is None:
            file_into(self.archive, rec, None)
            return None, False
        vol = get_volume(self.archive, rec.volume)
        file_into(self.archive, rec, vol)
        return vol, vol is None

    def _extract(self, draft, prot, rec: Record, logical_path: str, source: Path | None) -> dict:
        """Run the extractor on the file (the staged copy, or the source of a sealed record: the
        staged copy is ciphertext); store the text as a derivative; return the extraction info."""
        if self.extractor is None:
            return {}
        main = next(f for f in rec.files if f.path == logical_path)
        result = self.extractor(source or (draft.content / logical_path), main.mime)
        meta = dict(result.metadata or {})
        info = {"status": result.status, "message": result.message, "ocr": result.ocr,
                "extractor": result.extractor, "seconds": meta.pop("seconds", None)}
        if result.text:
            prot.add_text(draft, logical_path, result.text[:MAX_TEXT_CHARS], rec.version)
        for k, v in meta.items():
            rec.metadata.setdefault(f"x.{k}", str(v))
        return info

    def _refuse_duplicate(self, digest: str, path: Path) -> None:
        existing = records.find_by_digest(self.archive.conn, digest)
        if existing:
            raise DuplicateRecord(f"{shown_name(path)}: already archived as record {existing} (use --allow-duplicate to archive "
                                  f"it again)", existing)

    def _assign_code(self, conn, rec: Record) -> tuple[str | None, int | None]:
        if self.classifier is None:
            return None, None
        piece_class = self.classifier.piece_class(rec)
        if piece_class is None:
            return None, None
        piece = records.next_piece(conn, piece_class)
        conn.execute("INSERT INTO piece_counters (class_key, last) VALUES (?, ?) ON CONFLICT(class_key)"
                     " DO UPDATE SET last = excluded.last", (piece_class, piece))
        rec.archival_code = self.classifier.archival_code(rec, piece)
        holder = records.code_holder(conn, rec.archival_code)
        if holder is not None:
            raise IntegrityError(f"archival code {rec.archival_code} is already used by record {holder}: nothing was "
                                 f"archived; run `dangan check`")
        return piece_class, piece

    def _write_intent(self, rid: str, source: str) -> None:
        with self.archive.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO ingest_intents (object_id, pid, host, source, started)"
                         " VALUES (?, ?, ?, ?, ?)", (rid, os.getpid(), socket.gethostname(), source, _now()))

    def _after_failure(self, rid: str) -> None:
        """The transaction failed: adopt what was published, or forget the intent."""
        from dangan.core.store.recovery import settle_intent
        try:
            settle_intent(self.archive, rid)
        except DanganError:
            pass   # left for recovery at the next run; the intent row stays


def protection_for(archive, volume, rid: str):
    from dangan.core.confidential.sealing import PlainProtection, SealedProtection
    if volume is None or not volume.confidential:
        return PlainProtection()
    from dangan.core.catalogue.volumes import open_keystore
    return SealedProtection(volume, rid, open_keystore(archive).add_record_key(volume.id, rid))


def _refuse_or_translate(exc: OSError, src: Path) -> Exception:
    out = translate_oserror(exc, f"archiving {shown_name(src)}")
    if out is exc:
        return FileRefused(f"{shown_name(src)}: cannot read ({exc.strerror})")
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _test_exit_hook(name: str) -> None:
    """Tests only: with ``$NAME`` set, die here as kill -9 would (exit 137, no cleanup): a deterministic crash
    window between publishing an object and committing its catalogue rows (tests/catalogue/test_piece_counters.py)."""
    if os.environ.get(name):
        os._exit(137)
