"""The drop folders' files: scanning, fingerprints, and where a file goes when it leaves.

Moves are renames (fsynced on both sides), so at every instant a file is in
exactly one place: its drop folder, ``done/`` or ``quarantine/``.  A
quarantined file gets ``NAME.error.txt`` first (written durably), then the
file is renamed next to it.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator

from dangan.repository.fsutil import fsync_dir, makedirs_durable, write_durable
from dangan.core.store.source_files import NAME_MAX, fit_name, open_folder_beneath, open_source, shown_name
from dangan.core.watch.config import DropFolder
from dangan.core.kernel.clock import utc_text

CHUNK = 1024 * 1024


def scan(folder: DropFolder) -> Iterator[Path]:
    """Every file of the folder that is one to take (sorted; symlinked folders not followed)."""
    for dirpath, dirnames, filenames in os.walk(folder.path):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if folder.takes_dir(d / n))
        for name in sorted(filenames):
            p = d / name
            if folder.takes(p):
                yield p


def fingerprint(path: Path, *, max_bytes: int | None, digest: bool = True, beneath: Path | None = None) -> str | None:
    """The sha512 of a drop file (None without ``digest``), read through ``source_files.open_source``:
    a symbolic link, FIFO, socket or device, an empty file or one over the size limit raises
    ``FileRefused`` before anything blocks or reads a byte."""
    with open_source(path, follow_symlinks=False, max_bytes=max_bytes, beneath=beneath) as src:
        if not digest:
            return None
        h = hashlib.sha512()
        while chunk := src.fh.read(CHUNK):
            h.update(chunk)
        return h.hexdigest()


def note_path(target: Path) -> Path:
    """``NAME.error.txt`` next to a quarantined file (shortened if NAME is near the name-length limit)."""
    return target.with_name(fit_name(target.name, NAME_MAX - len(".error.txt")) + ".error.txt")


def _free_name(target: Path) -> Path:
    if not os.path.lexists(target) and not note_path(target).exists():
        return target
    stem, suffix = target.stem, target.suffix
    for i in range(2, 100_000):
        cand = target.with_name(fit_name(f"{stem} ({i}){suffix}"))
        if not os.path.lexists(cand) and not note_path(cand).exists():
            return cand
    raise FileExistsError(errno.EEXIST, "no free name", str(target))


def _move(src: Path, dest: Path, stop: Path, root: Path) -> Path:
    """Rename ``src`` (a file under the drop folder ``root``) to ``dest`` (a free name), durably.

    ``src`` is renamed relative to its folder's descriptor, reached from ``root`` without
    following links: a sub-folder swapped for a link after the file was taken cannot make
    the watcher move a file from elsewhere (``SymlinkedFolder``)."""
    makedirs_durable(dest.parent, stop)
    src_dir = open_folder_beneath(src, root)
    try:
        try:
            os.rename(src.name, dest, src_dir_fd=src_dir)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")      # another filesystem: copy, fsync, rename
            with open_source(src, beneath=root) as source, open(tmp, "xb") as out:
                shutil.copyfileobj(source.fh, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
                os.chmod(out.fileno(), source.st.st_mode & 0o7777)
                os.utime(out.fileno(), ns=(source.st.st_atime_ns, source.st.st_mtime_ns))
            os.rename(tmp, dest)
            fsync_dir(dest.parent)
            os.unlink(src.name, dir_fd=src_dir)
        fsync_dir(dest.parent)
        os.fsync(src_dir)
    finally:
        os.close(src_dir)
    return dest


def to_done(folder: DropFolder, path: Path) -> Path | None:
    """The file is archived: delete it, or move it to ``done/`` keeping its relative path."""
    if folder.after == "delete":
        parent = open_folder_beneath(path, folder.path)
        try:
            os.unlink(path.name, dir_fd=parent)
            os.fsync(parent)
        except FileNotFoundError:
            return None
        finally:
            os.close(parent)
        return None
    stop = folder.done if folder.done_dir else folder.path
    target = folder.done / folder.relative(path)
    makedirs_durable(target.parent, stop)
    return _move(path, _free_name(target), stop, folder.path)


def to_quarantine(folder: DropFolder, path: Path, reason: str) -> Path:
    """Move the file to ``quarantine/`` with ``NAME.error.txt`` giving the reason."""
    target = folder.quarantine / folder.relative(path)
    makedirs_durable(target.parent, folder.path)
    target = _free_name(target)
    when = utc_text()
    text = f"{reason}\n\nfile: {shown_name(folder.relative(path))}\nquarantined: {when}\nby: dangan watch\n"
    write_durable(note_path(target), text.encode("utf-8", "backslashreplace"))
    return _move(path, target, folder.path, folder.path)


def quarantined(folder: DropFolder) -> int:
    """How many files wait in the folder's quarantine (their ``.error.txt`` not counted)."""
    if not folder.quarantine.is_dir():
        return 0
    n = 0
    for _dirpath, _dirs, files in os.walk(folder.quarantine):
        n += sum(1 for f in files if not f.endswith(".error.txt"))
    return n
