"""Small shared domain types and vocabulary.

Every layer may import this module; it imports nothing of dangan but
``errors``.  Terms follow the glossary in DESIGN.md.
"""
from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import UsageError

# 密级, ordered from least to most restricted.
SECRECY_LEVELS: tuple[str, ...] = ("public", "internal", "secret", "confidential", "top-secret")
_SECRECY_ALIASES = {
    "公开": "public", "公開": "public",
    "内部": "internal", "內部": "internal",
    "秘密": "secret",
    "机密": "confidential", "機密": "confidential",
    "绝密": "top-secret", "絕密": "top-secret",
    "top_secret": "top-secret", "topsecret": "top-secret",
}
#: secret (秘密) and above is confidential: kept in encrypted volumes.
CONFIDENTIAL_FROM = "secret"

# 保管期限: the three terms and their DA/T 22 codes.  Schemes may add more codes.
RETENTION_TERMS: tuple[str, ...] = ("permanent", "long-term", "short-term")
RETENTION_CODES = {"permanent": "Y", "long-term": "D30", "short-term": "D10"}
RETENTION_YEARS = {"permanent": None, "long-term": 30, "short-term": 10}
_RETENTION_ALIASES = {
    "y": "permanent", "永久": "permanent",
    "d30": "long-term", "长期": "long-term", "長期": "long-term", "long": "long-term",
    "d10": "short-term", "短期": "short-term", "short": "short-term",
}


