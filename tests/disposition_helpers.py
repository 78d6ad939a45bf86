"""An office for the disposition tests: users of every role and four records of known retention."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def office(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("mgr", "manager"), ("lawyer", "legal"), ("clerk", "staff")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "top-secret", user="boss")
    ids = {}
    for key, retention, date in (("old", "D10", "2010-01-01"), ("old2", "D10", "2010-02-01"),
                                 ("perm", "permanent", "2010-03-01"), ("new", "D10", "2021-01-01")):
        p = tmp_path / f"{key}.txt"
        p.write_text(f"保管期限测试 {key} MARK{key.upper()}", encoding="utf-8")
        ids[key] = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", retention,
                                  "--date", date, "--title", f"文件{key}", "--json", user="arch").output)["record_id"]
    return ids
