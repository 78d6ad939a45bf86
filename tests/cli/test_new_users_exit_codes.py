"""Issue 13 item 6: the exit codes are the README's table, for every error class and through the CLI."""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import dangan
from dangan.errors import DanganError
from conftest import REPO  # noqa: E402

README = REPO / "README.md"


def readme_table() -> dict[int, tuple[str, set[str]]]:
    """code → (meaning, error class names) from the README's exit-code table."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|([^|]*)\|\s*$", line)
        if m:
            rows[int(m.group(1))] = (m.group(2).strip(), set(re.findall(r"`(\w+)`", m.group(3))))
    return rows


def all_error_classes() -> set[type]:
    for mod in pkgutil.walk_packages(dangan.__path__, "dangan."):
        if ".web" in mod.name or mod.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(mod.name)
        except ImportError:
            continue
    seen, todo = set(), [DanganError]
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo.extend(c.__subclasses__())
    return seen


def test_every_error_class_has_its_code_and_meaning_in_the_readme_table():
    table = readme_table()
    assert {2, 4, 10, 11, 12, 13, 14, 15} <= set(table)
    named = {name: code for code, (_, names) in table.items() for name in names}
    classes = all_error_classes()
    assert len(classes) > 12
    for cls in classes:
        listed = next((c for c in cls.__mro__ if c.__name__ in named), None)
        assert listed is not None, f"{cls.__name__} has no row in the README's exit-code table"
        assert cls.exit_code == named[listed.__name__], (
            f"{cls.__name__} exits {cls.exit_code} but the README says {listed.__name__} is "
            f"{named[listed.__name__]} ({table[named[listed.__name__]][0]})")
    for code, (meaning, names) in table.items():
        assert meaning, code


def note(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def enable(root: Path, *plugins: str, extra: str = "") -> None:
    cfg = root / "dangan.toml"
    names = ", ".join(f'"{p}"' for p in plugins)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[plugins]\n", f"[plugins]\nenabled = [{names}]\n", 1)
                   + "\n" + extra + "\n", encoding="utf-8")


def test_a_validation_refusal_exits_10(cli, archive_root, tmp_path):
    enable(archive_root, "construction")
    r = cli("ingest", note(tmp_path, "进度.txt", "三号楼"), "--category", "SG-JD", ok=False)
    assert r.exit_code == 10 and "valid_until" in r.output


def test_a_missing_file_exits_13(cli, tmp_path):
    r = cli("ingest", tmp_path / "不存在.pdf", "--category", "WS", ok=False)
    assert r.exit_code == 13 and "no such file" in r.output


def test_a_batch_refused_for_different_reasons_exits_1(cli, archive_root, tmp_path):
    enable(archive_root, "construction")
    d = tmp_path / "d"
    d.mkdir()
    note(d, "a.txt", "甲")
    (d / "empty.txt").write_bytes(b"")
    r = cli("ingest", d, "--category", "SG-JD", ok=False)
    assert r.exit_code == 1 and "valid_until" in r.output and "empty" in r.output


def test_a_plugin_crash_exits_11(cli, archive_root, tmp_path):
    (archive_root / "plugins").mkdir(exist_ok=True)
    (archive_root / "plugins" / "crashy.py").write_text(
        "from dangan.plugins.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef dangan_validate(record, category, context):\n    raise ZeroDivisionError('oops')\n",
        encoding="utf-8")
    r = cli("ingest", note(tmp_path, "a.txt", "甲"), "--category", "WS", "--dept", "BGS", ok=False)
    assert r.exit_code == 11 and "crashy" in r.output


def test_legal_hold_refusal_exits_14_and_a_loan_not_approved_exits_15(cli, archive_root, tmp_path):
    extra = ('[users.arch]\nroles = ["archivist"]\n[users.boss]\nroles = ["manager"]\n'
             '[users.tester]\nroles = ["archivist", "admin"]')
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n" + extra + "\n", encoding="utf-8")
    out = cli("ingest", note(tmp_path, "a.txt", "甲"), "--category", "WS", "--dept", "BGS", "--retention", "D10",
              "--date", "2001-01-01", "--json").output
    rid = json.loads(out.splitlines()[0])["record_id"]
    cli("hold", "add", rid, "--reason", "诉讼", "--authority", "法务部")
    held = cli("disposition", "propose", rid, user="arch", ok=False)
    assert held.exit_code == 14 and "legal hold" in held.output
    lid = cli("lend", "request", rid, "--purpose", "审计", "--days", "3", "--json").output
    lid = json.loads(lid)["id"] if lid.strip().startswith("{") else lid.split()[1]
    r = cli("lend", "issue", lid, "-o", tmp_path / "copies", user="arch", ok=False)
    assert r.exit_code == 15 and "only an approved loan" in r.output


PASS = "correct horse battery staple"


@pytest.fixture
def keyed(cli, monkeypatch, tmp_path):
    import os
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dgnu{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    cli("volume", "create", "V", "--secrecy", "秘密")
    yield cli
    cli("volume", "lock")


def test_a_wrong_passphrase_and_a_locked_volume_exit_12(keyed, monkeypatch, tmp_path):
    out = keyed("ingest", note(tmp_path, "s.txt", "机密内容"), "--volume", "V", "--json").output
    rid = json.loads(out.splitlines()[0])["record_id"]
    keyed("volume", "lock")
    locked = keyed("get", rid, "-o", tmp_path / "out", ok=False)
    assert locked.exit_code == 12 and "locked" in locked.output
    monkeypatch.setenv("DANGAN_PASSPHRASE", "wrong")
    wrong = keyed("volume", "unlock", "V", ok=False)
    assert wrong.exit_code == 12 and "passphrase" in wrong.output
