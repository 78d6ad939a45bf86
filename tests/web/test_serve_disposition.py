"""Disposition through the pages: due records, a destruction list proposed, refused to its proposer, approved
by a manager, executed only after a confirmation that lists what will be destroyed; alerts acknowledged by
the users they are addressed to."""
from __future__ import annotations

import json
import re

from cli_helpers import audit
from serve_helpers import client, csrf_of, sign_in


def test_a_destruction_list_from_due_to_certificate(cli, office, archive_root, tmp_path):
    p = tmp_path / "旧通知.txt"
    p.write_text("二〇〇一年的旧通知", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2001-01-01", "--retention",
                         "D10", "--title", "旧通知", "--json", user="arch").output)["record_id"]
    with client(archive_root) as arch:
        sign_in(arch, "arch")
        page = arch.get("/disposition").text
        assert f'value="{rid}"' in page                                      # it is due
        r = arch.post("/disposition", data={"csrf": csrf_of(arch, "/disposition"), "records": rid,
                                            "reason": "保管期满"})
        lid = re.search(r'<h1>销毁清册 (\S+) ·', r.text).group(1)
        assert 'id="list-status">proposed' in r.text
        r = arch.post(f"/disposition/{lid}/approve", data={"csrf": csrf_of(arch, f"/disposition/{lid}")})
        assert r.status_code == 403                                          # the proposer cannot approve
    with client(archive_root) as mgr:
        sign_in(mgr, "mgr")
        r = mgr.post(f"/disposition/{lid}/approve", data={"csrf": csrf_of(mgr, f"/disposition/{lid}")})
        assert r.status_code == 200 and 'id="list-status">approved' in r.text
    with client(archive_root) as arch:
        sign_in(arch, "arch")
        r = arch.post(f"/disposition/{lid}/execute", data={"csrf": csrf_of(arch, f"/disposition/{lid}")})
        assert r.status_code == 400 and "confirm" in r.text                 # not without the confirmation
        page = arch.get(f"/disposition/{lid}?confirm=1").text
        assert "将被销毁" in page and "旧通知" in re.search(r'id="plan-items".*?</table>', page, re.S).group(0)
        r = arch.post(f"/disposition/{lid}/execute", data={"csrf": csrf_of(arch, f"/disposition/{lid}"),
                                                           "confirmed": lid})
        assert r.status_code == 200 and 'id="list-status">executed' in r.text and 'id="certificate"' in r.text
    assert json.loads(cli("show", rid, "--json", user="boss").output)["status"] == "destroyed"
    assert [e["object"] for e in audit(cli, "disposition.approve")] == [lid]


def test_alerts_go_to_their_addressee_and_are_acknowledged(cli, office, archive_root):
    import sqlite3
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    conn.execute("INSERT INTO alerts (id, record_id, kind, message, due_at, recipient, plugin, raised_at) VALUES"
                 " ('A1', ?, 'quality', '异常质量信息：10小时内处理', '2001-01-01T10:00:00Z', 'manager', 'drug_quality',"
                 " '2001-01-01T00:00:00Z')", (office["plain"],))
    conn.commit()
    conn.close()
    with client(archive_root) as clerk:
        sign_in(clerk, "clerk")
        assert "异常质量信息" not in clerk.get("/alerts").text                # addressed to managers
        r = clerk.post("/alerts/A1/ack", data={"csrf": csrf_of(clerk, "/alerts")})
        assert r.status_code == 403
    with client(archive_root) as mgr:
        sign_in(mgr, "mgr")
        page = mgr.get("/alerts").text
        assert "异常质量信息" in page and "逾期" in page
        mgr.post("/alerts/A1/ack", data={"csrf": csrf_of(mgr, "/alerts")})
        assert "异常质量信息" not in mgr.get("/alerts").text
    ev = audit(cli, "alert.acknowledge")
    assert ev[-1]["actor"] == "mgr" and ev[-1]["details"]["late"] is True
