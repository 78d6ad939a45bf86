"""The ingest pipeline: a file handed to the archive becomes a record, durably.

file → MIME by content → staged copy with streaming sha512 → duplicate check
→ classify and validate (plugins) → text extraction (worker) → in ONE write
transaction: archival code, ``metadata.json``, atomic OCFL publish, record
rows, audit event, index-outbox row.

The commit is the new-version protocol (``new_version.commit_version``, shared with revision
and deferred extraction): an *intent* row is committed before anything is published; if the process
dies between publishing and committing, ``recovery.recover_interrupted``
adopts the published object into the catalogue (or forgets an unpublished
one), so every file ends archived exactly once or not at all.
"""
from __future__ import annotations

import sqlite3
import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dangan.errors import DuplicateRecord, FileRefused, IntegrityError
from dangan.model import Extraction, Record
from dangan.repository.fsutil import translate_oserror
from dangan.core.store import mime as mimes
from dangan.core.store import pronom
from dangan.core.catalogue import records
from dangan.core.policy.departments import check_department
from dangan.core.catalogue.fields import RecordFields
from dangan.core.store.source_files import max_file_bytes, open_source, shown_name, title_from_name
from dangan.core.store.layout import file_entry, metadata_document, recorded_extraction
from dangan.core.store.derivative_formats import describe
from dangan.core.store.new_version import PendingVersion, commit_version
from dangan.core.kernel.clock import utc_text
from dangan.core.catalogue.volumes import ensure_plain_volume

#: How much of a sealed record's file libmagic sees (its staged copy is ciphertext).
MAGIC_BYTES = 1024 * 1024
if TYPE_CHECKING:
    from dangan.core.store.antivirus import Antivirus
    from dangan.core.archive import Archive
    from dangan.core.store.group_commit import CommitGroup
    from dangan.core.store.analysis import Analysis

log = logging.getLogger("dangan.ingest")


@dataclass
class IngestOutcome:
    source: str
    status: str                     # archived, duplicate, refused, failed
    record_id: str | None = None
    archival_code: str | None = None
    message: str = ""
    exit_code: int = 0              # the refusal's stable exit code (dangan.errors), 0 when archived
    parts: list["IngestOutcome"] = field(default_factory=list)     # a batch scan's documents (scan_batch)
    extraction_queued: bool = False      # its text is extracted by `dangan worker` ([ingest] extraction)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["parts"] = [p.record_id for p in self.parts]        # each part is its own outcome too
        if not self.extraction_queued:
            del out["extraction_queued"]                         # (said only when it is)
        return out


