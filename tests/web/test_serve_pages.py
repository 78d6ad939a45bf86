"""Volumes (contents list, printable), users and passwords (admin), the dashboard, holds, the audit trail's
filters, English: the pages beyond search and lending."""
from __future__ import annotations

from cli_helpers import audit
from serve_helpers import SECRET_TITLE, client, csrf_of, sign_in


def test_volumes_show_their_contents_within_clearance(office, archive_root):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        page = c.get("/volumes").text
        assert "WS·2021·BGS" in page and ">V<" not in page                 # the secret volume is above clearance
        r = c.get("/volumes/WS·2021·BGS")
        assert r.status_code == 200 and "档案管理会议纪要" in r.text and 'id="contents-list"' in r.text
        assert c.get("/volumes/V").status_code == 404 and SECRET_TITLE not in c.get("/volumes/V").text
        assert 'media="print"' in r.text and c.get("/static/print.css").status_code == 200


def test_an_admin_sets_passwords_and_no_one_else(cli, office, archive_root):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.post("/users/head/password", data={"csrf": csrf_of(c), "password": "taken over by clerk"})
        assert r.status_code == 403
    with client(archive_root) as c:
        sign_in(c, "boss")
        r = c.post("/users/head/password", data={"csrf": csrf_of(c, "/users"), "password": "a brand new password"})
        assert r.status_code == 200 and "密码已设置" in r.text
    with client(archive_root) as c:
        assert sign_in(c, "head", "a brand new password").status_code == 303
    assert [e["outcome"] for e in audit(cli, "access.denied") if e["object"] == "user:head"] == ["denied"]


def test_dashboard_holds_audit_filters_and_english(cli, office, archive_root):
    cli("hold", "add", office["other"], "--reason", "诉讼保全", "--authority", "法院通知", user="boss")
    with client(archive_root) as c:
        sign_in(c, "aud")
        r = c.get("/dashboard")
        assert r.status_code == 200 and "BGS" in r.text and "<meter" in r.text
        assert "诉讼保全" in c.get("/holds").text
        rows = c.get("/audit", params={"action": "auth.signin"}).text.split('id="events"')[1]
        assert "user:aud" in rows and "record.ingest" not in rows
        rows = c.get("/audit", params={"actor": "arch", "since": "2000-01-01"}).text.split('id="events"')[1]
        assert "record.ingest" in rows and "auth.signin" not in rows
        c.get("/lang", params={"lang": "en", "next": "/search"})
        assert "Search" in c.get("/search").text and "Sign out" in c.get("/search").text
