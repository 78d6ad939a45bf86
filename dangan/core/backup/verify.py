"""``backup verify``: every blob every snapshot names is there, whole, and (with --read-data) intact.

Without reading data: a blob must exist with exactly the size its
ciphertext must have (known from the plaintext size), which catches a
missing and a truncated blob.  ``--read-data`` decrypts every blob (the
AEAD and the sha512 catch any altered byte); ``--sample N%`` does that for
a random N% of them.  Each problem names the records (and the snapshots)
whose content is affected.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from dangan.repository.backup.repo import DATA, BlobDamaged, Repository, blob_refs, encrypted_size
from dangan.errors import IntegrityError


@dataclass
class BlobUse:
    size: int
    records: set[str] = field(default_factory=set)
    parts: set[str] = field(default_factory=set)        # catalogue, store, dangan.toml, plugins/...
    snapshots: set[str] = field(default_factory=set)


def verify(repo: Repository, *, read_data: bool = False, sample: float | None = None,
           seed: int | None = None) -> dict:
    problems: list[dict] = []
    uses: dict[str, BlobUse] = {}
    ids = repo.snapshot_ids()
    for sid in ids:
        try:
            manifest = repo.load_snapshot(sid)
        except IntegrityError as exc:
            problems.append({"kind": "snapshot", "snapshot": sid, "message": exc.message, "records": []})
            continue
        for digest, size, kind, owner in blob_refs(manifest):
            use = uses.setdefault(digest, BlobUse(size))
            (use.records if kind == "record" else use.parts).add(owner)
            use.snapshots.add(sid)
    present = dict(repo.target.list(DATA))
    readable = []
    for digest, use in uses.items():
        name = repo.blob_name(digest)
        have = present.get(name)
        if have is None:
            problems.append(_problem("missing", name, use))
        elif have != encrypted_size(use.size):
            problems.append(_problem("truncated" if have < encrypted_size(use.size) else "altered", name, use))
        else:
            readable.append(digest)
    if sample is not None and not read_data:
        rng = random.Random(seed)
        readable = rng.sample(sorted(readable), min(len(readable), math.ceil(len(readable) * sample / 100)))
    elif not read_data:
        readable = []
    for digest in readable:
        try:
            for _chunk in repo.read_blob(digest):
                pass
        except BlobDamaged as exc:
            problems.append(_problem(exc.kind, exc.name, uses[digest]))
    return {"snapshots": len(ids), "blobs": len(uses), "blobs_read": len(readable), "problems": problems,
            "records_affected": sorted({r for p in problems for r in p["records"]})}


def _problem(kind: str, name: str, use: BlobUse) -> dict:
    what = ", ".join(sorted(use.records)[:5]) or ", ".join(sorted(use.parts))
    more = f" and {len(use.records) - 5} more" if len(use.records) > 5 else ""
    return {"kind": kind, "blob": name, "records": sorted(use.records), "parts": sorted(use.parts),
            "snapshots": sorted(use.snapshots),
            "message": f"blob {name} is {kind}: affects {what}{more} in {len(use.snapshots)} snapshot(s)"}
