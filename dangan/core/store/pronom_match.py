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

    def __init__(self, instance: Any = None, *, rows: dict | None = None) -> None:
        """From a loaded fido ``instance`` (matches are its XML elements), or from ``rows``, the table of
        ``pronom_table`` (matches are :class:`~dangan.core.store.pronom_table.FormatRow` s)."""
        self.fido = instance
        #: (element, puid, has_priority_over, [(signature name, [(position, regex text)])]) in fido's order;
        #: a format's regexes are compiled the first time a file could match it (``_signatures``).
        self.formats: list[tuple[Any, str, frozenset[str], list[tuple[str, list[tuple[str, Any]]]]]] = []
        self._compiled: list[bool] = []
        self.by_extension: dict[str, list[Any]] = {}
        self.bufsize: int = instance.bufsize if instance is not None else (rows or {}).get("bufsize", 131072)
        self.external_name: str = (instance.externalsig.findtext("name") if instance is not None
                                   else (rows or {}).get("external", "External"))
        prefixes: list[list[bytes]] = []
        for element, puid, prio, sigs, extensions, known in (self._of_fido(instance) if instance is not None
                                                             else self._of_rows(rows or {})):
            self.formats.append((element, puid, prio, sigs))
            prefixes.append(known if known is not None else
                            [literal_prefix(*pats[0]) if pats else b"" for _name, pats in sigs])
            self._compiled.append(False)
            for ext in extensions:
                self.by_extension.setdefault(ext, [])
                if element not in self.by_extension[ext]:
                    self.by_extension[ext].append(element)
        # Most signatures start with a BOF pattern that begins with literal bytes: a file whose first bytes
        # differ fails that pattern at once, as fido finds after running it.  ``_by_byte`` lists, by the
        # file's first byte, the formats that could match at all (in fido's order); the others are skipped.
        anyway: set[int] = set()
        by_byte: dict[int, set[int]] = {}
        self._prefix: list[list[bytes]] = []
        for i in range(len(self.formats)):
            self._prefix.append(prefixes[i])
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

    @classmethod
    def from_rows(cls, rows: dict) -> "CompiledSignatures":
        return cls(rows=rows)

    @staticmethod
    def _of_fido(instance: Any):
        priority = instance.puid_has_priority_over_map
        for element in instance.formats:
            puid = instance.get_puid(element)
            sigs = [(sig.findtext("name"), [(pat.find("position").text, pat.find("regex").text)
                                            for pat in sig.findall("pattern")])
                    for sig in element.findall("signature")]
            yield (element, puid, priority.get(puid, frozenset()), sigs, [e.text for e in element.findall("extension")],
                   None)

    @staticmethod
    def _of_rows(rows: dict):
        from dangan.core.store.pronom_table import row_of
        for fmt in rows["formats"]:
            sigs = [(name, [(pos, text) for pos, text in pats]) for name, pats in fmt[6]]
            yield row_of(fmt), fmt[0], frozenset(fmt[5]), sigs, fmt[7], [bytes.fromhex(h) for h in fmt[8]]

    def container_type(self, matches: list[tuple[Any, str]]) -> str | bool | None:
        """``Fido.container_type`` over table rows: the first match's container kind (zip, ole), else False."""
        for row, _ in matches:
            if row.container is not None:
                return row.container or None
        return False

    def _signatures(self, i: int) -> list[tuple[str, list[tuple[str, Any]]]]:
        """Format ``i``'s signatures with compiled patterns (None: a regex that does not compile)."""
        element, puid, prio, sigs = self.formats[i]
        if not self._compiled[i]:
            done = []
            for name, pats in sigs:
                out: list[tuple[str, Any]] = []
                for pos, text in pats:
                    try:
                        rx: Any = re.compile(text.encode("utf8"))
                    except Exception:  # noqa: BLE001 - fido skips the rest of such a format; so do we
                        rx = None
                    out.append((pos, rx))
                done.append((name, out))
            self.formats[i] = (element, puid, prio, done)
            self._compiled[i] = True
        return self.formats[i][3]

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
            element, puid, _prio, _sigs = self.formats[i]
            if result and not self._as_good_as_any(element, puid, result):
                continue
            sigs = self._signatures(i)
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
        name = self.external_name
        found = sorted(self.by_extension.get(ext, ()), key=lambda e: self._order[id(e)])
        result = [(e, name) for e in found]
        return [m for m in result if self._as_good_as_any(m[0], self._puid[id(m[0])], result)]


#: What may follow a backslash and stand for itself, and the escapes of control characters.
_ESCAPED = set(b"\\.^$*+?{}[]()|/-_ :;,'\"#%&=<>!@~`")
_CONTROL = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("f"): 12, ord("v"): 11}


def literal_prefix(pos: str, regex: str | None) -> bytes:
    """The bytes a BOF pattern's regex must start with (empty when it is not BOF or starts otherwise).

    Read from the regex text, conservatively: after ``(?s)`` and ``\\A``, plain characters, ``\\xHH`` and
    escaped punctuation, up to the first other construct; a literal a quantifier applies to is left
    out.  (``tests/store/test_pronom_match.py`` checks each prefix against ``re``'s own parse.)"""
    if pos != "BOF" or not regex:
        return b""
    text = regex.encode("utf8")
    k = 0
    if text.startswith(b"(?s)"):
        k = 4
    elif text.startswith(b"(?"):
        return b""                          # other flags (case-insensitive…): no literal prefix
    if text.startswith(b"\\A", k):
        k += 2
    out = bytearray()
    while k < len(text):
        ch = text[k]
        if ch == 0x5C:                      # backslash
            nxt = text[k + 1:k + 2]
            if nxt == b"x" and len(text) >= k + 4:
                try:
                    byte, step = int(text[k + 2:k + 4], 16), 4
                except ValueError:
                    break
            elif nxt and nxt[0] in _ESCAPED:
                byte, step = nxt[0], 2
            elif nxt and nxt[0] in _CONTROL:
                byte, step = _CONTROL[nxt[0]], 2
            else:
                break
        elif ch in b".^$*+?{}[]()|":
            break
        else:
            byte, step = ch, 1
        if text[k + step:k + step + 1] in (b"*", b"+", b"?", b"{"):
            break                           # quantified: not a fixed byte
        out.append(byte)
        k += step
    return bytes(out)
