"""fido's signatures as a table kept in a cache file: identification without parsing fido's XML each run.

Loading fido (:func:`~dangan.core.store.pronom.identifier`) parses its PRONOM signature files, about
2,300 formats of XML, in every process: profiling a one-file ``dangan ingest`` into an existing archive
(issue 15, third pass) put a third of its CPU there.  :func:`signature_table` reads what matching needs
(each format's PUID, name, version, MIME type, container kind, priorities, signatures with their regex
text, extensions) from a JSON file written the first time, and gives a
:class:`~dangan.core.store.pronom_match.CompiledSignatures` over it whose matches are
:class:`FormatRow` s.  The file is data only (JSON, never code), named after what it was made from
(fido's version, the PRONOM version, the signature files' sizes and times, :data:`TABLE_FORMAT`), so an
upgraded fido writes a new one; a missing, unreadable or foreign file is rebuilt from fido, and a cache
that cannot be written is no error (the table is then built in memory, as before).

Container files (ZIP, OLE2) still go to fido itself, which reads their parts.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Bumped when the table's layout changes.
TABLE_FORMAT = 1
#: fido's default buffer: this many bytes of a file's head and tail are matched.
BUFSIZE = 128 * 1024


@dataclass(frozen=True, eq=False)
class FormatRow:
    """One PRONOM format, as the matcher returns it from the table (fido returns its XML element)."""

    puid: str
    name: str
    version: str | None
    mime: str | None
    container: str | None            # fido's <container> (zip…), "ole" for fmt/111, else None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dangan"


def table_key() -> str:
    """What the table was made from, without importing fido: its module and every file of its ``conf``
    folder (signatures, versions.xml), by name, size and modification time."""
    from importlib.util import find_spec
    spec = find_spec("fido")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("fido is not installed")
    package = Path(list(spec.submodule_search_locations)[0])
    parts = [str(TABLE_FORMAT), str(package)]
    for f in [package / "fido.py", *sorted((package / "conf").iterdir())]:
        st = f.stat()
        parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def rows_from_fido(instance: Any) -> dict:
    """The table (JSON-ready) of a loaded fido: what :class:`CompiledSignatures` needs, in fido's order."""
    formats = []
    priority = instance.puid_has_priority_over_map
    for element in instance.formats:
        puid = instance.get_puid(element)
        container = element.findtext("container")
        if container is None and puid == "fmt/111":
            container = "ole"
        sigs = [[sig.findtext("name"), [[pat.find("position").text, pat.find("regex").text]
                                         for pat in sig.findall("pattern")]]
                for sig in element.findall("signature")]
        formats.append([puid, element.findtext("name") or "", _text(element, "version"), _text(element, "mime"),
                        container, sorted(priority.get(puid, ())), sigs,
                        [ext.text for ext in element.findall("extension")]])
    from dangan.core.store.pronom_match import literal_prefix
    for fmt in formats:          # each signature's literal first bytes (hex), so loading need not work them out
        fmt.append([literal_prefix(*pats[0]).hex() if pats else "" for _name, pats in fmt[6]])
    return {"external": instance.externalsig.findtext("name"), "bufsize": instance.bufsize, "formats": formats}


def _text(element: Any, tag: str) -> str | None:
    """As fido's ``_describe`` reads it: the child's text, None when there is no child (or it is empty)."""
    child = element.find(tag)
    return child.text if child is not None else None


def _write(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pronom-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass              # a read-only home: the table is built in memory each run, as before


def _read(path: Path, key: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("formats"), list):
        return None
    return data


@lru_cache(maxsize=1)
def signature_table():
    """The process's matcher over the cached table (built from fido and saved the first time)."""
    from dangan.core.store.pronom_match import CompiledSignatures
    key = table_key()
    path = cache_dir() / f"pronom-{key}.json"
    data = _read(path, key)
    if data is None:
        from dangan.core.store.pronom import identifier
        data = {"key": key, **rows_from_fido(identifier())}
        _write(path, data)
    return CompiledSignatures.from_rows(data)


def row_of(fmt: list) -> FormatRow:
    puid, name, version, mime, container = fmt[:5]
    return FormatRow(puid, name, version, mime, container)
