"""A cataloguing edit (著录): `dangan edit` (and `revise` without a file) shows each field before and after,
in its audit event and in `dangan versions`; the changes are read from the store, so a rebuilt
catalogue keeps every edit; a sealed record's edit puts no plaintext in the audit trail."""
from __future__ import annotations

import json
import os
from pathlib import Path


def _events(cli, action):
    return [json.loads(x) for x in cli("audit", "log", "--action", action, "--json").output.splitlines()]


def test_edit_show_audit_log_and_rebuild_keep_every_edit(cli, tmp_path, archive_root):
    src = tmp_path / "通知.txt"
    src.write_text("关于档案整理的通知", encoding="utf-8")
    rid = json.loads(cli("ingest", src, "--title", "关于档案整理的通之", "--date", "2021-05-01",
                         "--json").output)["record_id"]
    out = cli("edit", rid, "--title", "关于档案整理的通知", "--meta", "doc_number=办发〔2021〕9号",
              "-m", "更正错字").output
    assert "title: 关于档案整理的通之 → 关于档案整理的通知" in out
    assert "metadata.doc_number: (none) → 办发〔2021〕9号" in out and "version 2" in out
    cli("revise", rid, "--date", "2021-05-02", "--tag", "整理")
    assert json.loads(cli("show", rid, "--json").output)["title"] == "关于档案整理的通知"
    ev = _events(cli, "record.revise")
    assert ev[0]["details"]["changes"]["title"] == {"from": "关于档案整理的通之", "to": "关于档案整理的通知"}
    assert ev[1]["details"]["changes"]["date"] == {"from": "2021-05-01", "to": "2021-05-02"}
    assert ev[1]["details"]["changes"]["tags"] == {"from": [], "to": ["整理"]}

    def changes():
        return {v["version"]: v["changes"] for v in map(json.loads, cli("versions", rid, "--json").output.splitlines())}
    before = changes()
    assert before[1] == {} and set(before[2]) == {"title", "metadata.doc_number"}
    assert set(before[3]) == {"date", "tags"}
    assert "v2 title: 关于档案整理的通之 → 关于档案整理的通知" in cli("versions", rid).output
    cli("rebuild-catalogue", "--yes")
    assert changes() == before                                      # the store keeps every edit
    assert json.loads(cli("show", rid, "--json").output)["metadata"]["doc_number"] == "办发〔2021〕9号"


def test_an_edit_of_a_sealed_record_puts_no_plaintext_in_the_trail(cli, archive_root, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dge{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    try:
        src = tmp_path / "f.txt"
        src.write_text("机密正文", encoding="utf-8")
        rid = json.loads(cli("ingest", src, "--volume", "V", "--title", "OLDMARK-旧题名", "--json").output)["record_id"]
        cli("volume", "unlock", "V")
        cli("edit", rid, "--title", "NEWMARK-新题名")
        ev = _events(cli, "record.revise")[-1]
        assert ev["details"]["changes"]["title"] == {"sealed": True}
        trail = cli("audit", "log", "--json").output
        assert "OLDMARK" not in trail and "NEWMARK" not in trail
        assert json.loads(cli("show", rid, "--json").output)["title"] == "NEWMARK-新题名"    # unlocked: opened
        versions = cli("versions", rid, "--json").output
        assert "OLDMARK" not in versions and "NEWMARK" not in versions
        # an export or a printed form of the unlocked volume holds the catalogue, not the plaintext
        cli("ls", "--format", "csv", "--output", tmp_path / "v.csv")
        cli("ls", "--format", "xlsx", "--output", tmp_path / "v.xlsx")
        cli("print", "contents-list", "V", "-o", tmp_path / "v.pdf")
        cli("print", "labels", rid, "-o", tmp_path / "l.pdf")
        import subprocess
        import zipfile
        assert rid in (tmp_path / "v.csv").read_text(encoding="utf-8-sig")
        assert "NEWMARK" not in (tmp_path / "v.csv").read_text(encoding="utf-8-sig")
        with zipfile.ZipFile(tmp_path / "v.xlsx") as z:
            assert not any("NEWMARK" in z.read(n).decode("utf-8", "replace") for n in z.namelist())
        for pdf in ("v.pdf", "l.pdf"):
            text = subprocess.run(["pdftotext", str(tmp_path / pdf), "-"], capture_output=True, text=True).stdout
            assert "NEWMARK" not in text and "新题名" not in text
    finally:
        cli("volume", "lock")
