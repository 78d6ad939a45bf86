"""The small files this process has just published to a bucket, kept in memory for its own ``reading()`` views.

A batch ingest indexes what it filed right after filing it; from a bucket that was a listing and two GETs per
record (its keys' sizes, ``metadata.json``, the text) for bytes the process had in hand a moment before.
:func:`keep` holds each published file of at most :data:`MAX_FILE` bytes (:data:`MAX_TOTAL` in all, the
oldest dropped first) under its key, once its object's root sidecar is put; inside a ``reading()`` view the
bucket store takes a file's size and bytes from here **only when the trusted inventory, read from the bucket
as always, names that content path with that digest** — an OCFL content path is written once and never
changed, and the bytes are checked against the digest again.  Outside a view (``dangan check``, ``get``, a
revision) nothing here is used: those read the bucket.  Sealed files are kept as their stored ciphertext.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

MAX_FILE = 64 * 1024
MAX_TOTAL = 64 * 1024 * 1024
_kept: OrderedDict[str, bytes] = OrderedDict()
_total = 0
_lock = threading.Lock()


def keep(store_url: str, key: str, path: Path, size: int) -> None:
    """Remember the staged file ``path`` just published at ``key`` of the store at ``store_url``
    (small files only)."""
    global _total
    key = f"{store_url}/{key}"
    if size > MAX_FILE:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return
    with _lock:
        old = _kept.pop(key, None)
        _total -= len(old) if old is not None else 0
        _kept[key] = data
        _total += len(data)
        while _total > MAX_TOTAL and _kept:
            _total -= len(_kept.popitem(last=False)[1])


def get(store_url: str, key: str) -> bytes | None:
    with _lock:
        return _kept.get(f"{store_url}/{key}")
