"""Issue 18.4, every stored file has a PUID: the PDF/A copy, text and thumbnail dangan makes are identified
with fido when they are made, kept in metadata.json and the catalogue, shown by `show`; a main file not in a
preservation format whose checked PDF/A copy is passes DA/T 70's format test and is not at risk.

linn.pdf (a real scan, PDF 1.x, fmt/276 — not a preservation format) both ways: with its PDF/A copy, and
with ``[pdfa] enabled = "off"`` (no copy: it fails and is at risk).
"""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from conftest import CORPUS

FIELDS = ("--category", "WS", "--dept", "BGS", "--retention", "permanent")
LINN = CORPUS / "pdf-scanned" / "linn.pdf"
COPY = ".dangan/pdfa/linn.pdfa.pdf"
PDFA_PUIDS = {"fmt/476", "fmt/477", "fmt/478"}            # PDF/A-2a, 2b, 2u: what fido may call OCRmyPDF's copy


def _ingest(cli, path) -> str:
    return json.loads(cli("ingest", str(path), *FIELDS, "--json").output.splitlines()[0])["record_id"]


def _preservation_item(cli, rid) -> dict:
    rows = [json.loads(x) for x in cli("inspect", "four-property", rid, "--json", user="arch", ok=False)
            .output.splitlines()]
    return next(r for r in rows if r["item"] == "preservation-format")


def _report_formats(cli) -> dict:
    return json.loads(cli("inspect", "report", "--format", "json", user="arch").output)["formats"]


def _archivist(cli):
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="x")


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (OCRmyPDF's PDF/A) is not installed")
def test_linn_with_its_checked_pdfa_copy_passes_and_is_not_at_risk(cli, archive_root):
    rid = _ingest(cli, LINN)
    shown = json.loads(cli("show", rid, "--json").output)
    assert shown["files"][0]["puid"] == "fmt/276"                     # the original is still PDF 1.x
    derivatives = {d["path"]: d for d in shown["derivatives"]}
    copy = derivatives[COPY]
    assert copy["role"] == "derivative" and copy["puid"] in PDFA_PUIDS and copy["format_basis"] == "signature"
    assert derivatives[".dangan/text/linn.pdf.txt"]["puid"] == "x-fmt/111"
    assert all(d["puid"] for d in derivatives.values())              # every stored file has a PUID
    text = cli("show", rid).output
    assert f"derivative {COPY}" in text and f"format {copy['puid']}" in text
    # in the catalogue (role derivative) and in the store's metadata.json, so a rebuilt catalogue has it
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    rows = dict(conn.execute("SELECT path, puid FROM files WHERE record_id = ? AND role = 'derivative'", (rid,)))
    conn.close()
    assert rows[COPY] == copy["puid"]
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.layout import read_metadata
    with Archive(archive_root, Actor("tester", "tester")) as a:
        stored = {d.path: d for d in read_metadata(a.store, rid).derivatives}
        assert stored[COPY].puid == copy["puid"] and stored[COPY].sha512 == copy["sha512"]
    _archivist(cli)
    item = _preservation_item(cli, rid)
    assert item["result"] == "pass" and "linn.pdf: fmt/276 kept as PDF/A copy" in item["detail"], item
    formats = _report_formats(cli)
    assert rid not in {r["record_id"] for r in formats["at_risk"]}
    assert [(k["record_id"], k["copy"], k["reason"]) for k in formats["kept_as_copy"]] == \
        [(rid, COPY, "kept as PDF/A copy")]
    report = cli("inspect", "report", user="arch").output
    assert "kept as PDF/A copy" in report and "format at risk" not in report
    # a policy that does not keep PDF/A-2 makes the copy no rescue: the record fails again
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[formats]\npreservation = ["fmt/354"]\n', encoding="utf-8")
    assert _preservation_item(cli, rid)["result"] == "fail"
    assert rid in {r["record_id"] for r in _report_formats(cli)["at_risk"]}
    r = cli("check", "--json", ok=False, user="arch")
    assert r.exit_code == 0, r.output


def test_linn_without_a_pdfa_copy_fails_and_is_at_risk(cli, archive_root):
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[pdfa]\nenabled = "off"\n', encoding="utf-8")
    rid = _ingest(cli, LINN)
    shown = json.loads(cli("show", rid, "--json").output)
    assert COPY not in {d["path"] for d in shown.get("derivatives", [])}
    _archivist(cli)
    item = _preservation_item(cli, rid)
    assert item["result"] == "fail" and "fmt/276" in item["detail"] and "not a preservation format" in item["detail"]
    formats = _report_formats(cli)
    assert [(r["record_id"], r["puid"]) for r in formats["at_risk"]] == [(rid, "fmt/276")]
    assert formats["kept_as_copy"] == []


def test_a_revision_keeps_the_entries_of_derivatives_it_carries(cli, tmp_path):
    src = CORPUS / "pdf-text" / "crazyones.pdf"
    rid = _ingest(cli, src)
    before = {d["path"]: d for d in json.loads(cli("show", rid, "--json").output)["derivatives"]}
    assert before and all(d["puid"] for d in before.values())
    cli("revise", rid, "--title", "a new title", "-m", "fields only")
    after = {d["path"]: d for d in json.loads(cli("show", rid, "--json").output)["derivatives"]}
    assert after == before
    # the store is the truth: a catalogue rebuilt from it has the derivatives' formats again
    cli("rebuild-catalogue", "--yes")
    rebuilt = {d["path"]: d for d in json.loads(cli("show", rid, "--json").output)["derivatives"]}
    assert rebuilt == before
    assert cli("check", "--json", ok=False).exit_code == 0


def test_identify_backfills_derivatives_of_a_record_archived_before_they_were_described(cli, archive_root,
                                                                                          monkeypatch):
    """A record from before derivatives were described: metadata.json and the catalogue list none."""
    import dangan.core.store.ingest as ingest_mod
    monkeypatch.setattr(ingest_mod, "describe", lambda *a, **k: [])
    old = _ingest(cli, CORPUS / "pdf-text" / "crazyones.pdf")
    monkeypatch.undo()
    assert "derivatives" not in json.loads(cli("show", old, "--json").output)
    current = _ingest(cli, CORPUS / "images" / "phototest.tif")
    _archivist(cli)
    done = [json.loads(x) for x in cli("identify", "--all", "--json", user="arch").output.splitlines()]
    assert [d["record_id"] for d in done] == [old]
    assert done[0]["files"] == {"crazyones.pdf": "fmt/19"}          # the original was identified already
    assert done[0]["derivatives"][".dangan/text/crazyones.pdf.txt"] == "x-fmt/111"
    shown = json.loads(cli("show", old, "--json", user="arch").output)
    assert shown["version"] == 2 and all(d["puid"] for d in shown["derivatives"])
    assert cli("identify", "--all", "--json", user="arch").output.strip() == ""
    assert json.loads(cli("identify", current, "--json", user="arch").output)["status"] == "skipped"
    assert cli("check", "--json", ok=False, user="arch").exit_code == 0
