"""Ingest, duplicates, metadata, attachments, revisions and byte-identical retrieval."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import CORPUS


def ids_of(result) -> list[str]:
    return [json.loads(line)["record_id"] for line in result.output.splitlines() if line.startswith("{")]


def sha512(p: Path) -> str:
    return hashlib.sha512(p.read_bytes()).hexdigest()


def test_ingest_then_get_is_byte_identical(cli, tmp_path):
    src = CORPUS / "pdf-cjk" / os.listdir(CORPUS / "pdf-cjk")[0]
    rid = ids_of(cli("ingest", src, "--json"))[0]
    out = tmp_path / "out"
    cli("get", rid, "-o", out)
    assert sha512(out / src.name) == sha512(src)
    shown = json.loads(cli("show", rid, "--json").output)
    assert shown["files"][0]["sha512"] == sha512(src)
    assert shown["files"][0]["mime"] == "application/pdf"


def test_catalogue_fields_from_flags_and_chinese_vocabulary(cli, samples):
    r = cli("ingest", samples / "会议纪要.txt", "--title", "第一次办公会议纪要", "--dept", "BGS", "--category", "WS",
            "--date", "2021-03-05", "--retention", "永久", "--secrecy", "内部", "--volume", "V1", "--create-volume", "--tag", "会议",
            "--tag", "2021", "--meta", "author=张三", "--json")
    rid = ids_of(r)[0]
    rec = json.loads(cli("show", rid, "--json").output)
    assert rec["title"] == "第一次办公会议纪要"
    assert (rec["department"], rec["category"], rec["year"], rec["date"]) == ("BGS", "WS", 2021, "2021-03-05")
    assert (rec["retention"], rec["secrecy"], rec["volume"]) == ("permanent", "internal", "V1")
    assert rec["tags"] == ["2021", "会议"] and rec["metadata"]["author"] == "张三"


@pytest.mark.parametrize("flag,value,fragment", [
    ("--secrecy", "very-secret", "unknown secrecy level"),
    ("--retention", "forever", "unknown retention"),
    ("--date", "yesterday", "invalid date"),
    ("--meta", "novalue", "key=value"),
])
def test_bad_field_values_are_refused_clearly(cli, samples, flag, value, fragment):
    r = cli("ingest", samples / "contract.txt", flag, value, ok=False)
    assert r.exit_code in (1, 2)
    assert fragment in r.output and "Traceback" not in r.output
    assert cli("ls", "--json").output == ""


def test_duplicate_is_refused_naming_the_record_unless_allowed(cli, samples):
    first = ids_of(cli("ingest", samples / "contract.txt", "--json"))[0]
    r = cli("ingest", samples / "contract.txt", ok=False)
    assert r.exit_code == 5 and first in r.output
    copy = samples / "copy-of-contract.txt"
    copy.write_bytes((samples / "contract.txt").read_bytes())
    assert cli("ingest", copy, ok=False).exit_code == 5
    second = ids_of(cli("ingest", copy, "--allow-duplicate", "--json"))[0]
    assert second != first
    assert len(cli("ls", "--json").output.splitlines()) == 2


def test_folder_batch_reports_each_file_and_one_bad_file_never_stops_it(cli, samples, tmp_path):
    (samples / "sub").mkdir()
    (samples / "sub" / "empty.txt").write_bytes(b"")
    (samples / "sub" / "z.txt").write_text("last one", encoding="utf-8")
    os.mkfifo(samples / "sub" / "pipe")
    r = cli("ingest", samples, tmp_path / "missing.txt", "--json", ok=False)
    assert r.exit_code == 13                         # every refusal is a file refusal (README exit codes)
    outcomes = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    by_name = {Path(o["source"]).name: o for o in outcomes}
    assert by_name["empty.txt"]["status"] == "refused" and "empty file" in by_name["empty.txt"]["message"]
    assert by_name["pipe"]["status"] == "refused" and "not a regular file" in by_name["pipe"]["message"]
    assert by_name["missing.txt"]["status"] == "refused" and "no such file" in by_name["missing.txt"]["message"]
    archived = [o for o in outcomes if o["status"] == "archived"]
    assert {Path(o["source"]).name for o in archived} == {"会议纪要.txt", "contract.txt", "notes.md", "z.txt"}


def test_attachments_stay_with_their_main_file(cli, samples, tmp_path):
    rid = ids_of(cli("ingest", samples / "contract.txt", "--attach", samples / "notes.md", "--json"))[0]
    rec = json.loads(cli("show", rid, "--json").output)
    assert [(f["path"], f["role"]) for f in rec["files"]] == [("contract.txt", "main"), ("notes.md", "attachment")]
    cli("get", rid, "-o", tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["contract.txt", "notes.md"]


def test_mime_comes_from_content_and_a_mismatch_is_flagged(cli, tmp_path):
    pdf = next((CORPUS / "pdf-text").glob("*.pdf"))
    disguised = tmp_path / "report.txt"
    disguised.write_bytes(pdf.read_bytes())
    rid = ids_of(cli("ingest", disguised, "--json"))[0]
    f = json.loads(cli("show", rid, "--json").output)["files"][0]
    assert f["mime"] == "application/pdf" and f["mime_by_extension"] == "text/plain" and f["mime_mismatch"]


def test_revise_adds_a_version_and_older_versions_stay_retrievable(cli, samples, tmp_path):
    rid = ids_of(cli("ingest", samples / "contract.txt", "--title", "合同", "--json"))[0]
    new = tmp_path / "contract-v2.txt"
    new.write_text("Contract, amended 2021-04-01.", encoding="utf-8")
    cli("revise", rid, new, "-m", "amendment", "--tag", "amended")
    vers = [json.loads(line) for line in cli("versions", rid, "--json").output.splitlines()]
    assert [(v["version"], v["message"]) for v in vers] == [(1, "ingest contract.txt"), (2, "amendment")]
    cli("get", rid, "--version", "1", "-o", tmp_path / "v1")
    cli("get", rid, "-o", tmp_path / "v2")
    assert (tmp_path / "v1" / "contract.txt").read_bytes() == (samples / "contract.txt").read_bytes()
    assert (tmp_path / "v2" / "contract-v2.txt").read_bytes() == new.read_bytes()
    rec = json.loads(cli("show", rid, "--json").output)
    assert rec["title"] == "合同" and rec["tags"] == ["amended"] and rec["version"] == 2
    r = cli("get", rid, "--version", "7", "-o", tmp_path / "v7", ok=False)
    assert r.exit_code == 4 and "versions 1 to 2" in r.output


def test_unknown_record_is_one_clear_line(cli):
    r = cli("show", "dnosuchrecord", ok=False)
    assert r.exit_code == 4 and r.output.strip() == "dangan: error: no record 'dnosuchrecord' in this archive"


@pytest.mark.parametrize("name", ["合同 2021（定稿）.txt", "line\nbreak.txt", "..", "metadata.json", " spaced  .txt"])
def test_file_names_are_stored_faithfully_and_never_escape(cli, tmp_path, archive_root, name):
    d = tmp_path / "names"
    d.mkdir()
    fname = name if name != ".." else "dotdot"
    src = d / fname
    src.write_text(f"content of {name!r}", encoding="utf-8")
    rid = ids_of(cli("ingest", src, "--json"))[0]
    out = tmp_path / "out"
    cli("get", rid, "-o", out)
    assert [p.name for p in out.iterdir()] == [fname]
    assert (out / fname).read_bytes() == src.read_bytes()
    store = (archive_root / "store").resolve()
    for p in store.rglob("*"):
        assert p.resolve().is_relative_to(store)


def test_logical_paths_cannot_escape_the_object(archive):
    from dangan.errors import UsageError
    for bad in ("../evil", "/etc/passwd", "a/../../b", "a//b", "./x", ""):
        with archive.store.stage("dtestescape") as draft, pytest.raises(UsageError):
            draft.add_bytes(bad, b"x")
    assert not archive.store.exists("dtestescape")
