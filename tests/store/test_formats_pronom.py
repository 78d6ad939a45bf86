"""PRONOM identification with fido: a PUID per stored file, in the catalogue and `show`, `ls --puid`, the
`format:` filter, the `[formats]` policy, the DA/T 70 usability item and the inspection report's formats at risk.

Real files from the corpus; fido's real signature files (PRONOM v109 as opf-fido ships them).
"""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from conftest import CORPUS
from dangan.core.store.pronom import DEFAULT_PRESERVATION, OFD_PUID, identify


@pytest.mark.parametrize("path,puid,basis", [
    ("pdf-text/crazyones-pdfa.pdf", "fmt/354", "signature"),          # PDF/A-1b
    ("pdf-scanned/jbig2.pdf", "fmt/477", "signature"),                # PDF/A-2b
    ("pdf-text/crazyones.pdf", "fmt/19", "signature"),                # PDF 1.5
    ("images/phototest.tif", "fmt/353", "signature"),
    ("images/standardized_text.tiff", "fmt/11", "signature"),         # a PNG named .tiff: the bytes decide
    ("odd/detect_mp3_id3.x", "fmt/134", "signature"),                 # MP3 with no telling extension
    ("office/standardized_text.odt", "fmt/290", "signature"),
    ("video/sample.mkv", "fmt/569", "signature"),
    ("audio/flac1sMono.flac", "fmt/279", "signature"),
    ("ofd/v4signed.ofd", OFD_PUID, "container"),                      # OFD: dangan's local identifier
    ("text/raw_text.txt", "x-fmt/111", "extension"),                  # plain text has no signature
])
def test_identify_real_files(path, puid, basis):
    found = identify(CORPUS / path)
    assert (found.puid, found.basis) == (puid, basis)
    assert found.name


def test_identify_empty_and_unknown(tmp_path):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert identify(empty).puid is None and identify(empty).basis == "none"
    noise = tmp_path / "noise"
    noise.write_bytes(bytes(range(256)) * 3)
    assert identify(noise).puid is None and identify(noise).note == "no PRONOM signature matched"


def _ingest(cli, path, *args) -> str:
    out = cli("ingest", path, "--json", *args).output.splitlines()[0]
    return json.loads(out)["record_id"]


@pytest.fixture
def filed(cli, archive_root, tmp_path):
    """A PDF/A, a plain PDF 1.5 and an OFD, archived."""
    ids = {}
    for key, rel in (("pdfa", "pdf-text/crazyones-pdfa.pdf"), ("pdf", "pdf-text/crazyones.pdf"),
                     ("ofd", "ofd/keyword2.ofd")):
        src = tmp_path / f"{key}-{(CORPUS / rel).name}"
        shutil.copyfile(CORPUS / rel, src)
        ids[key] = _ingest(cli, src, "--allow-duplicate")
    return ids


def test_every_file_gets_a_puid_in_catalogue_store_and_show(cli, archive_root, filed):
    shown = json.loads(cli("show", filed["pdfa"], "--json").output)
    f = shown["files"][0]
    assert (f["puid"], f["format_basis"]) == ("fmt/354", "signature") and "PDF/A" in f["format_name"]
    text = cli("show", filed["pdfa"]).output
    assert "format fmt/354  Acrobat PDF/A" in text and "(PRONOM, by signature)" in text
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    rows = conn.execute("SELECT record_id, puid FROM files WHERE role != 'derivative'").fetchall()
    conn.close()
    assert dict(rows) == {filed["pdfa"]: "fmt/354", filed["pdf"]: "fmt/19", filed["ofd"]: OFD_PUID}
    # the store's metadata.json carries it too (the catalogue can be rebuilt from the store)
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.layout import read_metadata
    with Archive(archive_root, Actor("tester", "tester")) as a:
        assert read_metadata(a.store, filed["ofd"]).files[0].puid == OFD_PUID


def test_ls_puid_and_format_filter(cli, filed):
    def ids(*args) -> set[str]:
        return {json.loads(x)["id"] for x in cli("ls", *args, "--json").output.splitlines() if x.strip()}

    assert ids("--puid", "fmt/354") == {filed["pdfa"]}
    assert ids("format:fmt/19") == {filed["pdf"]}
    assert ids("format:PDF/A") == {filed["pdfa"]}                  # words of the format name
    assert ids("format:fmt/*") == {filed["pdfa"], filed["pdf"]}
    assert ids("-format:fmt/354") == {filed["pdf"], filed["ofd"]}
    hits = [json.loads(x) for x in cli("search", "crazy", "format:fmt/354", "--json").output.splitlines() if x]
    assert [h["record_id"] for h in hits] == [filed["pdfa"]]
    assert cli("search", "format:dangan/ofd", "--count").output.strip() == "1"
    assert cli("search", "crazy", "-format:fmt/354", "--count").output.strip() == "1"


def test_four_property_preservation_format_and_policy(cli, archive_root, filed):
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="x")

    def item(rid):
        r = cli("inspect", "four-property", rid, "--json", user="arch", ok=False)
        rows = [json.loads(x) for x in r.output.splitlines()]
        return next(x for x in rows if x["item"] == "preservation-format")

    good = item(filed["pdfa"])
    assert good["property"] == "usability" and good["result"] == "pass" and "fmt/354" in good["detail"]
    assert item(filed["ofd"])["result"] == "pass"
    bad = item(filed["pdf"])
    assert bad["result"] == "fail" and "fmt/19" in bad["detail"] and "not a preservation format" in bad["detail"]
    # the archive's policy decides: plain PDF 1.5 accepted
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[formats]\npreservation = ["fmt/19", "fmt/354"]\n',
                    encoding="utf-8")
    assert item(filed["pdf"])["result"] == "pass"
    assert item(filed["ofd"])["result"] == "fail"