def _key(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()


def normalise_secrecy(value: str) -> str:
    """Return the canonical secrecy level for English or Chinese input."""
    k = _key(value)
    if k in SECRECY_LEVELS:
        return k
    if k in _SECRECY_ALIASES:
        return _SECRECY_ALIASES[k]
    raise UsageError(
        f"unknown secrecy level {value!r}: use one of {', '.join(SECRECY_LEVELS)} (or 公开 内部 秘密 机密 绝密)"
    )


def secrecy_rank(level: str) -> int:
    return SECRECY_LEVELS.index(normalise_secrecy(level))


def is_confidential(level: str) -> bool:
    return secrecy_rank(level) >= SECRECY_LEVELS.index(CONFIDENTIAL_FROM)


def normalise_retention(value: str) -> str:
    """Canonical retention: a term (permanent, long-term, short-term) or a code like D5.

    DA/T 22 codes for the three terms map to the terms; other ``D<n>`` codes
    (years) that a scheme may define are kept as upper-case codes.
    """
    k = _key(value)
    if k in RETENTION_TERMS:
        return k
    if k in _RETENTION_ALIASES:
        return _RETENTION_ALIASES[k]
    if len(k) > 1 and k[0] == "d" and k[1:].isdigit() and int(k[1:]) > 0:
        return k.upper()
    raise UsageError(
        f"unknown retention {value!r}: use permanent, long-term, short-term, or a code Y, D30, D10, D<years>"
    )


def retention_code(retention: str) -> str:
    r = normalise_retention(retention)
    return RETENTION_CODES.get(r, r)


def retention_years(retention: str) -> int | None:
    """Years a retention keeps a record; None for permanent."""
    r = normalise_retention(retention)
    if r in RETENTION_YEARS:
        return RETENTION_YEARS[r]
    return int(r[1:])


@dataclass
class RecordFile:
    """One file in a record version, under its logical path."""

    path: str                 # logical path inside the version, e.g. "合同.pdf"
    role: str                 # "main", "attachment" or "derivative" (a PDF/A copy, text, thumbnail: Record.derivatives)
    size: int
    sha512: str
    mime: str = "application/octet-stream"      # by content (libmagic)
    mime_by_extension: str | None = None
    mime_mismatch: bool = False
    puid: str | None = None                     # PRONOM format (fido); None: not identified
    format_name: str | None = None
    format_basis: str | None = None             # signature, container, extension, none; None: never ran

    def to_dict(self) -> dict[str, Any]:
        d = {"path": self.path, "role": self.role, "size": self.size, "sha512": self.sha512, "mime": self.mime,
             "mime_by_extension": self.mime_by_extension, "mime_mismatch": self.mime_mismatch}
        if self.format_basis is not None:       # files identified before keep metadata.json as it was
            d.update(puid=self.puid, format_name=self.format_name, format_basis=self.format_basis)
        return d


@dataclass
class Record:
    """A record (件): a main file with its attachments, and its catalogue fields."""

    id: str
    fonds: str
    title: str = ""
    department: str | None = None
    category: str | None = None
    year: int | None = None
    date: str | None = None          # ISO date the document arose
    retention: str | None = None
    secrecy: str = "public"
    volume: str | None = None
    archival_code: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    files: list[RecordFile] = field(default_factory=list)
    version: int = 1
    created: str = ""                # ISO timestamp, UTC
    updated: str = ""
    status: str = "active"           # active, pending, destroyed
    extraction: dict[str, Any] = field(default_factory=dict)
    #: The stored files dangan made from the originals (``.dangan/pdfa/…``, ``text/…``, ``thumbnails/…``), each
    #: with its PRONOM format like an original (``store.derivative_formats``); none for a sealed record.
    derivatives: list[RecordFile] = field(default_factory=list)

    @property
    def main_file(self) -> RecordFile | None:
        for f in self.files:
            if f.role == "main":
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies recursively and dominated `ls --json` at 10,000 records
        d = {"id": self.id, "fonds": self.fonds, "title": self.title, "department": self.department,
             "category": self.category, "year": self.year, "date": self.date, "retention": self.retention,
             "secrecy": self.secrecy, "volume": self.volume, "archival_code": self.archival_code,
             "tags": list(self.tags), "metadata": dict(self.metadata),
             "files": [f.to_dict() for f in self.files], "version": self.version, "created": self.created,
             "updated": self.updated, "status": self.status, "extraction": dict(self.extraction)}
        if self.derivatives:              # records written before derivatives were described keep their form
            d["derivatives"] = [f.to_dict() for f in self.derivatives]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Record":
        d = dict(d)
        d["files"] = [RecordFile(**f) for f in d.get("files", [])]
        d["derivatives"] = [RecordFile(**f) for f in d.get("derivatives", [])]
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Extraction:
    """What an extractor got out of one file: text and technical metadata.

    ``status`` is one of:
      ``ok``          text (or metadata) extracted;
      ``empty``       the file holds no text (a silent image, an empty PDF);
      ``not-ocred``   an image or scan that was not OCR'd (Tesseract missing);
      ``encrypted``   a password is needed and none (or a wrong one) was given;
      ``unsupported`` no extractor knows this MIME type;
      ``failed``      the extractor failed; ``message`` says why.
    """

    status: str = "ok"
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    ocr: bool = False
    extractor: str = ""
    #: A PNG thumbnail (image, PDF or OFD first page) when ``ExtractOptions.thumbnail_px`` asked for one.
    thumbnail: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("thumbnail")
        return d


@dataclass(frozen=True)
class ExtractOptions:
    """What the caller lets an extractor do.

    ``password`` opens encrypted PDFs; ``ocr_languages`` is Tesseract's ``-l``
    value; ``ocr=False`` skips OCR (images end ``not-ocred``); ``max_pages``
    caps the PDF pages read (``/Count`` is never trusted); ``max_chars`` caps
    the text returned; ``tesseract_cmd`` names the Tesseract executable.
    """

    password: str | None = None
    ocr_languages: str = "chi_sim+chi_tra+eng"
    ocr: bool = True
    max_pages: int = 500
    max_chars: int = 5_000_000
    tesseract_cmd: str = "tesseract"
    #: Bytes a text-like file may have; larger files are read up to this much.
    max_text_bytes: int = 64 * 1024 * 1024
    #: Uncompressed bytes an office (ZIP) container may expand to.
    max_unzipped_bytes: int = 512 * 1024 * 1024
    #: Pixels an image or a rendered PDF page may have before OCR is refused.
    max_pixels: int = 120_000_000
    #: Longer side in pixels of the PNG thumbnail made beside the text; 0: none.
    thumbnail_px: int = 0
    #: Seconds one external program (tesseract, pdftoppm) may run.
    tool_timeout: float = 90.0
    #: Seconds a PDF's page loop may take; later pages are skipped with a message.
    #: ``extract_in_worker`` lowers it below its own timeout.
    time_budget: float = 100.0
