"""Streaming one file of a record to a face (web download, inline preview, HTTP Range), audited as ``get`` is.

``open_file`` asks what ``retrieval.get_files`` asks — the policy point (``read``), the loan policy, a
destroyed record's tombstone — and checks the store's files against the catalogue, then returns a
:class:`FileStream` whose chunks are read (and, for a sealed record, decrypted) as the face sends
them.  Nothing is written anywhere: a sealed record's plaintext exists only in memory, chunk by chunk.
Each retrieval is one ``record.retrieve`` event (``via`` names the face, ``range`` the bytes asked);
a sealed record's event names the opaque logical path only.

A whole file is verified while it is read (sha512 of the stored bytes; a sealed file's chunks are
authenticated and its plaintext digest compared at the end): a mismatch stops the stream with
IntegrityError, so a damaged file is never delivered whole.  A range of a plain file is read from
its offset (the digest cannot be checked on part of a file; ``dangan check`` covers it); a range of
a sealed file is decrypted from the start, every chunk authenticated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from dangan.errors import NotFound, RecordGone, UsageError
from dangan.core.store.layout import DERIVATIVE_PREFIX

if TYPE_CHECKING:
    from dangan.core.archive import Archive

CHUNK = 256 * 1024


@dataclass
class FileStream:
    record_id: str
    version: int
    name: str                     # the original file name (shown to cleared readers only)
    mime: str
    size: int                     # plaintext size in bytes
    sealed: bool
    _open: Callable[[int, int | None], Iterator[bytes]] = field(repr=False)

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` inclusive (None: to the end of the file)."""
        return self._open(start, end)


def parse_range(header: str | None, size: int, *, max_ranges: int = 1) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range of a file of ``size`` bytes, as (first, last); None for no header.  Several
    ranges, malformed or unsatisfiable ones raise UsageError (the face answers 416)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise UsageError("only a bytes range is served")
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > max_ranges:
        raise UsageError("one byte range per request")
    first, _, last = parts[0].partition("-")
    try:
        if first == "":                               # the last N bytes
            n = int(last)
            if n <= 0:
                raise ValueError
            a, b = max(0, size - n), size - 1
        else:
            a = int(first)
            b = int(last) if last else size - 1
    except ValueError:
        raise UsageError(f"bad range {header[:40]!r}") from None
    b = min(b, size - 1)
    if a < 0 or a > b or a >= size:
        raise UsageError("range not satisfiable")
    return a, b


def _sliced(chunks: Iterator[bytes], start: int, end: int | None) -> Iterator[bytes]:
    pos = 0
    for c in chunks:
        n = len(c)
        if pos + n <= start:
            pos += n
            continue
        a = max(0, start - pos)
        b = n if end is None else min(n, end + 1 - pos)
        if b > a:
            yield c[a:b]
        pos += n
        if end is not None and pos > end:
            return


def open_file(archive: Archive, ref: str, n: int = 1, *, version: int | None = None, via: str = "web",
              byte_range: str | None = None) -> FileStream:
    """The ``n``-th file of a record (1 = the main file, then attachments in order), checked and audited."""
    from dangan.core.policy.access import require
    from dangan.core.policy.loan_policy import require_loan
    from dangan.core.catalogue.tombstones import GONE, what_happened
    from dangan.core.confidential.sealing import PLAINTEXT_DIGEST, decrypt_chunks, opened, record_key, sealed_of
    from dangan.core.store.layout import stored_original_names
    from dangan.core.store.retrieval import _agrees_with_catalogue, _sealed_at, _verified
    head = archive.record(ref)
    if head.status in GONE:
        require(archive, "view", head)
        message = f"{what_happened(archive, head)}: its content is gone"
        archive.record_event("record.retrieve", head.id, "failure", details={"problem": message, "via": via})
        raise RecordGone(message)
    rec = archive.record(ref, version)
    require(archive, "read", rec)
    require_loan(archive, rec, "read")
    v = rec.version
    sealed = sealed_of(archive, rec.id) if version is None else _sealed_at(archive, rec.id, v)
    listed = [f for f in rec.files if f.role != "derivative" and not f.path.startswith(DERIVATIVE_PREFIX)]
    listed.sort(key=lambda f: (f.role != "main",))
    if not 1 <= n <= len(listed):
        raise NotFound(f"record {rec.id} has {len(listed)} file(s), not a file {n}")
    lp = listed[n - 1].path
    stored_files = archive.store.files(rec.id, v)
    stored = next((s for s in stored_files if s.logical_path == lp), None)
    if stored is None:
        raise NotFound(f"record {rec.id} v{v}: file {n} is not in the store; run `dangan check`")
    key = None
    if sealed:
        key = record_key(archive, rec)             # a clear error while the volume is locked
        full, plain = opened(archive, rec, sealed, key)
        info = plain.get(lp) or {}
        name, mime = info.get("original_name", lp), info.get("mime") or "application/octet-stream"
        size = next((f.size for f in full.files if f.path == lp), stored.size)
        _agrees_with_catalogue(archive, rec.id, v, stored_files, None)
    else:
        names = stored_original_names(archive.store, rec.id, v)
        _agrees_with_catalogue(archive, rec.id, v, stored_files, names)
        name, mime, size = names.get(lp, lp), listed[n - 1].mime, stored.size
    rng = parse_range(byte_range, size)
    archive.record_event("record.retrieve", rec.id, details={
        "version": v, "via": via, "range": f"{rng[0]}-{rng[1]}" if rng else None,
        "files": [lp] if sealed else [name]})

    def chunks(start: int, end: int | None) -> Iterator[bytes]:
        if key is not None:
            digest = (plain.get(lp) or {}).get(PLAINTEXT_DIGEST)
            body = decrypt_chunks(archive, rec, stored, key)
            if start == 0 and end is None:
                return _verified(body, digest, lp)
            return _sliced(body, start, end)
        if start == 0 and end is None:
            return archive.store.read_chunks(rec.id, stored)
        return archive.store.read_range(rec.id, stored, start, size - 1 if end is None else end)

    return FileStream(rec.id, v, name, mime, size, bool(sealed), chunks)
