"""Archiving a batch scan: the original batch file as its own record, then one record per document.

The batch file is archived first, untouched, tagged ``batch-scan`` and without text extraction
(its documents carry the text), with ``scan.parts`` and ``scan.separators`` in its metadata.
Each document cut out at the separator sheets (:mod:`separators`) is then archived as a record
of its own, tagged ``scan-part``, with ``scan.batch`` (the batch record's id), ``scan.pages``
(its pages in the batch) and ``scan.part`` (``2/5``), plus whatever fields its barcodes set.
So nothing scanned is ever lost: should a part be refused (a barcode naming a volume that cannot
be used, a duplicate), every page is still in the batch record; should the process die mid-batch,
recovery makes the parts it did not (:mod:`scan_resume`).

The parts exist only for the time of their ingest, in a memory-backed folder (``/dev/shm``):
a part of a record that may be sealed never touches disk.  Without such a folder, a batch that
may be confidential is archived whole (not split), and the outcome says so.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from dangan.errors import DanganError
from dangan.model import Record, is_confidential
from dangan.core.catalogue.fields import RecordFields
from dangan.core.kernel import memory_tmp
from dangan.core.kernel.memory_tmp import memory_dir
from dangan.core.store import mime as mimes
from dangan.core.store.separators import Part, Settings, Split, find_parts, write_part
from dangan.core.store.source_files import open_source, title_from_name

if TYPE_CHECKING:
    from dangan.core.archive import Archive

BATCH_TAG = "batch-scan"
PART_TAG = "scan-part"


@dataclass
class PartResult:
    part: Part
    number: int
    record: Record | None = None
    error: DanganError | None = None


@dataclass
class ScanResult:
    record: Record                                   # the batch record (or the one record, unsplit)
    parts: list[PartResult] = field(default_factory=list)
    note: str = ""


def may_be_sealed(archive: Archive, fields: RecordFields) -> bool:
    if fields.secrecy and is_confidential(fields.secrecy):
        return True
    if fields.volume:
        from dangan.core.catalogue.volumes import get_volume
        vol = get_volume(archive, fields.volume)
        return bool(vol and vol.confidential)
    return archive.conn.execute("SELECT 1 FROM volumes WHERE confidential = 1").fetchone() is not None


def ingest_scan(ingestor, path: Path, fields: RecordFields, attachments: tuple[Path, ...] = (), *,
                gate: Callable | None = None, follow_symlinks: bool = False, beneath: Path | None = None,
                sealed: bool | None = None, split: Split | None = None) -> ScanResult:
    """Archive ``path``: split at its separator sheets when it is a batch scan, else as one record."""
    path = Path(path)
    settings = Settings.of(ingestor.archive.config)
    if not attachments and settings.enabled and split is None:
        split = _split_of(ingestor, path, settings, follow_symlinks, beneath)
    if attachments or split is None:
        return ScanResult(ingestor.ingest(path, fields, attachments, gate=gate, follow_symlinks=follow_symlinks,
                                          beneath=beneath))
    ingestor = copy.copy(ingestor)
    ingestor.grouping = False                        # a batch scan and its parts commit one by one
    sealed = may_be_sealed(ingestor.archive, fields) if sealed is None else sealed
    where = memory_dir()
    if where is None and sealed:
        rec = ingestor.ingest(path, fields, gate=gate, follow_symlinks=follow_symlinks, beneath=beneath)
        return ScanResult(rec, note="a batch scan that may be confidential is archived whole, not split: "
                                    "no memory-backed folder (/dev/shm) to cut it in")
    whole = copy.copy(ingestor)
    whole.extractor = None                           # the parts carry the text
    from dangan.core.store import scan_resume
    token = scan_resume.begin(ingestor.archive, path.name, fields, sealed=sealed)    # recovery finishes a split a crash cut short
    meta = dict(fields.metadata, **{"scan.parts": str(len(split.parts)), scan_resume.TOKEN_KEY: token,
                                    "scan.separators": ",".join(str(i + 1) for i in split.separators)})
    if split.unreadable:
        meta["scan.unreadable_pages"] = ",".join(str(i + 1) for i in split.unreadable)
    batch_fields = replace(fields, tags=sorted(set(fields.tags) | {BATCH_TAG}), metadata=meta)
    try:
        batch = whole.ingest(path, batch_fields, gate=gate, follow_symlinks=follow_symlinks, beneath=beneath)
    except BaseException:
        scan_resume.batch_failed(ingestor.archive, token)   # not archived: no parts to make (else left to recovery)
        raise
    scan_resume.batch_archived(ingestor.archive, token, batch.id)
    result = ScanResult(batch)
    mime = batch.files[0].mime
    with memory_tmp.folder("parts", where) as tmp:
        source = open_source(path, follow_symlinks=follow_symlinks, beneath=beneath)
        try:
            result.parts = cut_parts(ingestor, source.proc_path, mime, split, fields, batch, path.name, Path(tmp),
                                     gate=gate)
        finally:
            source.close()
    scan_resume.finish(ingestor.archive, token)
    return result


def cut_parts(ingestor, batch_file: Path, mime: str, split: Split, fields: RecordFields, batch: Record,
              source_name: str, tmp: Path, *, gate: Callable | None = None,
              skip: frozenset[int] | set[int] = frozenset()) -> list[PartResult]:
    """Archive each part of ``split`` but those numbered in ``skip`` (made already), cut from ``batch_file``."""
    results = []
    stem = Path(source_name).stem
    ext = Path(source_name).suffix or (".pdf" if mime == "application/pdf" else ".tif")
    for n, part in enumerate(split.parts, 1):
        if n in skip:
            continue
        pr = PartResult(part, n)
        results.append(pr)
        target = tmp / f"{stem}-{n:02d}{ext}"
        try:
            target.write_bytes(write_part(batch_file, mime, part))
            pr.record = ingestor.ingest(target, part_fields(fields, batch, part, n, len(split.parts),
                                                            title_from_name(source_name)), gate=gate)
        except DanganError as exc:
            pr.error = exc
        except Exception as exc:  # noqa: BLE001 - a part that cannot be cut stays in the batch record
            pr.error = DanganError(f"part {n} (pages {part.page_range()}) not archived: "
                                   f"{type(exc).__name__}; its pages are in record {batch.id}")
        finally:
            target.unlink(missing_ok=True)
    return results


def _split_of(ingestor, path: Path, settings: Settings, follow_symlinks: bool, beneath: Path | None) -> Split | None:
    try:
        source = open_source(path, follow_symlinks=follow_symlinks, beneath=beneath)
    except DanganError:
        return None                                   # the ingest below refuses it with the reason
    try:
        head = source.head(1024 * 1024)
        if not _may_be_scan(head):
            return None                               # libmagic is asked only about what could be a PDF or TIFF
        mime = mimes.by_bytes(head)
        if mime not in ("application/pdf", "image/tiff"):
            return None
        return find_parts(source.proc_path, mime, settings)
    finally:
        source.close()


#: The first bytes of a TIFF (little-, big-endian; BigTIFF): libmagic's image/tiff starts with one of them.
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _may_be_scan(head: bytes) -> bool:
    """Whether libmagic could call ``head`` a PDF or a TIFF: a PDF header in its first KiB, or a TIFF's magic."""
    return b"%PDF" in head[:1024] or head.startswith(_TIFF_MAGIC)


def part_fields(fields: RecordFields, batch: Record, part: Part, n: int, total: int, title: str) -> RecordFields:
    meta = dict(fields.metadata)
    tags = set(fields.tags) | {PART_TAG}
    out = replace(fields, tags=[], metadata={})
    for name, value in part.values:
        if name == "meta":
            key, eq, val = value.partition("=")
            if eq and key.strip():
                meta[key.strip()] = val.strip()
        elif name == "tag":
            tags.add(value)
        else:
            setattr(out, name, value)
    meta.update({"scan.batch": batch.id, "scan.pages": part.page_range(), "scan.part": f"{n}/{total}"})
    out.metadata = meta
    out.tags = sorted(tags)
    if not out.title:
        out.title = f"{fields.title or title} ({n}/{total})"
    return out
