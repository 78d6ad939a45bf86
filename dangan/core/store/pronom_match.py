"""fido's signature matching over signatures compiled once: the same answers, a fraction of the CPU.

fido's ``Fido.match_formats`` walks its ElementTree of about 2,000 PRONOM formats for every file: for each
format it looks up the signatures, for each signature the patterns, for each pattern its position and its
regex text, and hands the text to ``re.match`` (whose cache is smaller than the signature set, so most
regexes are compiled again).  Profiling ``dangan ingest`` of 1,000 small text files (issue 15) put 18 of
its 46 profiled seconds there.  :class:`CompiledSignatures` reads the same elements once per process into
tuples of compiled patterns and runs fido's own algorithm over them: the formats in fido's order, a format
tried only while it is as good as any match so far (``has_priority_over``), then the inferior matches
removed; ``match_extensions`` from a map of extension to formats.  A regex that does not compile stops
its format where fido's ``try`` would.  ``tests/store/test_pronom_match.py`` checks the answers are fido's.
"""
from __future__ import annotations

import os
import re
from typing import Any

_POSITIONS = ("BOF", "EOF", "VAR", "IFB")


class CompiledSignatures:
    """fido ``instance``'s formats, their signatures and patterns, compiled; answers as fido's methods do."""

    def __init__(self, instance: Any) -> None:
        self.fido = instance
        self.formats: list[tuple[Any, str, frozenset[str], list[tuple[str, list[tuple[str, Any]]]]]] = []
        self.by_extension: dict[str, list[Any]] = {}
        priority = instance.puid_has_priority_over_map
        for element in instance.formats:
            puid = instance.get_puid(element)
            sigs = []
            for sig in element.findall("signature"):
                pats: list[tuple[str, Any]] = []
                for pat in sig.findall("pattern"):
                    try:
                        rx: Any = re.compile(pat.find("regex").text.encode("utf8"))
                    except Exception:  # noqa: BLE001 - fido skips the rest of such a format; so do we
                        rx = None
                    pats.append((pat.find("position").text, rx))
                sigs.append((sig.findtext("name"), pats))
            self.formats.append((element, puid, priority.get(puid, frozenset()), sigs))
            for ext in element.findall("extension"):
                self.by_extension.setdefault(ext.text, [])
                if element not in self.by_extension[ext.text]:
                    self.by_extension[ext.text].append(element)
        # Most signatures start with a BOF pattern that begins with literal bytes: a file whose first bytes
        # differ fails that pattern at once, as fido finds after running it.  ``_candidates`` lists, by the
        # file's first byte, the formats that could match at all (in fido's order); the others are skipped.
        anyway: set[int] = set()
        by_byte: dict[int, set[int]] = {}
        self._prefix: list[list[bytes]] = []
        for i, (_e, _puid, _p, sigs) in enumerate(self.formats):
            self._prefix.append([_literal_prefix(pats[0]) if pats else b"" for _name, pats in sigs])
            for prefix in self._prefix[-1]:
                if prefix:
                    by_byte.setdefault(prefix[0], set()).add(i)
                else:
                    anyway.add(i)
        self._anyway = sorted(anyway)
        self._by_byte = {b: sorted(anyway | found) for b, found in by_byte.items()}
        self._priority = {id(e): p for e, _puid, p, _s in self.formats}
        self._puid = {id(e): puid for e, puid, _p, _s in self.formats}
        self._order = {id(e): i for i, (e, _puid, _p, _s) in enumerate(self.formats)}

    def _as_good_as_any(self, element: Any, puid: str, result: list) -> bool:
        for other, _ in result:
            if other is not element and puid in self._priority[id(other)]:
                return False
        return True

    def match_formats(self, bof: bytes, eof: bytes) -> list[tuple[Any, str]]:
        """``Fido.match_formats(bof, eof)``: (format element, signature name) of every best match."""
        result: list[tuple[Any, str]] = []
        order = self._by_byte.get(bof[0], self._anyway) if bof else range(len(self.formats))
        for i in order:
            element, puid, _prio, sigs = self.formats[i]
            if result and not self._as_good_as_any(element, puid, result):
                continue
            broken = False
            prefixes = self._prefix[i]
            for k, (name, pats) in enumerate(sigs):
                if prefixes[k] and not bof.startswith(prefixes[k]):
                    continue                        # its first pattern fails: fido breaks there too
                success = True
                for pos, rx in pats:
                    if rx is None:
                        broken = True
                        break
                    if pos == "BOF":
                        ok = rx.match(bof)
                    elif pos == "EOF":
                        ok = rx.search(eof)
                    elif pos in ("VAR", "IFB"):
                        ok = rx.search(bof)
                    else:
                        continue
                    if not ok:
                        success = False
                        break
                if broken:
                    break
                if success:
                    result.append((element, name))
        return [m for m in result if self._as_good_as_any(m[0], self._puid[id(m[0])], result)]

    def match_extensions(self, filename: str) -> list[tuple[Any, str]]:
        """``Fido.match_extensions(filename)``: the formats whose extension the name has, in fido's order."""
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        if not ext:
            return []
        name = self.fido.externalsig.findtext("name")
        found = sorted(self.by_extension.get(ext, ()), key=lambda e: self._order[id(e)])
        result = [(e, name) for e in found]
        return [m for m in result if self._as_good_as_any(m[0], self._puid[id(m[0])], result)]


def _literal_prefix(pattern: tuple[str, Any]) -> bytes:
    """The bytes a BOF pattern's regex must start with (empty when it is not BOF or starts otherwise)."""
    pos, rx = pattern
    if pos != "BOF" or rx is None or rx.flags & re.IGNORECASE:
        return b""
    from re import _constants as c, _parser  # type: ignore[attr-defined]
    out = bytearray()
    try:
        items = list(_parser.parse(rx.pattern, rx.flags))
    except Exception:  # noqa: BLE001 - no prefix: the pattern is simply run
        return b""
    for op, arg in items:
        if op is c.AT and arg is c.AT_BEGINNING_STRING and not out:
            continue
        if op is c.LITERAL:
            out.append(arg)
            continue
        break
    return bytes(out)
