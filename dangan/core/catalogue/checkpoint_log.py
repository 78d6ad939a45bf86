"""Where the audit trail's checkpoints are kept: a local append-only file, or one object each in the bucket.

``audit_anchor`` makes and checks the lines; this module reads and writes them.  Two places, one interface
(:class:`FileLog`, :class:`BucketLog`; :func:`of` picks the archive's):

* **a file** ``ARCHIVE/audit-checkpoints.log`` (``[audit] checkpoint_log`` elsewhere): one JSON line per
  checkpoint, appended under ``flock`` and fsynced — the embedded default, and any archive whose store is a
  folder;
* **the bucket**, when the store is one (``[store] url = "s3://bucket/prefix"``): one object per checkpoint,
  ``prefix.audit/checkpoints/<n, 12 digits>.json`` — beside the OCFL storage root, not inside it, so neither
  ``dangan check`` nor ocfl-py sees it — holding the same canonical line (content and HMAC) as the file would.
  Every machine whose ``dangan.toml`` names the bucket reads and writes this one log, whatever its local
  folders.  An object is created with a conditional PUT (``If-None-Match: *``; SeaweedFS 4.48 enforces it
  under concurrent PUTs too — fixed after 4.16, seaweedfs issue 8800 — and a test checks it): two machines
  never write one checkpoint twice, the second learns it was written.  The newest checkpoint is found from
  the catalogue's own number in one bounded listing and one GET (none if this process wrote it): constant
  cost, whatever the log's length.  ``read_all`` (``audit verify``) lists every object and reads those this
  machine's cache does not hold with the same ETag.  Measured (SeaweedFS on loopback, load 11 on 2 cores):
  a write transaction takes 18-25 ms median with the log in the bucket, 7-8 ms with the file.
"""
from __future__ import annotations

import fcntl
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.repository.s3client import S3

LOG_NAME = "audit-checkpoints.log"
LINE_FORMAT = "dangan-audit-checkpoint/1"
#: the bucket log's place: beside the store's prefix
BUCKET_SUFFIX = ".audit"
FOLDER = "checkpoints/"
#: the bucket log's local cache (a node folder's ``.work/``)
CACHE_NAME = "audit-checkpoints.cache"
DIGITS = 12


def canonical(line: dict) -> str:
    return json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def parse(raw: bytes) -> dict:
    line = json.loads(raw)
    if not isinstance(line, dict) or line.get("format") != LINE_FORMAT or not isinstance(line.get("n"), int) \
            or not isinstance(line.get("seq"), int) or not isinstance(line.get("hash"), str):
        raise ValueError("not a checkpoint")
    return line


class CheckpointLog(Protocol):
    #: how messages name the log
    name: str

    def tail(self, near: int) -> tuple[bool, dict | None]:
        """(the log exists, its newest checkpoint or None); ``near`` is the catalogue's checkpoint number (where
        the newest is expected).  ValueError if the newest does not parse."""

    def append(self, line: dict, *, after_gap: bool = False) -> bool:
        """Write checkpoint ``line`` if it is the next one; False if another writer wrote it already (or, for
        the file, the log does not end where it should) — unless ``after_gap`` (an acknowledgement)."""

    def read_all(self) -> tuple[list[dict], list[str]] | None:
        """Every checkpoint in order and what does not parse; None if there is no log."""

    def lines_upto(self, n: int) -> bytes:
        """The log's lines up to checkpoint ``n``, as the file holds them (a backup keeps them)."""


def of(archive: Archive) -> CheckpointLog:
    """The archive's checkpoint log (kept on the archive object)."""
    found = archive.__dict__.get("_checkpoint_log")
    if found is None:
        store = archive.config.raw.get("store") or {}
        if store.get("url"):
            found = BucketLog(archive.store.s3, archive.work / CACHE_NAME,   # type: ignore[attr-defined]
                              seed=file_path(archive))
        else:
            found = FileLog(file_path(archive))
        archive.__dict__["_checkpoint_log"] = found
    return found


def file_path(archive: Archive) -> Path:
    """``ARCHIVE/audit-checkpoints.log``, or ``[audit] checkpoint_log`` (a folder store only: node folders of one
    archive must all name the same log, or each would find the others' checkpoints missing from its own)."""
    named = archive.config.raw.get("audit", {}).get("checkpoint_log")
    if named:
        p = Path(str(named)).expanduser()
        return p if p.is_absolute() else archive.root / p
    return archive.root / LOG_NAME