def test_inspection_report_lists_formats_at_risk(cli, filed):
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="x")
    rep = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    fm = rep["formats"]
    assert [(a["record_id"], a["puid"]) for a in fm["at_risk"]] == [(filed["pdf"], "fmt/19")]
    by = {f["puid"]: f for f in fm["by_puid"]}
    assert by["fmt/354"]["preservation"] and not by["fmt/19"]["preservation"] and by[OFD_PUID]["files"] == 1
    text = cli("inspect", "report", user="arch").output
    assert "format at risk" in text and "fmt/19" in text


def test_identification_off(cli, archive_root, tmp_path):
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[formats]\nidentify = false\n", encoding="utf-8")
    rid = _ingest(cli, CORPUS / "pdf-text/crazyones-pdfa.pdf")
    f = json.loads(cli("show", rid, "--json").output)["files"][0]
    assert "puid" not in f and "format " not in cli("show", rid).output


def test_a_revision_identifies_its_new_file(cli, tmp_path):
    rid = _ingest(cli, CORPUS / "pdf-text/crazyones.pdf")
    cli("revise", rid, CORPUS / "pdf-text/crazyones-pdfa.pdf", "-m", "PDF/A copy")
    files = json.loads(cli("show", rid, "--json").output)["files"]
    assert [f["puid"] for f in files if f["role"] == "main"] == ["fmt/354"]


def test_formats_config_is_validated(cli, archive_root):
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[formats]\npreservation = "fmt/354"\n', encoding="utf-8")
    r = cli("ls", ok=False)
    assert r.exit_code == 2 and "[formats] preservation" in r.output


def test_default_policy_names_the_issue_formats():
    for puid in ("fmt/354", "fmt/477", OFD_PUID, "fmt/353", "fmt/43", "fmt/13", "fmt/141", "fmt/279", "fmt/134",
                 "fmt/199", "fmt/569"):
        assert puid in DEFAULT_PRESERVATION


def test_a_sealed_record_keeps_its_format_and_thumbnail_sealed(cli, archive_root, monkeypatch, tmp_path):
    """A sealed record's format is as secret as its MIME type: no PUID in the catalogue, no thumbnail."""
    import os
    from pathlib import Path
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"dgf{os.getpid()}"))
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    try:
        rid = _ingest(cli, CORPUS / "pdf-text/crazyones-pdfa.pdf", "--volume", "V")
        conn = sqlite3.connect(archive_root / "catalogue.sqlite")
        rows = conn.execute("SELECT puid, format_name, format_basis FROM files WHERE record_id = ?", (rid,)).fetchall()
        conn.close()
        assert rows and all(r == (None, None, None) for r in rows)
        from dangan.core.archive import Archive
        from dangan.core.kernel.actor import Actor
        with Archive(archive_root, Actor("tester", "tester")) as a:
            paths = [f.logical_path for f in a.store.files(rid)]
        assert not any(p.startswith(".dangan/thumbnails/") for p in paths)
        cli("user", "add", "tester", "--role", "archivist", "--clearance", "top-secret", user="x")
        rows = [json.loads(x) for x in cli("inspect", "four-property", rid, "--json", ok=False).output.splitlines()]
        assert next(r for r in rows if r["item"] == "preservation-format")["result"] == "n/a"
        assert rid not in {json.loads(x)["id"] for x in cli("ls", "format:fmt/354", "--json").output.splitlines()}
    finally:
        cli("volume", "lock")


def test_identify_backfills_records_archived_without_it(cli, archive_root):
    toml = archive_root / "dangan.toml"
    before = toml.read_text(encoding="utf-8")
    toml.write_text(before + "\n[formats]\nidentify = false\n", encoding="utf-8")
    old = _ingest(cli, CORPUS / "pdf-text/crazyones-pdfa.pdf")
    toml.write_text(before, encoding="utf-8")
    new = _ingest(cli, CORPUS / "images/phototest.tif")
    cli("user", "add", "tester", "--role", "archivist", "--clearance", "top-secret", user="x")
    done = [json.loads(x) for x in cli("identify", "--all", "--json").output.splitlines()]
    assert done == [{"record_id": old, "status": "identified", "version": 2, "files": {"crazyones-pdfa.pdf": "fmt/354"},
                     "derivatives": {".dangan/text/crazyones-pdfa.pdf.txt": "x-fmt/111",
                                     ".dangan/thumbnails/crazyones-pdfa.pdf.png": "fmt/11"}}]
    f = json.loads(cli("show", old, "--json").output)["files"][0]
    assert (f["puid"], f["format_basis"]) == ("fmt/354", "signature")
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.layout import read_metadata
    with Archive(archive_root, Actor("tester", "tester")) as a:
        assert read_metadata(a.store, old).files[0].puid == "fmt/354"      # in the store, not only the catalogue
        ev = a.conn.execute("SELECT details FROM audit WHERE action = 'record.identify'").fetchall()
    assert len(ev) == 1 and "fmt/354" in ev[0][0]
    assert cli("check", "--json", ok=False).exit_code == 0
    # nothing left to do; a named record already identified is skipped
    assert cli("identify", "--all", "--json").output.strip() == ""
    skipped = json.loads(cli("identify", new, "--json").output)
    assert skipped["status"] == "skipped" and skipped["reason"] == "already identified"
    r = cli("identify", "--all", user="nobody", ok=False)
    assert r.exit_code != 0
