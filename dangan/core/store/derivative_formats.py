"""The derivatives of a version described like its originals: path, size, sha512, MIME and PRONOM format.

dangan makes three kinds of derivative from a plain record's files, all stored under ``.dangan/`` in the
same OCFL version, and all given to a user (``dangan get --with-text``, the web UI's thumbnails):

``pdfa``       ``.dangan/pdfa/<name>.pdfa.pdf``: the searchable PDF/A-2b copy of a scan (``store.pdfa``),
               kept only when its check passed.  It is the record's *preservation rendition*: a main file
               not in a preservation format whose copy is (``[formats] preservation``) passes DA/T 70's
               format test and is not at risk (``rendition_for``).
``text``       ``.dangan/text/<name>.txt``: the extracted text (UTF-8 plain text, ``x-fmt/111``).
``thumbnail``  ``.dangan/thumbnails/<name>.png``: a first-page or poster-frame preview (PNG).

Each is identified with fido when it is made (``[formats] identify``), as an original is, so every stored
file has a PUID; its entry is in ``metadata.json`` (``record.derivatives``) and in the catalogue's
``files`` table with role ``derivative``.  Only the PDF/A copy counts as a rendition: text and thumbnails
lose the document's appearance or content and are never a substitute for the original.  A derivative
carried over unchanged keeps the entry it had; one carried from a record described before this existed
is identified from the store when a reader for it is given (``dangan identify``, revisions).  A sealed
record has no derivative entries: its derivatives are ciphertext and their formats are sealed with it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from dangan.model import RecordFile
from dangan.core.store.layout import DERIVATIVE_PREFIX, THUMBNAILS_PREFIX

if TYPE_CHECKING:
    from dangan.repository.ocfl import VersionDraft

PDFA_PREFIX = DERIVATIVE_PREFIX + "pdfa/"
TEXT_PREFIX = DERIVATIVE_PREFIX + "text/"
_MIMES = {"pdfa": "application/pdf", "text": "text/plain", "thumbnail": "image/png"}

#: Opens a file kept from the previous version as a local path (``store.local_file``), for its format.
KeptReader = Callable[[str], AbstractContextManager[Path]]


def kind(path: str) -> str:
    """``pdfa``, ``text``, ``thumbnail`` or ``other`` for a derivative's logical path."""
    if path.startswith(PDFA_PREFIX):
        return "pdfa"
    if path.startswith(TEXT_PREFIX):
        return "text"
    if path.startswith(THUMBNAILS_PREFIX):
        return "thumbnail"
    return "other"


def describe(draft: VersionDraft, previous: Iterable[RecordFile], *, identify: bool,
             sizes: dict[str, int] | None = None, read_kept: KeptReader | None = None) -> list[RecordFile]:
    """Entries for every derivative in ``draft``'s state, in path order.

    A derivative added to the draft is described from its staged copy (identified when ``identify``); one kept
    from the previous version keeps its entry in ``previous`` (same path and digest); one kept with no entry
    (or, with ``identify``, an entry never identified) is described through ``read_kept`` (its size from
    ``sizes``), and left out without one."""
    before = {f.path: f for f in previous}
    out: list[RecordFile] = []
    for lp, digest in sorted(draft.state.items()):
        if not lp.startswith(DERIVATIVE_PREFIX):
            continue
        old = before.get(lp)
        if old is not None and old.sha512 == digest and (old.format_basis is not None or not identify):
            out.append(old)
            continue
        entry = RecordFile(path=lp, role="derivative", size=0, sha512=digest, mime=_MIMES.get(kind(lp), ""))
        staged = draft.staged_file(lp)
        if staged is not None:
            entry.size = draft.sizes[lp]
            _characterise(entry, nullcontext(staged), identify)
        elif read_kept is not None and sizes is not None and lp in sizes:
            entry.size = sizes[lp]
            _characterise(entry, read_kept(lp), identify)
        elif old is not None and old.sha512 == digest:
            out.append(old)                   # kept, and no way to read it now: the entry as it was
            continue
        else:
            continue                          # kept from a version that did not describe it: left for identify
        out.append(entry)
    return out


def _characterise(entry: RecordFile, opened: AbstractContextManager[Path], identify: bool) -> None:
    """The entry's PRONOM format (when ``identify``) and, for a kind of unknown type, its MIME by content."""
    from dangan.core.store import mime as mimes
    from dangan.core.store import pronom
    with opened as path:
        if identify:
            pronom.identify_entry(entry, path, Path(entry.path).name)
        if not entry.mime:
            entry.mime = mimes.by_content(path)


def rendition_for(original: RecordFile, derivatives: Iterable[RecordFile], preservation: frozenset[str]) \
        -> RecordFile | None:
    """The checked PDF/A copy of ``original`` when it is in a preservation format, else None."""
    from dangan.core.store.pdfa import pdfa_path
    want = pdfa_path(original.path)
    for d in derivatives:
        if d.path == want and d.puid in preservation:
            return d
    return None