# -- the file ----------------------------------------------------------------------------------
class FileLog:
    name = LOG_NAME

    def __init__(self, path: Path) -> None:
        self.path = path

    def read_all(self) -> tuple[list[dict], list[str]] | None:
        """Every complete line (a line still being written is left out) and the lines that do not parse."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        lines, bad = [], []
        for i, raw in enumerate(data.split(b"\n")[:-1], 1):
            try:
                lines.append(parse(raw))
            except ValueError:
                bad.append(f"line {i} of {LOG_NAME} is not a checkpoint (the file was edited)")
        return lines, bad

    def tail(self, near: int = 0) -> tuple[bool, dict | None]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False, None
        try:
            return True, _last_line(fd)
        finally:
            os.close(fd)

    def append(self, line: dict, *, after_gap: bool = False) -> bool:
        from dangan.repository.fsutil import fsync_dir
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                last = _last_line(fd)
            except ValueError:
                return False
            want = (last["n"] + 1) if last is not None else line["n"]
            if after_gap:
                if last is not None and line["n"] < want:
                    return False
            elif line["n"] != want or (last is None and line["n"] > 1):
                return False
            os.write(fd, (canonical(line) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        return True

    def lines_upto(self, n: int) -> bytes:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return b""
        keep = []
        for raw in data.split(b"\n")[:-1]:
            try:
                if parse(raw)["n"] > n:
                    break
            except ValueError:
                pass
            keep.append(raw + b"\n")
        return b"".join(keep)


def _last_line(fd: int) -> dict | None:
    """The last complete line of the open log (ValueError if it does not parse)."""
    end = os.fstat(fd).st_size
    size = 4096
    while True:
        start = max(0, end - size)
        chunk = os.pread(fd, end - start, start)
        complete = chunk[:chunk.rfind(b"\n") + 1] if b"\n" in chunk else b""
        parts = complete.split(b"\n")[:-1]
        if len(parts) >= 2 or start == 0:
            return parse(parts[-1]) if parts else None
        size *= 4


# -- the bucket --------------------------------------------------------------------------------
def object_name(n: int) -> str:
    return f"{n:0{DIGITS}d}.json"


def _number(name: str) -> int | None:
    stem, dot, ext = name.partition(".")
    return int(stem) if dot and ext == "json" and len(stem) == DIGITS and stem.isdigit() else None


class BucketLog:
    """One object per checkpoint at ``<store prefix>.audit/checkpoints/``.

    ``cache``: a local file of the checkpoints this machine has read (each with the ETag it had), so that
    reading the whole log costs its listing and a GET of each checkpoint not seen before or written again
    since, not a GET of every one (``audit verify`` runs in every ``dangan check``).

    ``seed``: the file an archive made before the log moved to the bucket wrote (``[audit] checkpoint_log``,
    else ``ARCHIVE/audit-checkpoints.log``): while the bucket holds no checkpoint its lines are put there, once
    (each a conditional PUT, so two machines doing it at once write each checkpoint once); what they say is
    checked as any checkpoint is."""

    def __init__(self, store_s3: S3, cache: Path | None = None, seed: Path | None = None) -> None:
        self.seed = seed
        self.s3 = store_s3.beside(BUCKET_SUFFIX)
        self.name = f"the checkpoint log {self.s3.place.url}/{FOLDER}"
        self.cache = cache
        self._known: dict[int, dict] = {}       # the last checkpoints this process wrote or read (immutable objects)

    def _remember(self, line: dict) -> None:
        self._known[line["n"]] = line
        while len(self._known) > 4:
            del self._known[min(self._known)]

    def _names(self) -> list[str]:
        return [k[len(FOLDER):] for k in self.s3.keys(FOLDER)]

    def _numbers(self) -> list[int]:
        return sorted(n for n in (_number(k) for k in self._names()) if n is not None)

    def _get(self, n: int) -> dict:
        data = self.s3.get(FOLDER + object_name(n), missing_ok=True)
        if data is None:
            raise ValueError(f"checkpoint {n} vanished")
        line = parse(data.rstrip(b"\n"))
        if line["n"] != n:
            raise ValueError(f"{object_name(n)} holds checkpoint {line['n']}")
        self._remember(line)
        return line

    def tail(self, near: int = 0) -> tuple[bool, dict | None]:
        """One listing of the few objects around ``near``, and a GET of the newest unless this process wrote or
        read it already (a checkpoint object is never written twice; an edited one is ``audit verify``'s
        finding); a log that does not end at ``near`` or ``near - 1`` (a problem ``audit_anchor.inspect`` names)
        is listed whole."""
        window = {n for n in (_number(k) for k in self.s3.keys_after(
            FOLDER, object_name(near - 2) if near >= 2 else "", 4)) if n is not None}
        if any(n > near for n in window) or not window & {near, near - 1}:
            numbers = self._numbers()
            if not numbers and self._seeded():
                numbers = self._numbers()
            if not numbers:
                return bool(window) or next(iter(self.s3.keys(FOLDER)), None) is not None, None
            newest = numbers[-1]
        else:
            newest = near if near in window else near - 1
        return True, self._known.get(newest) or self._get(newest)

    def _seeded(self) -> bool:
        """Put the seed file's lines into the empty bucket log; True if there were any."""
        read = FileLog(self.seed).read_all() if self.seed is not None else None
        if not read or not read[0]:
            return False
        from dangan.repository.s3client import REQUEST_CONCURRENCY
        with ThreadPoolExecutor(REQUEST_CONCURRENCY) as pool:
            list(pool.map(self.append, read[0]))
        return True

    def append(self, line: dict, *, after_gap: bool = False) -> bool:
        """A conditional PUT: False if checkpoint ``line["n"]`` is there already."""
        if not self.s3.put_new(FOLDER + object_name(line["n"]), (canonical(line) + "\n").encode("utf-8")):
            return False
        self._remember(line)
        return True

    def read_all(self) -> tuple[list[dict], list[str]] | None:
        listed = [(k[len(FOLDER):], etag) for k, _size, etag in self.s3.listed_keys(FOLDER)]
        if not listed:
            return None
        bad = [f"{self.s3.place.url}/{FOLDER}{k} is not a checkpoint object (the log was edited)"
               for k, _e in listed if _number(k) is None]
        etags = {_number(k): e for k, e in listed if _number(k) is not None}
        seen = self._load_cache()
        wanted = sorted(n for n, e in etags.items() if n is not None and (not e or (seen.get(n) or ("",))[0] != e))
        from dangan.repository.s3client import REQUEST_CONCURRENCY

        def one(n: int) -> dict | str:
            try:
                return self._get(n)
            except ValueError:
                return f"{self.s3.place.url}/{FOLDER}{object_name(n)} is not a checkpoint (the object was edited)"
        with ThreadPoolExecutor(REQUEST_CONCURRENCY) as pool:
            got = dict(zip(wanted, pool.map(one, wanted)))
        lines = []
        for n in sorted(k for k in etags if k is not None):
            found = got[n] if n in got else seen[n][1]
            if isinstance(found, str):
                bad.append(found)
            else:
                lines.append(found)
        if any(isinstance(g, dict) for g in got.values()):
            self._save_cache({n: (etags[n], line) for n, line in ((ln["n"], ln) for ln in lines)})
        return lines, bad

    def _load_cache(self) -> dict[int, tuple[str, dict]]:
        out: dict[int, tuple[str, dict]] = {}
        if self.cache is None:
            return out
        try:
            data = self.cache.read_bytes()
        except OSError:
            return out
        for raw in data.split(b"\n"):
            try:
                entry = json.loads(raw)
                line = parse(json.dumps(entry["line"]).encode())
                out[line["n"]] = (str(entry["etag"]), line)
            except (ValueError, KeyError, TypeError):
                continue                          # a damaged cache only costs GETs
        return out

    def _save_cache(self, entries: dict[int, tuple[str, dict]]) -> None:
        if self.cache is None:
            return
        tmp = self.cache.with_name(f"{self.cache.name}.{os.getpid()}.tmp")
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(b"".join((json.dumps({"etag": e, "line": line}, ensure_ascii=False) + "\n").encode()
                                     for _n, (e, line) in sorted(entries.items())))
            os.replace(tmp, self.cache)
        except OSError:
            tmp.unlink(missing_ok=True)

    def lines_upto(self, n: int) -> bytes:
        read = self.read_all()
        if read is None:
            return b""
        return b"".join((canonical(line) + "\n").encode("utf-8") for line in read[0] if line["n"] <= n)
