"""Ingest of many files: each file's outcome reported, one bad file never stops the batch."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import DanganError, DuplicateRecord, StorageFull
from .fields import RecordFields
from .ingest import IngestOutcome, Ingestor


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and the files inside folders named (recursively, sorted, symlinked folders not followed)."""
    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for name in sorted(filenames):
                    yield Path(dirpath) / name
        else:
            yield p


def ingest_batch(archive, paths: Iterable[Path], fields: RecordFields, *, attachments: tuple[Path, ...] = (),
                 allow_duplicate: bool = False, on_outcome: Callable[[IngestOutcome], None] | None = None,
                 progress: bool = False, index: bool = True,
                 on_warning: Callable[[str], None] | None = None) -> list[IngestOutcome]:
    from .pipeline import pipeline_for
    from .recovery import recover_interrupted

    recover_interrupted(archive)
    ingestor = Ingestor(archive, allow_duplicate=allow_duplicate, **pipeline_for(archive))
    files = list(expand(paths))
    outcomes: list[IngestOutcome] = []
    bar = None
    if progress and len(files) > 1:
        import click
        bar = click.progressbar(length=len(files), label="archiving", file=None)
        bar.__enter__()
    try:
        for path in files:
            outcome = _one(ingestor, path, fields, attachments)
            outcomes.append(outcome)
            if bar:
                bar.update(1)
            if on_outcome:
                on_outcome(outcome)
            if outcome.status == "failed" and outcome.message.startswith("disk full"):
                break       # nothing more can be archived; the rest stay where they are
    finally:
        if bar:
            bar.__exit__(None, None, None)
    if index and any(o.status == "archived" for o in outcomes):
        from .indexing import drain
        try:
            drain(archive)          # searchable when the command returns
        except DanganError as exc:  # archived all the same; the updates stay queued for the next drain
            if on_warning:
                on_warning(f"archived, but not yet searchable: {exc.message}")
    return outcomes


def _one(ingestor: Ingestor, path: Path, fields: RecordFields, attachments: tuple[Path, ...]) -> IngestOutcome:
    try:
        rec = ingestor.ingest(path, fields, attachments)
    except DuplicateRecord as exc:
        return IngestOutcome(str(path), "duplicate", exc.existing_id, message=exc.message)
    except StorageFull as exc:
        return IngestOutcome(str(path), "failed", message=exc.message)
    except DanganError as exc:
        return IngestOutcome(str(path), "refused", message=exc.message if str(path) in exc.message
                             else f"{path}: {exc.message}")
    return IngestOutcome(str(path), "archived", rec.id, rec.archival_code)