class Ingestor:
    """Ingests into one archive; extraction and classification (plugins) are injected."""

    def __init__(self, archive: Archive, *, allow_duplicate: bool = False,
                 extractor: Callable[[Path, str], Extraction] | None = None,
                 classifier=None, on_warning: Callable[[str], None] | None = None,
                 create_volume: bool = True, group: CommitGroup | None = None,
                 defer_extraction: bool = False) -> None:
        self.archive = archive
        self.group = group               # a batch's group commit (``group_commit``), or None: one at a time
        self.grouping = True             # False: this file commits alone (a batch scan), after the group
        self.on_warning = on_warning     # sparse files and the like: archived, but worth a word
        self.allow_duplicate = allow_duplicate
        self.create_volume = create_volume      # False: a --volume that does not exist is refused
        self.extractor = extractor
        # ``[ingest] extraction = "workers"``: a plain record is archived without extraction and its job queued
        # in the transaction that files it (``dangan worker`` extracts it); a sealed one is extracted here
        self.defer_extraction = defer_extraction
        self.queued: set[str] = set()    # the records whose extraction this ingestor queued
        self.classifier = classifier     # plugins facade adapter: classify, validate, code
        self._antivirus: Antivirus | None = None     # [antivirus], read at the first file
        self.analyser: Callable[[Path, str, bool], Analysis | None] | None = None   # worker processes (a batch)

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
            checked = self._virus_check(opened)
            if checked:
                fields = replace(fields, metadata={**fields.metadata, "x.virus_check": checked})
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
        now = utc_text()
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
        identify = pronom.identify_enabled(archive.config)
        grouped = self.group is not None and self.grouping and gate is not None and not prot.confidential
        draft = archive.store.stage(rid, durable=not grouped)
        handed = False
        try:
            taken: set[str] = set()
            names: dict[str, str] = {}
            plain: dict[str, tuple[int, str]] = {}
            pre: Extraction | None = None           # the main file's text, extracted by the analysis workers
            for i, (role, sf) in enumerate(sources, 1):
                name = prot.name(sf.path.name, taken, i)      # escaped by logical_name
                taken.add(name)
                try:
                    size, digest, psize, pdigest = prot.add_file(draft, name, sf.fh, 1)
                except OSError as exc:
                    raise _refuse_or_translate(exc, sf.path) from exc
                analysis = (None if prot.confidential or self.analyser is None
                            else self.analyser(draft.content / name, sf.name, identify))
                content_mime = (mimes.by_bytes(sf.head(MAGIC_BYTES)) if prot.confidential
                                else analysis.mime if analysis is not None else mimes.by_content(draft.content / name))
                ext_mime = mimes.by_extension(sf.name)
                rec.files.append(file_entry(name, role, size, digest, content_mime, ext_mime,
                                            mimes.mismatch(content_mime, ext_mime)))
                if identify and not prot.confidential:      # a sealed record's format stays sealed with it
                    if analysis is not None and analysis.found is not None:
                        pronom.set_entry(rec.files[-1], analysis.found)
                    else:
                        pronom.identify_entry(rec.files[-1], draft.content / name, sf.name)
                if i == 1 and analysis is not None:
                    pre = analysis.extraction
                names[name] = sf.name
                plain[name] = (psize, pdigest)
            main = rec.files[0]
            if not self.allow_duplicate and not prot.confidential:
                self._refuse_duplicate(main.sha512, path)
            # a sealed record is extracted from the source (its staged copy is ciphertext): through
            # the open descriptor, so a file swapped in under the same name is never read
            queue = self.defers(prot)
            rec.extraction = {} if queue else self._extract(draft, prot, rec, main.path,
                                                            sources[0][1].proc_path if prot.confidential else None, pre)
            if not prot.confidential:          # the PDF/A copy, text and thumbnail, identified as they are made
                rec.derivatives = describe(draft, [], identify=identify)
            stored, stored_names = prot.stored(rec, names, plain)
            pending = self._version(draft, rec, stored, stored_names, names, prot, implicit_volume, path, now,
                                    queue=queue)
            with (gate() if gate else nullcontext()):
                if grouped:
                    classifier = self.classifier
                    self.group.add(pending, None if classifier is None else    # type: ignore[union-attr]
                                   lambda a: classifier.after_archive(rec, archive=a), record=rec)
                    handed = True
                else:
                    if self.group is not None:
                        self.group.flush()            # the files before this one first: codes follow the input
                    done = commit_version(archive, draft, rid, source=pending.source, message=pending.message,
                                          created=now, before_publish=lambda conn: pending.before_publish(archive, conn),
                                          after_publish=lambda conn: pending.after_publish(archive, conn),
                                          new_object=True)
                    if done == "adopted":         # settled from the store: its code as adopted (renumbered if taken)
                        row = archive.conn.execute("SELECT archival_code FROM records WHERE id = ?", (rid,)).fetchone()
                        rec.archival_code = row[0] if row else rec.archival_code
        finally:
            if not handed:
                draft.discard()
        if self.classifier is not None and not grouped:
            self.classifier.after_archive(rec)
        if queue:
            self.queued.add(rid)
        return rec

    def defers(self, prot) -> bool:
        """This record's extraction is left to ``dangan worker`` (``[ingest] extraction = "workers"``): plain
        records only, and only where this ingestor extracts at all."""
        return self.defer_extraction and self.extractor is not None and not prot.confidential

    def _version(self, draft, rec: Record, stored: Record, stored_names: dict, names: dict, prot,
                 implicit_volume: bool, path: Path, now: str, *, queue: bool = False) -> PendingVersion:
        """Version 1 by the new-version protocol: archival code and metadata.json, publish, rows, audit.
        The callbacks get the archive whose transaction commits it (a batch's group has its own)."""
        rid, main = rec.id, rec.files[0]
        message = "ingest" if prot.confidential else f"ingest {names[main.path]}"
        code: dict[str, Any] = {}

        def before_publish(archive, conn: sqlite3.Connection) -> bytes:
            if not self.allow_duplicate and not prot.confidential:
                self._refuse_duplicate(main.sha512, path, conn)   # in the transaction: its group's earlier files too
            if implicit_volume and rec.volume is not None:
                ensure_plain_volume(conn, archive, rec.volume, rec)
            code["piece_class"], code["piece"] = self._assign_code(conn, rec)
            stored.archival_code = rec.archival_code      # plain: on the allow-list
            return metadata_document(stored, stored_names, {**code, "sealed": prot.sealed})

        def after_publish(archive, conn: sqlite3.Connection) -> None:
            records.insert_record(conn, stored, actor=archive.actor.name, message=message,
                                  original_names=stored_names, piece_class=code["piece_class"], piece=code["piece"],
                                  sealed=prot.sealed)
            details: dict[str, Any] = {"sha512": main.sha512, "size": main.size, "files": len(rec.files),
                       "archival_code": rec.archival_code, "volume": rec.volume}
            if not prot.confidential:
                details.update(source=shown_name(path), mime=main.mime)
            archive.audit(conn, "record.ingest", rid, details=details)
            if queue:                             # its extraction job, committed with the record
                from dangan.core.store.deferred import enqueue
                enqueue(conn, rid)

        return PendingVersion(draft, rid, "(confidential)" if prot.confidential else shown_name(path), message, now,
                              before_publish, after_publish)

    def revise(self, ref: str, path: Path | None, fields: RecordFields | None = None, message: str = "",
               *, status: str | None = None, action: str = "record.revise") -> Record:
        from dangan.core.store.revision import revise
        return revise(self, ref, path, fields, message, status=status, action=action)

    # -- steps ----------------------------------------------------------------
    def _virus_check(self, opened: list) -> str:
        """Every file through the virus check (``antivirus``); raises Infected / VirusCheckFailed."""
        from dangan.core.store.antivirus import Antivirus
        if self._antivirus is None:
            self._antivirus = Antivirus.of(self.archive.config, self.archive.root)
        from dangan.errors import Infected
        notes = []
        for sf in opened:
            try:
                notes.append(self._antivirus.check(sf.fh, shown_name(sf.path)))
            except Infected as exc:
                exc.path = sf.path           # which file to quarantine (the main file or an attachment)
                raise
        return notes[0].note() if notes and notes[0] is not None else ""

    def _volume_for(self, rec: Record):
        """The record's volume (None if it has none), and whether it must be made as a plain volume."""
        from dangan.core.catalogue.volumes import file_into, get_volume
        if rec.volume is None:
            file_into(self.archive, rec, None)
            return None, False
        vol = get_volume(self.archive, rec.volume)
        file_into(self.archive, rec, vol)
        return vol, vol is None

    def _extract(self, draft, prot, rec: Record, logical_path: str, source: Path | None,
                 pre: Extraction | None = None) -> dict:
        """Run the extractor on the file (the staged copy, or the source of a sealed record: the
        staged copy is ciphertext); store the text as a derivative; return the extraction info.
        ``pre``: the plain text the analysis workers extracted already (``store/analysis``)."""
        if self.extractor is None:
            return {}
        main = next(f for f in rec.files if f.path == logical_path)
        from dangan.core.store.pdfa import searchable_copy
        if pre is not None:
            result, copy = pre, None
        else:
            result, copy = searchable_copy(self.archive, source or (draft.content / logical_path), main.mime,
                                           sealed=prot.confidential, extractor=self.extractor)
        if copy is not None:
            from dangan.core.store.pdfa import pdfa_path
            prot.add_derivative(draft, pdfa_path(logical_path), copy, rec.version)
        info, meta, text = recorded_extraction(result)
        if text:
            prot.add_text(draft, logical_path, text, rec.version)
        if result.thumbnail and not prot.confidential:     # made in memory; a sealed record keeps none
            from dangan.core.store.layout import thumbnail_path
            draft.add_bytes(thumbnail_path(logical_path), result.thumbnail)
        for k, v in meta.items():
            rec.metadata.setdefault(k, v)
        return info

    def _refuse_duplicate(self, digest: str, path: Path, conn: sqlite3.Connection | None = None) -> None:
        existing = records.find_by_digest(conn or self.archive.conn, digest)
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


def protection_for(archive: Archive, volume, rid: str):
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
