"""Records as a user works on them: ingest, revise, show, versions, ls, get, check, identify.

Each call resolves the acting user first (``acting_user``: registered users only once any exist; a refusal
is audited as ``access.denied``), then asks the policy point and does the work, which audits in the same
transaction as it writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.progress import Progress
    from dangan.core.store.ingest import IngestOutcome
    from dangan.core.store.integrity import Problem
    from dangan.core.store.retrieval_stream import FileStream
    from dangan.model import Record

#: Secrecy levels whose records may be sealed in a confidential volume (their fields shown once unlocked).
SEALED_LEVELS = ("secret", "confidential", "top-secret")


@dataclass(frozen=True)
class RecordView:
    """What ``show`` gives: the record (its sealed fields restored while its volume is unlocked), whether it
    is locked, and its versions."""
    record: Record
    locked: bool
    versions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.record.to_dict()
        d["versions"] = self.versions
        d["locked"] = self.locked
        return d


def ingest(archive: Archive, paths: Iterable[Path], fields: RecordFields, *, attachments: tuple[Path, ...] = (),
           allow_duplicate: bool = False, create_volume: bool = True, follow_symlinks: bool = False,
           on_outcome: Callable[[IngestOutcome], None] | None = None, progress: Progress | None = None,
           on_warning: Callable[[str], None] | None = None, index: bool = True) -> list[IngestOutcome]:
    """Archive files and folders (recursively) as records, one outcome per file, in the given order."""
    from dangan.core.store.batch import ingest_batch
    from dangan.errors import UsageError
    paths = [Path(p) for p in paths]
    if attachments and (len(paths) != 1 or paths[0].is_dir()):
        raise UsageError("--attach needs exactly one main file")
    return ingest_batch(archive, paths, fields, attachments=tuple(attachments), allow_duplicate=allow_duplicate,
                        on_outcome=on_outcome, progress=progress, create_volume=create_volume,
                        on_warning=on_warning, follow_symlinks=follow_symlinks, index=index)


def revise(archive: Archive, ref: str, path: Path | None = None, fields: RecordFields | None = None,
           message: str = "") -> Record:
    """A new version of a record: a new main file and/or changed catalogue fields."""
    from dangan.core.kernel.pipeline import pipeline_for
    from dangan.core.store.ingest import Ingestor
    acting_user(archive, action="revise", obj=ref)
    return Ingestor(archive, **pipeline_for(archive)).revise(ref, path, fields, message)


def extraction_queued(archive: Archive, rid: str) -> bool:
    """The record's text is still to be extracted by ``dangan worker`` (``[ingest] extraction = "workers"``,
    or the drop-folder watcher's archive-first path): its job waits in the catalogue's queue."""
    from dangan.core.store.deferred import queued
    return queued(archive.conn, rid)


def show(archive: Archive, ref: str, version: int | None = None) -> RecordView:
    """One record as the acting user may view it (a record above their clearance: refused, audited)."""
    from dangan.core.policy.access import require
    acting_user(archive, action="view", obj=ref)
    rec = archive.record(ref, version)
    require(archive, "view", rec)
    rec, locked = archive.opened(rec)
    return RecordView(rec, locked, archive.versions(rec.id))


def versions(archive: Archive, ref: str) -> list[dict[str, Any]]:
    """A record's versions (their messages kept sealed while a confidential volume is locked), each with the
    field changes it made (``changes``: field → before and after, read from the store)."""
    from dangan.core.confidential.sealing import versions_shown
    from dangan.core.policy.access import require
    from dangan.core.store.revision import version_changes
    from dangan.errors import DanganError
    acting_user(archive, action="view", obj=ref)
    rec = archive.record(ref)
    require(archive, "view", rec)
    rows = versions_shown(archive, ref)
    try:
        changes = version_changes(archive, rec.id, [r["version"] for r in rows])
    except (DanganError, OSError):
        changes = {}                    # a destroyed record's versions are gone from the store
    for r in rows:
        r["changes"] = changes.get(r["version"], {})
    return rows


def ls(archive: Archive, filters: str = "", *, department: str | None = None, category: str | None = None,
       year: int | None = None, secrecy: str | None = None, volume: str | None = None, sort: str = "created",
       limit: int | None = None, puid: str | None = None) -> list[Record]:
    """The records the acting user may see, filtered by field (``dept:BGS year:2019..2021``), sealed fields
    restored where their volume is unlocked."""
    from dangan.core.search.listing import list_filtered
    acting_user(archive, action="list records")
    recs = list_filtered(archive, filters, department=department, category=category, year=year, secrecy=secrecy,
                         volume=volume, puid=puid, sort=sort, limit=limit)
    return [archive.opened(r)[0] if r.secrecy in SEALED_LEVELS else r for r in recs]


def get(archive: Archive, ref: str, out_dir: Path, *, version: int | None = None, include_derivatives: bool = False,
        overwrite: bool = False) -> list[Path]:
    """Write a record's files into ``out_dir``, byte-identical, each verified against its digest (audited as
    ``record.retrieve``; reading needs ``read`` and, for records the loan policy covers, an issued loan)."""
    from dangan.core.store.retrieval import get_files
    acting_user(archive, action="read", obj=ref)
    return get_files(archive, ref, Path(out_dir), version=version, include_derivatives=include_derivatives,
                     overwrite=overwrite)


def open_file(archive: Archive, ref: str, n: int = 1, *, version: int | None = None, byte_range: str | None = None,
              via: str = "web") -> FileStream:
    """The ``n``-th file of a record (1 = the main file, then attachments) as verified chunks, never written to
    disk (a sealed record is decrypted in memory); ``byte_range``: an HTTP Range header; audited as
    ``record.retrieve`` with ``via``."""
    from dangan.core.store.retrieval_stream import open_file as run
    acting_user(archive, action="read", obj=ref)
    return run(archive, ref, n, version=version, byte_range=byte_range, via=via)


def approve(archive: Archive, ref: str, note: str = "") -> Record:
    """A record pending approval becomes active (and visible) in a new version, if the plugins let the acting
    user approve it."""
    from dangan.core.management.approvals import approve as run
    acting_user(archive, action="approve records", obj=ref)
    return run(archive, ref, note)


def check(archive: Archive, ref: str | None = None, *, digests: bool = True, decrypt: bool = False,
          progress: Callable[[int, int], None] | None = None) -> list[Problem]:
    """Verify every digest (or one record's) and compare store and catalogue; the problems found."""
    from dangan.core.catalogue.health import check_pages
    from dangan.core.store.integrity import check as run
    if ref is None:               # damage on pages no listing reads: said first, before the users table is read
        check_pages(archive.conn, archive.catalogue_path)
    acting_user(archive, action="check")
    return run(archive, ref, digests=digests, decrypt=decrypt, progress=progress)


def identify(archive: Archive, refs: Iterable[str] = (), *, every: bool = False) -> list[dict[str, Any]]:
    """PRONOM formats for the named records' files and derivatives (or, with ``every``, all that need them),
    each in a new version audited ``record.identify``; archivists and admins only."""
    from dangan.core.store.format_backfill import identify_formats
    acting_user(archive, action="identify formats")
    return identify_formats(archive, list(refs), every=every)



def id_width(archive: Archive) -> int:
    """How many characters of a record id are unique in this archive (listings cut ids to it)."""
    from dangan.core.catalogue.records import short_id_length
    return short_id_length(archive.conn)


def thumbnail(archive: Archive, ref: str) -> bytes | None:
    """The PNG thumbnail of a record's main file (head version), for result lists and record pages; None when
    it has none (sealed records, video, text).  A preview of what search snippets already show: ``view``."""
    from dangan.core.policy.access import require
    from dangan.core.store.layout import thumbnail_path
    acting_user(archive, action="view", obj=ref)
    rec = archive.record(ref)
    require(archive, "view", rec)
    main = rec.main_file
    if main is None:
        return None
    path = thumbnail_path(main.path)
    if path not in {f.logical_path for f in archive.store.files(rec.id)}:
        return None
    return archive.store.read_bytes(rec.id, path)


__all__ = ["RecordView", "ingest", "revise", "show", "versions", "ls", "id_width", "get", "open_file", "approve",
           "check", "identify", "thumbnail"]
