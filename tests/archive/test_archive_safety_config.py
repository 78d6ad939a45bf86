"""Issue 12.9: every dangan.toml key is validated; a bad value is one line naming the key and the
expected type (exit 2), never a traceback; unknown keys are warnings with "did you mean"."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO  # noqa: E402


def dangan(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def edit(root: Path, old: str, new: str) -> None:
    cfg = root / "dangan.toml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(root: Path, text: str) -> None:
    with open(root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + text + "\n")


def one_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dangan: error: "), r.stderr
    return lines[0]


def test_non_utf8_bytes_are_one_line(archive_root):
    cfg = archive_root / "dangan.toml"
    cfg.write_bytes(cfg.read_bytes().replace(b'name = "', b'name = "\xff\xfe', 1))
    line = one_error(dangan(archive_root, "ls"))
    assert "UTF-8" in line and "dangan.toml" in line


@pytest.mark.parametrize("old,new,names", [
    ("timeout_seconds = 120", 'timeout_seconds = "abc"', ("[extraction] timeout_seconds", "number", '"abc"')),
    ("# enabled = [\"general_office\"]", 'enabled = ["general_office", 5]', ("[plugins] enabled[1]", "string")),
    ('fonds = "Z109"', "fonds = 12345", ("[archive] fonds", "string", "12345")),
    ("memory_mb = 1024", "memory_mb = 1.5", ("[extraction] memory_mb", "whole number")),
    ("unlock_minutes = 30", "unlock_minutes = -1", ("[keystore] unlock_minutes", "> 0")),
    ('ocr_languages = "chi_sim+chi_tra+eng"', "ocr_languages = true", ("[extraction] ocr_languages", "string", "true")),
])
def test_a_wrong_type_names_the_key_and_the_type(archive_root, old, new, names):
    edit(archive_root, old, new)
    line = one_error(dangan(archive_root, "ls"))
    for n in names:
        assert n in line, line


def test_a_section_that_is_not_a_table(archive_root):
    cfg = archive_root / "dangan.toml"
    cfg.write_text("ingest = 5\n" + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    line = one_error(dangan(archive_root, "ls"))
    assert "[ingest] must be a table, not 5" in line, line


@pytest.mark.parametrize("text,names", [
    ('[users."王经理"]\nroles = "project-manager"', ('[users."王经理"] roles', "list of strings")),
    ('[[watch.folders]]\npath = "/srv/scans"\nsettle_seconds = "slow"', ("[[watch.folders]] #1 settle_seconds",
                                                                         "number")),
    ("[watch]\nduplicates = \"keep\"", ("[watch] duplicates", '"skip"')),
    ("[lending]\nmax_days = 0", ("[lending] max_days", "≥ 1")),
    ("[ingest]\njobs = \"2\"", ("[ingest] jobs", "whole number")),
    ("[disposition]\napprover_roles = [\"manager\", 3]", ("[disposition] approver_roles", "string")),
])
def test_other_sections_are_validated_too(archive_root, text, names):
    append(archive_root, text)
    line = one_error(dangan(archive_root, "ls"))
    for n in names:
        assert n in line, line


def test_unknown_keys_warn_with_did_you_mean_and_the_command_runs(archive_root):
    edit(archive_root, "timeout_seconds = 120", "timeout_second = 120")
    append(archive_root, "[extration]\nmemory_mb = 5\n[zzzz]\nq = 1")
    r = dangan(archive_root, "ls")
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if l.startswith("dangan: warning: ")]
    assert any("timeout_second" in w and "did you mean timeout_seconds?" in w for w in warnings), r.stderr
    assert any("[extration]" in w and "did you mean [extraction]?" in w for w in warnings), r.stderr
    assert any("[zzzz]" in w and "did you mean" not in w for w in warnings), r.stderr


def test_a_new_archives_configuration_is_valid_without_warnings(archive_root):
    r = dangan(archive_root, "ls")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_every_key_the_code_reads_has_a_schema_entry():
    """Keys read with ``config.raw.get("section", {}).get("key")`` anywhere in dangan are in SCHEMA."""
    import re
    from dangan.core.kernel.config_schema import SCHEMA
    pkg = REPO / "dangan"
    pattern = re.compile(r"raw\.get\(\"(\w+)\"(?:, \{\})?\)(?: or \{\})?\)?\.get\(\"(\w+)\"")
    found = {m.groups() for f in pkg.rglob("*.py") for m in pattern.finditer(f.read_text(encoding="utf-8"))}
    assert found, "the pattern found nothing: update it"
    for section, key in found:
        spec = SCHEMA.get(section)
        if section == "users":
            continue
        assert spec is not None and key in spec.keys, f"[{section}] {key} is read but not in config_schema.SCHEMA"
