"""Catalogue fields a user gives at ingest, validated into canonical form."""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field, replace

from dangan.errors import UsageError
from dangan.model import normalise_retention, normalise_secrecy

MAX_FIELD = 1000


@dataclass
class RecordFields:
    title: str | None = None
    department: str | None = None
    category: str | None = None
    year: int | None = None
    date: str | None = None
    retention: str | None = None
    secrecy: str | None = None
    volume: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def normalised(self) -> "RecordFields":
        f = replace(self, tags=list(self.tags), metadata=dict(self.metadata))
        for name in ("title", "department", "category", "volume"):
            v = getattr(f, name)
            if v is not None:
                v = _clean(v, name)
                setattr(f, name, v or None)
        if f.secrecy is not None:
            f.secrecy = normalise_secrecy(f.secrecy)
        if f.retention is not None:
            f.retention = normalise_retention(f.retention)
        if f.date is not None:
            f.date = parse_date(f.date)
        if f.year is not None and not 1000 <= int(f.year) <= 9999:
            raise UsageError(f"invalid year {f.year}: four digits expected")
        f.tags = sorted({_clean(t, "tag") for t in f.tags if t.strip()})
        f.metadata = {_clean(k, "metadata key"): _clean(v, "metadata value") for k, v in f.metadata.items()}
        return f

    def merged_over(self, base: "RecordFields") -> "RecordFields":
        """These fields where given, else ``base``'s (for a new version)."""
        out = replace(base)
        for name in ("title", "department", "category", "year", "date", "retention", "secrecy", "volume"):
            v = getattr(self, name)
            if v is not None:
                setattr(out, name, v)
        out.tags = sorted(set(base.tags) | set(self.tags))
        out.metadata = {**base.metadata, **self.metadata}
        return out


def _clean(value: str, what: str) -> str:
    v = unicodedata.normalize("NFC", str(value)).strip()
    if len(v) > MAX_FIELD:
        raise UsageError(f"{what} is too long ({len(v)} characters; at most {MAX_FIELD})")
    if any(unicodedata.category(c) == "Cc" for c in v):
        raise UsageError(f"{what} {v!r} contains control characters")
    return v


def parse_date(value: str) -> str:
    v = value.strip()
    try:
        return dt.date.fromisoformat(v).isoformat()
    except ValueError:
        pass
    for fmt in ("%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(v, fmt).date().isoformat()
        except ValueError:
            continue
    raise UsageError(f"invalid date {value!r}: use YYYY-MM-DD")


def parse_meta(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--meta expects key=value, got {p!r}")
        out[key.strip()] = value.strip()
    return out
