"""Issue 13 item 10: required metadata says how to give it; the secrecy is given once; schemes show CODE."""
from __future__ import annotations

import json
from pathlib import Path

from dangan.cli.output import width


def enable(root: Path, *names: str) -> None:
    cfg = root / "dangan.toml"
    listed = ", ".join(f'"{n}"' for n in names)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[plugins]\n", f"[plugins]\nenabled = [{listed}]\n", 1),
                   encoding="utf-8")


def note(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "进度.txt"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_missing_required_field_says_how_to_give_it(cli, archive_root, tmp_path):
    enable(archive_root, "construction")
    r = cli("ingest", note(tmp_path, "三号楼"), "--category", "SG-JD", "--secrecy", "internal", ok=False)
    assert r.exit_code == 10
    assert "--meta valid_until=YYYY-MM-DD" in r.output and "--meta custodian=VALUE" in r.output
    assert "dangan schemes show SG-JD" in r.output


def test_the_construction_secrecy_is_given_once(cli, archive_root, tmp_path):
    enable(archive_root, "construction")
    r = cli("ingest", note(tmp_path, "三号楼"), "--category", "SG-JD", "--secrecy", "internal", "--meta",
            "valid_until=2026-12-31", "--meta", "custodian=赵工", "--json")
    rec = json.loads(r.stdout.splitlines()[0])
    assert rec["status"] == "archived"
    bare = cli("ingest", note(tmp_path, "四号楼"), "--category", "SG-JD", "--meta", "valid_until=2026-12-31",
               "--meta", "custodian=赵工", ok=False)
    assert bare.exit_code == 10 and "--secrecy LEVEL" in bare.output       # still declared explicitly, once


def test_schemes_show_lists_every_required_field(cli, archive_root):
    enable(archive_root, "insurance_customers", "construction")
    shown = json.loads(cli("schemes", "show", "KH-TB", "--json").stdout)
    fields = {f["field"]: f for f in shown["fields"]}
    assert {"policyholder_id_number", "insured_birth_date", "insured_id_number"} <= set(fields)
    assert "under 18" in fields["insured_id_number"]["required"]
    assert fields["insured_birth_date"]["give"] == "--meta insured_birth_date=YYYY-MM-DD"
    text = cli("schemes", "show", "SG-JD").stdout
    assert "valid_until" in text and "--secrecy LEVEL" in text and "custodian" in text
    r = cli("schemes", "show", "SG-XX", ok=False)
    assert r.exit_code == 2 and "SG-JD" in r.output


def test_the_schemes_table_lists_insured_id_number_and_cuts_nothing(cli, archive_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    enable(archive_root, "insurance_customers")
    out = cli("schemes").stdout
    block = out.split("KH-TB")[1].split("\nSX")[0]
    assert "required:" in block and "…" not in block
    assert "insured_id_number" in block and "policyholder_phone" in block
    assert max(width(line) for line in out.splitlines()) <= 100
    rows = {r["code"]: r for r in map(json.loads, cli("schemes", "--json").stdout.splitlines())}
    assert "insured_id_number" in rows["KH-TB"]["required"]
