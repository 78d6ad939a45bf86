"""Getting records back out: byte-identical, verified while reading."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import IntegrityError, NotFound, UsageError
from ..repository.fsutil import translate_oserror
from .storage import DERIVATIVE_PREFIX, METADATA_PATH, stored_original_names


def get_files(archive, ref: str, out_dir: Path, *, version: int | None = None,
              include_derivatives: bool = False, overwrite: bool = False) -> list[Path]:
    """Write a record's files into ``out_dir`` under their original names.

    Each file is written to ``NAME.part`` while its sha512 is checked and only
    renamed into place when it matches; a damaged file leaves no output.
    """
    from .access import require
    rec = archive.record(ref, version)
    require(archive, "read", rec)
    v = rec.version
    names = stored_original_names(archive.store, rec.id, v)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    outcome, problem = "success", None
    try:
        for stored in archive.store.files(rec.id, v):
            lp = stored.logical_path
            if lp == METADATA_PATH or (lp.startswith(DERIVATIVE_PREFIX) and not include_derivatives):
                continue
            name = names.get(lp, lp)
            from ..repository.paths import safe_name
            target = out_dir / (safe_name(name) if not lp.startswith(DERIVATIVE_PREFIX) else lp.replace("/", "_"))
            if target.exists() and not overwrite:
                raise UsageError(f"{target} exists: choose another -o folder or remove it")
            part = target.with_name(target.name + ".part")
            try:
                with open(part, "wb") as out:
                    for chunk in archive.store.read_chunks(rec.id, stored):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            except IntegrityError:
                part.unlink(missing_ok=True)
                raise
            except OSError as exc:
                part.unlink(missing_ok=True)
                raise translate_oserror(exc, f"writing {target}") from exc
            os.replace(part, target)
            written.append(target)
    except (IntegrityError, NotFound) as exc:
        outcome, problem = "failure", exc.message
        raise
    finally:
        archive.record_event("record.retrieve", rec.id, outcome, details={
            "version": v, "to": str(out_dir), "files": [p.name for p in written], "problem": problem})
    return written
