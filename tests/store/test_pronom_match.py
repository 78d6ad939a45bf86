"""The compiled signature matcher (``pronom_match``) gives fido's own answers, on every file of the corpus.

Real files (tests/data, every one of them, and a few made here: empty, a name with no extension, an
unknown extension), fido's real PRONOM signatures; the reference is fido's ``match_formats`` and
``match_extensions`` on the same buffers.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dangan.core.store.pronom import identifier

DATA = Path(__file__).resolve().parents[1] / "data"


def _answers(matches) -> list[tuple[str, str]]:
    fido = identifier()
    return [(fido.get_puid(f), name) for f, name in matches]


def _buffers(path: Path) -> tuple[bytes, bytes]:
    fido = identifier()
    with open(path, "rb") as fh:
        size = path.stat().st_size
        fido.current_file, fido.current_filesize = str(path), size
        bof, eof, _ = fido.get_buffers(fh, size, seekable=True)
    return bof, eof


def test_every_corpus_file_matches_as_fido_matches(tmp_path):
    fido = identifier()
    files = sorted(p for p in DATA.rglob("*") if p.is_file() and p.stat().st_size > 0)
    assert len(files) > 300
    found_some = 0
    for path in files:
        bof, eof = _buffers(path)
        ours = _answers(fido.dangan_compiled.match_formats(bof, eof))
        assert ours == _answers(fido.match_formats(bof, eof)), path
        found_some += bool(ours)
        assert _answers(fido.dangan_compiled.match_extensions(path.name)) == \
            _answers(fido.match_extensions(path.name)), path
    assert found_some > 100           # signatures matched, not only empty answers compared


@pytest.mark.parametrize("name", ["README", "x.TXT", "a.tar.gz", "noext.", "weird.zzzz", "doc.docx", "scan.TIF"])
def test_extension_fallback_as_fido(name):
    fido = identifier()
    assert _answers(fido.dangan_compiled.match_extensions(name)) == _answers(fido.match_extensions(name))


def test_a_format_whose_regex_does_not_compile_is_skipped_as_fido_skips_it():
    from dangan.core.store.pronom_match import CompiledSignatures
    fido = identifier()
    compiled = CompiledSignatures(fido)
    element, puid, prio, sigs = next(f for f in compiled.formats if f[1] == "fmt/19")     # PDF 1.5
    pdf = (DATA / "corpus" / "pdf-text" / "crazyones.pdf").read_bytes()
    assert _answers(compiled.match_formats(pdf[:131072], pdf[-131072:]))[0][0] == puid
    i = next(k for k, f in enumerate(compiled.formats) if f[1] == puid)
    element, puid, prio, sigs = compiled.formats[i]
    compiled.formats[i] = (element, puid, prio, [(n, [(pos, None) for pos, _ in pats]) for n, pats in sigs])
    compiled._compiled[i] = True            # as if compiling had failed
    assert puid not in [p for p, _ in _answers(compiled.match_formats(pdf[:131072], pdf[-131072:]))]


def _prefix_by_re(regex: str) -> bytes:
    """The literal bytes ``re``'s own parse puts at the start of ``regex`` (the reference)."""
    import re
    from re import _constants as c, _parser
    rx = re.compile(regex.encode("utf8"))
    if rx.flags & re.IGNORECASE:
        return b""
    out = bytearray()
    for op, arg in _parser.parse(rx.pattern, rx.flags):
        if op is c.AT and arg is c.AT_BEGINNING_STRING and not out:
            continue
        if op is not c.LITERAL:
            break
        out.append(arg)
    return bytes(out)


def test_every_literal_prefix_is_one_re_agrees_with():
    from dangan.core.store.pronom_match import CompiledSignatures, literal_prefix
    compiled = CompiledSignatures(identifier())
    checked = found = 0
    for _e, _puid, _p, sigs in compiled.formats:
        for _name, pats in sigs:
            for pos, text in pats[:1]:
                if pos != "BOF":
                    continue
                try:
                    reference = _prefix_by_re(text)
                except Exception:  # noqa: BLE001 - a regex re cannot compile: fido skips its format anyway
                    continue
                ours = literal_prefix(pos, text)
                assert reference.startswith(ours), text       # never claims a byte the regex does not require
                checked += 1
                found += bool(ours)
    assert checked > 1500 and found > 0.8 * checked
