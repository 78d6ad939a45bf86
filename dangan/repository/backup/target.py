"""Where a backup repository keeps its files: the storage interface and a directory target.

A target is a flat key/value store of named files (``data/ab/abcd…``,
``snapshots/…``, ``config``, ``locks/repo``).  The backup code only ever
calls the methods of :class:`BackupTarget`, so the S3-compatible target is
one more class (``target_s3.S3Target``):

* ``put`` / ``put_stream`` are **atomic**: a reader sees the whole new file
  or nothing (directory: temp file + rename; S3: a single PUT).
* ``create_exclusive`` writes a file only if the name is free (directory:
  ``link``; S3: a conditional ``If-None-Match: *`` PUT) — used for the lock.
* ``sync`` makes every completed ``put(durable=False)`` durable; the
  repository calls it before it writes a snapshot manifest, so a manifest is
  never on disk before the blobs it names.
"""
from __future__ import annotations

import ctypes
import os
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator, Protocol

from dangan.errors import NotFound, UsageError
from dangan.repository.fsutil import fsync_dir, translate_oserror

CHUNK = 1024 * 1024


class Reader(Protocol):
    """What ``put_stream`` reads: ``read(n)`` until it returns b"" (a file, or a checking reader over one)."""

    def read(self, n: int = -1, /) -> bytes: ...


class BackupTarget(ABC):
    """The storage a backup repository lives in (names use ``/`` separators)."""

    location: str

    @abstractmethod
    def put(self, name: str, data: bytes, *, durable: bool = True) -> None: ...

    @abstractmethod
    def put_stream(self, name: str, src: Reader, *, durable: bool = True) -> int:
        """Store what ``src.read`` gives until b"" (atomically); returns the size.

        If ``src.read`` raises, nothing is stored and the error propagates.
        """

    @abstractmethod
    def create_exclusive(self, name: str, data: bytes) -> bool:
        """Store ``data`` under ``name`` only if it does not exist yet; False if it does."""

    @abstractmethod
    def get(self, name: str) -> bytes: ...

    @abstractmethod
    def stream(self, name: str) -> Iterator[bytes]: ...

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def size(self, name: str) -> int | None:
        """The stored size, or None if there is no such file."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(name, size) of every file whose name starts with ``prefix`` (a folder, ending in ``/``)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name``; no error if it is already gone."""

    def sync(self) -> None:
        """Make every completed non-durable put durable."""

    def is_empty(self) -> bool:
        return next(iter(self.list("")), None) is None


class DirectoryTarget(BackupTarget):
    """A folder on a local or mounted file system (external disk, NAS)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.location = str(self.root)

    def _path(self, name: str) -> Path:
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
            raise UsageError(f"invalid name in a backup repository: {name!r}")
        return self.root / name

    def _tmp(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")

    def put(self, name: str, data: bytes, *, durable: bool = True) -> None:
        import io
        self.put_stream(name, io.BytesIO(data), durable=durable)

    def put_stream(self, name: str, src: Reader, *, durable: bool = True) -> int:
        path = self._path(name)
        try:
            tmp = self._tmp(path)
            size = 0
            try:
                with open(tmp, "xb") as out:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if durable:
                fsync_dir(path.parent)
            return size
        except OSError as exc:
            raise translate_oserror(exc, f"writing {name} to the backup repository {self.location}") from exc

    def create_exclusive(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        tmp = self._tmp(path)
        try:
            with open(tmp, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)          # fails if the name is taken; the content is complete when it appears
            except FileExistsError:
                return False
            fsync_dir(path.parent)
            return True
        except OSError as exc:
            raise translate_oserror(exc, f"writing {name} to the backup repository {self.location}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{name} is missing from the backup repository {self.location}") from None

    def stream(self, name: str) -> Iterator[bytes]:
        try:
            fh = open(self._path(name), "rb")
        except FileNotFoundError:
            raise NotFound(f"{name} is missing from the backup repository {self.location}") from None
        with fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root)
            for f in sorted(filenames):
                if f.startswith(".") and f.endswith(".tmp"):
                    continue                 # an interrupted put
                name = f if str(rel) == "." else f"{rel.as_posix()}/{f}"
                try:
                    yield name, os.stat(os.path.join(dirpath, f)).st_size
                except FileNotFoundError:
                    continue

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise translate_oserror(exc, f"deleting {name} from the backup repository {self.location}") from exc

    def sweep_temp(self) -> int:
        """Remove temp files left by interrupted puts (call only under the repository lock)."""
        n = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                if f.startswith(".") and f.endswith(".tmp"):
                    try:
                        os.unlink(os.path.join(dirpath, f))
                        n += 1
                    except FileNotFoundError:
                        pass
        return n

    def sync(self) -> None:
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return
        try:
            if _libc_syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise translate_oserror(exc, f"creating the backup repository {self.location}") from exc

    def is_empty(self) -> bool:
        if not self.root.exists():
            return True
        return not any(self.root.iterdir())


def _libc_syncfs(fd: int) -> int:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs(fd)
    except (OSError, AttributeError):
        return -1


def open_target(spec: str, *, base: Path | None = None, endpoint_url: str | None = None) -> BackupTarget:
    """The target named by ``spec``: a folder path (relative to ``base``), ``file://PATH``, or
    ``s3://bucket/prefix`` (``target_s3``; ``endpoint_url`` or ``?endpoint_url=`` names the S3 service)."""
    spec = spec.strip()
    if not spec:
        raise UsageError("no backup repository given: use --repo TARGET or set [backup] repo in dangan.toml")
    scheme = spec.split("://", 1)[0] if "://" in spec else ""
    if scheme == "file":
        spec = spec[len("file://"):]
    elif scheme == "s3":
        from dangan.repository.backup.target_s3 import S3Target, split_location
        url, endpoint = split_location(spec)
        return S3Target(url, endpoint or endpoint_url)
    elif scheme:
        raise UsageError(f"backup repositories of kind {scheme}:// are not supported (folders and s3://)")
    path = Path(spec).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return DirectoryTarget(path.absolute())

