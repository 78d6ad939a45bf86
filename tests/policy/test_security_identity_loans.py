"""Issue 11 item 6: records the loan policy covers are read (get) or exported only on an issued loan."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_helpers import enable

PASS = "correct horse battery staple"


def _users(cli):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, dept in (("mgr", "manager", "BGS"), ("arch", "archivist", "BGS"), ("clerk", "staff", "BGS"),
                             ("kx", "staff", "KXB")):
        cli("user", "add", name, "--role", role, "--dept", dept, "--clearance", "top-secret", user="boss")


def _put(cli, tmp_path, name, text, *args, user="arch"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return json.loads(cli("ingest", p, "--json", *args, user=user).output.splitlines()[0])["record_id"]


def _lend(cli, rid, borrower="clerk"):
    lid = json.loads(cli("lend", "request", rid, "--purpose", "查阅", "--json", user=borrower).output)["loan"]
    cli("lend", "approve", lid, user="mgr")
    return lid


@pytest.fixture
def sealed(cli, archive_root, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dgl{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    _users(cli)
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷", user="boss")
    rid = _put(cli, tmp_path, "s.txt", "秘密正文 LOANMARK", "--volume", "V")
    for who in ("arch", "clerk"):
        cli("volume", "unlock", "V", user=who)
    yield rid
    cli("volume", "lock", user="boss")


def test_secret_records_are_got_only_on_an_issued_loan(cli, sealed, tmp_path):
    rid, out = sealed, tmp_path / "out"
    r = cli("get", rid, "-o", out, user="clerk", ok=False)
    assert r.exit_code == 7 and "needs a loan" in r.output and not (out / "s.txt").exists()
    lid = _lend(cli, rid)
    r = cli("get", rid, "-o", out, user="clerk", ok=False)                    # approved is not yet issued
    assert r.exit_code == 7
    cli("lend", "issue", lid, user="arch")
    cli("get", rid, "-o", out, user="clerk")
    assert (out / "s.txt").read_text(encoding="utf-8") == "秘密正文 LOANMARK"
    r = cli("get", rid, "-o", tmp_path / "o2", user="arch", ok=False)         # the loan is clerk's, not arch's
    assert r.exit_code == 7
    cli("lend", "return", lid, rid, user="arch")
    r = cli("get", rid, "-o", tmp_path / "o3", user="clerk", ok=False)        # returned: no longer
    assert r.exit_code == 7
    denied = [json.loads(x) for x in cli("audit", "log", "--json", "--action", "access.read",
                                         user="boss").output.splitlines()]
    assert len(denied) == 4 and all(e["outcome"] == "denied" for e in denied)


def test_per_category_policy_covers_get_and_export(cli, archive_root, tmp_path):
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[policy.loan_required_categories]\n"WS" = "internal"\n',
                   encoding="utf-8")
    _users(cli)
    internal = _put(cli, tmp_path, "i.txt", "内部", "--category", "WS", "--dept", "BGS", "--secrecy", "internal")
    public = _put(cli, tmp_path, "p.txt", "公开", "--category", "WS", "--dept", "ZLB", "--secrecy", "public")
    cli("get", public, "-o", tmp_path / "o1", user="clerk")                    # below the category's level
    r = cli("get", internal, "-o", tmp_path / "o2", user="clerk", ok=False)
    assert r.exit_code == 7 and "needs a loan" in r.output
    r = cli("export", internal, "--bagit", tmp_path / "bag", user="clerk", ok=False)
    assert r.exit_code == 7 and "needs a loan" in r.output and not (tmp_path / "bag").exists()
    cli("lend", "issue", _lend(cli, internal), user="arch")
    cli("get", internal, "-o", tmp_path / "o3", user="clerk")
    cli("export", internal, "--bagit", tmp_path / "bag", user="clerk")
    assert (tmp_path / "bag" / "data" / internal / "files" / "i.txt").exists()


def test_customer_files_are_not_downloaded_by_another_department(cli, archive_root, tmp_path):
    enable(archive_root, "customer_confidentiality")
    _users(cli)
    rid = _put(cli, tmp_path, "c.txt", "客户资料 张三", "--category", "KX-YB", "--meta", "customer_name=张三",
               "--date", "2021-01-01", user="kx")
    cli("get", rid, "-o", tmp_path / "o1", user="kx")                          # the customer service staff
    r = cli("get", rid, "-o", tmp_path / "o2", user="clerk", ok=False)         # another department
    assert r.exit_code == 7 and "customer_confidentiality" in r.output
    cli("lend", "issue", _lend(cli, rid), user="arch")
    cli("get", rid, "-o", tmp_path / "o3", user="clerk")
    assert (tmp_path / "o3" / "c.txt").read_text(encoding="utf-8") == "客户资料 张三"


def test_customer_files_are_not_found_by_id_number_from_another_department(cli, archive_root, tmp_path):
    enable(archive_root, "customer_confidentiality")
    _users(cli)
    _put(cli, tmp_path, "c.txt", "客户资料 张三 身份证 11010519491231002X", "--category", "KX-YB", "--meta",
         "customer_name=张三", "--date", "2021-01-01", user="kx")
    count = lambda q, who: cli("search", q, "--count", user=who).output.strip()  # noqa: E731
    assert count("11010519491231002X", "kx") == "1"
    assert count("11010519491231002X", "clerk") == "0"                         # another department
    assert count("张三", "clerk") == "1"                                        # by name it is still listed
