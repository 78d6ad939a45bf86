"""Hostile files handed to ``dangan ingest``: symlinks leaving the folder, undecodable and overlong names,
names that would spoof the output, oversized and sparse files.  Real files, the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from watch_helpers import digests, query, sha512, write


def outcomes(result) -> list[dict]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def ids_of(result) -> list[str]:
    return [o["record_id"] for o in outcomes(result) if o["status"] == "archived"]


# -- 11.2 symlinks in ingest DIR ----------------------------------------------------------------------------
def test_ingest_dir_refuses_a_symlink_leaving_the_folder_unless_asked(cli, archive_root, tmp_path):
    secret = write(tmp_path / "private" / "secret.txt", "outside the folder SECRETMARK")
    folder = tmp_path / "batch"
    write(folder / "a.txt", "an ordinary file")
    write(folder / "sub" / "b.txt", "a file linked from inside the folder")
    os.symlink(secret, folder / "leak.txt")
    os.symlink(folder / "sub" / "b.txt", folder / "inner-link.txt")

    r = cli("ingest", folder, "--json", "--allow-duplicate", ok=False)

    assert r.exit_code == 1
    by_name = {Path(o["source"]).name: o for o in outcomes(r)}
    assert by_name["leak.txt"]["status"] == "refused"
    assert "outside" in by_name["leak.txt"]["message"] and "--follow-symlinks" in by_name["leak.txt"]["message"]
    assert by_name["inner-link.txt"]["status"] == "archived"          # a link that stays inside is fine
    assert sha512(secret) not in digests(archive_root)

    r = cli("ingest", folder / "leak.txt", "--json")                   # named on the command line: followed
    assert sha512(secret) in digests(archive_root)


def test_follow_symlinks_archives_links_leaving_the_folder(cli, archive_root, tmp_path):
    secret = write(tmp_path / "private" / "wanted.txt", "outside, but wanted")
    folder = tmp_path / "batch"
    folder.mkdir()
    os.symlink(secret, folder / "wanted.txt")
    cli("ingest", folder, "--follow-symlinks")
    assert digests(archive_root) == [sha512(secret)]


def test_a_symlink_is_never_followed_when_the_ingest_api_is_not_told_to(archive, tmp_path):
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.errors import FileRefused
    target = write(tmp_path / "target.txt", "target")
    os.symlink(target, tmp_path / "link.txt")
    try:
        Ingestor(archive).ingest(tmp_path / "link.txt", RecordFields())
    except FileRefused as exc:
        assert "symbolic link" in exc.message
    else:
        raise AssertionError("a symlink was followed")


# -- 11.10 invalid UTF-8 names in a batch -------------------------------------------------------------------
def test_a_batch_with_an_undecodable_name_archives_every_file_and_reports_it_escaped(archive_root, tmp_path):
    folder = tmp_path / "batch"
    write(folder / "a.txt", "first")
    with open(os.path.join(os.fsencode(folder), b"b-\xff\xfe.txt"), "wb") as fh:
        fh.write(b"second, with a name that is not UTF-8")
    write(folder / "c.txt", "third")
    cmd = [sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester"]

    r = subprocess.run(cmd + ["ingest", str(folder)], capture_output=True, timeout=300)

    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode("utf-8")                   # strict: the output is valid UTF-8
    assert "b-\\xff\\xfe.txt" in out and out.count("archived") == 3
    assert len(digests(archive_root)) == 3
    [(rid, title)] = query(archive_root, "SELECT id, title FROM records WHERE title LIKE 'b-%'")
    assert title == "b-\\xff\\xfe"
    show = subprocess.run(cmd + ["show", rid], capture_output=True, timeout=300)
    assert "b-\\xff\\xfe.txt" in show.stdout.decode("utf-8")
    got = subprocess.run(cmd + ["get", rid, "-o", str(tmp_path / "out")], capture_output=True, timeout=300)
    assert got.returncode == 0 and os.listdir(os.fsencode(tmp_path / "out")) == [b"b-\xff\xfe.txt"]   # its bytes back
    assert "b-\\xff\\xfe.txt" in got.stdout.decode("utf-8")
    assert subprocess.run(cmd + ["check"], capture_output=True, timeout=300).returncode == 0


def test_an_unexpected_error_on_one_file_does_not_stop_the_batch(archive, tmp_path, monkeypatch):
    from dangan.core.store import ingest as ingest_mod
    from dangan.core.store.batch import ingest_batch
    from dangan.core.catalogue.fields import RecordFields
    write(tmp_path / "batch" / "a.txt", "first")
    write(tmp_path / "batch" / "boom.txt", "second")
    write(tmp_path / "batch" / "c.txt", "third")
    real = ingest_mod.title_from_name

    def buggy(name):
        if name.startswith("boom"):
            raise RuntimeError("a bug met by one file")
        return real(name)

    monkeypatch.setattr(ingest_mod, "title_from_name", buggy)
    done = ingest_batch(archive, [tmp_path / "batch"], RecordFields(), jobs=1)
    assert [(Path(o.source).name, o.status) for o in done] == [("a.txt", "archived"), ("boom.txt", "failed"),
                                                               ("c.txt", "archived")]
    assert "RuntimeError" in done[1].message


# -- 11.15 names that spoof the output -----------------------------------------------------------------------
def test_a_newline_in_a_file_name_cannot_fake_a_line_of_show_or_search(cli, tmp_path):
    spoof = write(tmp_path / "x\nstatus        destroyed.txt", "an innocent record SPOOFMARK")
    rid = ids_of(cli("ingest", spoof, "--json"))[0]

    shown = cli("show", rid).output.splitlines()
    assert [ln.split() for ln in shown if ln.startswith("status")] == [["status", "active"]]
    assert ["title", "x", "status", "destroyed"] in [ln.split() for ln in shown]
    assert any("x\\nstatus" in ln for ln in shown)                   # the file name, escaped
    hits = cli("search", "SPOOFMARK").output.splitlines()
    assert not any(ln.startswith("status") for ln in hits)
    listing = cli("ls").output
    assert "destroyed" in listing and not any(ln.startswith("status") for ln in listing.splitlines())


def test_bidi_overrides_and_escapes_are_never_printed_raw(cli, tmp_path):
    rid = ids_of(cli("ingest", write(tmp_path / "invoice\u202efdp.exe", "BIDIMARK reversed name"), "--json"))[0]
    rec = json.loads(cli("show", rid, "--json").output)
    assert "\u202e" not in rec["title"]                               # cleaned from the title
    ids_of(cli("ingest", write(tmp_path / "plain.txt", "BIDIMARK plain"), "--json", "--title", "plain"))
    for args in (("show", rid), ("ls",), ("search", "BIDIMARK"), ("versions", rid)):
        out = cli(*args).output
        assert "\u202e" not in out and "\x1b" not in out, args
    assert "\\u202e" in cli("show", rid).output                        # the file name shows it escaped
    assert "\\u202e" in cli("show", rid, "--json").output             # JSON too, as a \u escape


def test_printable_escapes_controls_bidi_and_undecodable_bytes():
    from dangan.cli.output import printable
    assert printable("a\nb\tc\x1b[31m\u202ed\udcff档案") == "a\\nb\\tc\\x1b[31m\\u202ed\\xff档案"
    assert printable("普通的标题 plain") == "普通的标题 plain"


# -- 12.8 long names ------------------------------------------------------------------------------------------
LONG = "档" * 83 + "a.txt"                      # 254 bytes: legal; ".dangan/text/<name>.txt" is not


def test_a_254_byte_name_is_archived_extracted_reindexed_and_rebuilt(cli, archive_root, tmp_path):
    assert len(LONG.encode()) == 254
    f = write(tmp_path / LONG, "long name content LONGNAMEMARK")
    rid = ids_of(cli("ingest", f, "--json"))[0]
    rec = json.loads(cli("show", rid, "--json").output)
    assert rec["files"][0]["path"] == LONG and rec["extraction"]["status"] == "ok"

    def found() -> list[str]:
        return [json.loads(ln)["record_id"] for ln in cli("search", "LONGNAMEMARK", "--json").output.splitlines()
                if "record_id" in ln]

    assert found() == [rid]
    cli("reindex")                                   # reads the derivative back from the store
    assert found() == [rid]
    cli("rebuild-catalogue")
    assert found() == [rid]
    cli("check")
    again = write(tmp_path / "again" / LONG, "same long name again LONGNAMEMARK")
    cli("ingest", again, "--attach", f, "--allow-duplicate")        # "(2)" suffix must still fit NAME_MAX


def test_short_names_keep_their_derivative_path():
    """Existing stores: derivatives of names that fit are where they always were."""
    from dangan.core.store.layout import text_path
    assert text_path("会议纪要.txt") == ".dangan/text/会议纪要.txt.txt"
    long_path = text_path(LONG)
    assert long_path.startswith(".dangan/text/") and len(long_path.rsplit("/", 1)[1].encode()) <= 255
    assert text_path(LONG) == long_path and text_path(LONG[1:]) != long_path


# -- 12.11 size limit and sparse files --------------------------------------------------------------------------
def sparse(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"head")
        fh.truncate(size)
    return path


def test_a_file_over_max_file_mb_is_refused_with_the_limit_named(cli, archive_root, tmp_path):
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[ingest]\nmax_file_mb = 2\n")
    big = sparse(tmp_path / "disk.img", 5 * 1024 * 1024)
    r = cli("ingest", big, ok=False)
    assert r.exit_code == 13                      # refused: a file that cannot be archived
    assert "too large" in r.output and "max_file_mb" in r.output and "sparse" in r.output
    assert not digests(archive_root)


def test_a_sparse_file_under_the_limit_is_archived_with_a_warning(cli, archive_root, tmp_path):
    r = cli("ingest", sparse(tmp_path / "holes.img", 8 * 1024 * 1024))
    assert "warning" in r.output and "sparse file" in r.output
    assert len(digests(archive_root)) == 1


def test_the_default_size_limit_is_20_gib(archive):
    from dangan.core.store.source_files import max_file_bytes
    assert max_file_bytes(archive.config) == 20480 * 1024 * 1024


def test_revise_with_an_undecodable_file_name(cli, tmp_path):
    rid = ids_of(cli("ingest", write(tmp_path / "first.txt", "first version"), "--json"))[0]
    raw = os.path.join(os.fsencode(tmp_path), b"second-\xfe.txt")
    with open(raw, "wb") as fh:
        fh.write(b"second version")
    cli("revise", rid, os.fsdecode(raw), "-m", "a new scan")
    out = cli("show", rid).output
    assert ["version", "2", "of", "2"] in [ln.split() for ln in out.splitlines()] and "second-\\xfe.txt" in out
    cli("check")
