"""Issue 11 item 11: the audit trail and the volume list are filtered by who reads them."""
from __future__ import annotations

import json


def _lines(out):
    return [json.loads(x) for x in out.splitlines()]


def test_audit_log_and_volume_list_follow_the_readers_clearance(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "pub", "--role", "staff", "--clearance", "public", user="boss")
    cli("user", "add", "aud", "--role", "auditor", "--clearance", "public", user="boss")
    cli("volume", "create", "内部-2022", "--secrecy", "internal", "--title", "内部卷", user="boss")
    src = tmp_path / "董事会内部来源.txt"
    src.write_text("内部 记录", encoding="utf-8")
    internal = json.loads(cli("ingest", src, "--volume", "内部-2022", "--secrecy", "internal", "--category", "WS",
                              "--dept", "BGS", "--json", user="boss").output)["record_id"]
    pub_src = tmp_path / "公告.txt"
    pub_src.write_text("公开 记录", encoding="utf-8")
    public = json.loads(cli("ingest", pub_src, "--secrecy", "public", "--category", "WS", "--dept", "ZLB", "--json",
                            user="boss").output)["record_id"]
    cli("ls", user="pub")
    out = cli("audit", "log", "--json", user="pub").output
    assert internal not in out and "董事会内部来源" not in out                  # nothing of the internal record
    objects = {e["object"] for e in _lines(out)}
    assert public in objects and "user:boss" not in objects                   # records within clearance only
    assert cli("audit", "log", "--json", "--record", internal, user="pub").output == ""
    full = cli("audit", "log", "--json", user="aud").output                   # the auditor reads everything
    assert internal in full and "董事会内部来源" in full
    assert internal in cli("audit", "log", "--json", user="boss").output      # and so does the admin
    names = {v["name"]: v for v in _lines(cli("volume", "list", "--json", user="pub").output)}
    assert "内部-2022" not in names and all(v["secrecy"] == "public" for v in names.values())
    assert "内部卷" not in cli("volume", "list", user="pub").output
    names = {v["name"]: v for v in _lines(cli("volume", "list", "--json", user="boss").output)}
    assert names["内部-2022"]["records"] == 1
