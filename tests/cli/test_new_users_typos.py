"""Issue 13 item 11: typos do not silently create junk."""
from __future__ import annotations

import json
from pathlib import Path


def note(tmp_path: Path, name: str = "a.txt") -> Path:
    p = tmp_path / name
    p.write_text(f"正文 {name}", encoding="utf-8")
    return p


def test_a_volume_that_does_not_exist_is_refused_with_the_nearest_name(cli, tmp_path):
    cli("ingest", note(tmp_path), "--category", "WS", "--dept", "BGS", "--volume", "合同-2024", "--create-volume")
    r = cli("ingest", note(tmp_path, "b.txt"), "--category", "WS", "--dept", "BGS", "--volume", "合同-2042",
            ok=False)
    assert r.exit_code == 4 and "--create-volume" in r.output and "did you mean '合同-2024'" in r.output
    r = cli("ingest", note(tmp_path, "c.txt"), "--volume", "不存在的卷", ok=False)
    assert r.exit_code == 4 and "--create-volume" in r.output
    names = {v["name"] for v in map(json.loads, cli("volume", "list", "--json").stdout.splitlines())}
    assert "合同-2042" not in names and "不存在的卷" not in names
    assert len(cli("ls", "--json").stdout.splitlines()) == 1


def test_an_unknown_department_is_refused_with_the_valid_list(cli, archive_root, tmp_path):
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[departments]\nXZ = "行政部"\nRS = "人事部"\n',
                   encoding="utf-8")
    r = cli("ingest", note(tmp_path), "--category", "WS", "--dept", "ZX", ok=False)
    assert r.exit_code == 2 and "unknown department 'ZX'" in r.output and "XZ" in r.output and "RS" in r.output
    assert "BGS" in r.output                                  # the department plugins' codes are valid too
    cli("ingest", note(tmp_path), "--category", "WS", "--dept", "XZ")


def test_a_record_without_a_category_is_archived_with_a_warning_that_it_has_no_archival_code(cli, tmp_path):
    r = cli("ingest", note(tmp_path))
    assert "warning" in r.stderr and "without an archival code" in r.stderr and "--category" in r.stderr
    coded = cli("ingest", note(tmp_path, "b.txt"), "--category", "WS", "--dept", "BGS")
    assert "archival code" not in coded.stderr


def test_a_category_without_a_department_is_a_clear_refusal_not_a_plugin_crash(cli, tmp_path):
    r = cli("ingest", note(tmp_path), "--category", "WS", ok=False)
    assert r.exit_code == 10 and "give --dept CODE" in r.output and "ValueError" not in r.output
