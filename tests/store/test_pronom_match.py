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
    i = compiled.formats.index((element, puid, prio, sigs))
    compiled.formats[i] = (element, puid, prio, [(n, [(pos, None) for pos, _ in pats]) for n, pats in sigs])
    assert puid not in [p for p, _ in _answers(compiled.match_formats(pdf[:131072], pdf[-131072:]))]
