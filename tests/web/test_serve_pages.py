"""Volumes (contents list, printable), users and passwords (admin), the dashboard, holds, the audit trail's
filters, English: the pages beyond search and lending."""
from __future__ import annotations

from cli_helpers import audit
from serve_helpers import SECRET_TITLE, client, csrf_of, sign_in
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


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


def test_a_cleared_user_unlocks_a_sealed_volume_for_themself(cli, office, archive_root):
    from serve_helpers import PASS
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.post("/volumes/V/unlock", data={"csrf": csrf_of(c), "passphrase": PASS, "minutes": "5"})
        assert r.status_code in (403, 404) and SECRET_TITLE not in r.text            # not cleared: refused
    with client(archive_root) as c:
        sign_in(c, "mgr")
        page = c.get(f"/records/{office['secret']}").text
        assert SECRET_TITLE not in page and "已封存" in page                         # sealed while locked
        r = c.post("/volumes/V/unlock", data={"csrf": csrf_of(c, "/volumes/V"), "passphrase": "wrong one",
                                              "minutes": "5"})
        assert r.status_code == 409
        c.post("/volumes/V/unlock", data={"csrf": csrf_of(c, "/volumes/V"), "passphrase": PASS, "minutes": "5"})
        try:
            assert SECRET_TITLE in c.get(f"/records/{office['secret']}").text        # unlocked for mgr
        finally:
            c.post("/volumes/V/lock", data={"csrf": csrf_of(c, "/volumes/V")})
        assert SECRET_TITLE not in c.get(f"/records/{office['secret']}").text
    assert [e["outcome"] for e in audit(cli, "volume.unlock")] == ["failure", "success"]


def test_one_users_unlock_does_not_open_a_volume_for_the_next_request(office, archive_root):
    """The worker thread's archive serves user after user: what mgr unlocked stays mgr's."""
    from serve_helpers import PASS
    from dangan.web import ops
    from dangan.web.context import Archives
    archives = Archives(archive_root)
    try:
        with archives.acting("mgr") as a:
            ops.unlock_volume(a, "V", PASS, 5)
            assert ops.record(a, office["secret"]).record.title == SECRET_TITLE
        with archives.acting("boss") as a:                                    # cleared, but has not unlocked
            shown = ops.record(a, office["secret"])
            assert shown.locked and shown.record.title != SECRET_TITLE
        with archives.acting("mgr") as a:
            ops.lock_volume(a, "V")
            assert ops.record(a, office["secret"]).locked
    finally:
        archives.close()


def test_facets_count_all_hits_of_a_search_within_clearance(cli, office, archive_root):
    """Page 2 of a search with fewer hits than a page still shows the counts of all of them; a user not cleared
    for the secret record is not told of it by a count; the API gives the same counts."""
    import re
    from serve_helpers import token
    with client(archive_root) as c:
        sign_in(c, "mgr")                                                 # cleared for 秘密: the locked record counts
        page = c.get("/search", params={"q": "dept:BGS", "page": "2"}).text
        facets = page.split('class="facets"')[1].split("</aside>")[0]
        assert re.search(r"★秘密</a> <span class=\"n\">1</span>", facets)
        assert re.search(r">WS</a> <span class=\"n\">4</span>", facets) and 'id="hits"' in page
        sign_in(c, "clerk")
        facets = c.get("/search", params={"q": "dept:BGS", "page": "2"}).text.split('class="facets"')[1]
        assert "★秘密" not in facets.split("</aside>")[0] and re.search(r">WS</a> <span class=\"n\">3</span>", facets)
        r = c.get("/api/v1/search", params={"q": "dept:BGS", "limit": "1", "facets": "1"},
                  headers={"Authorization": "Bearer " + token(cli, "clerk", "read")})
        body = r.json()
        assert body["total"] == 3 and len(body["hits"]) == 1
        assert body["facets"]["category"] == {"WS": 3} and body["facets"]["year"] == {"2021": 3}
        assert "secret" not in body["facets"]["secrecy"]


def test_the_dashboard_shows_the_backup_age(cli, office, archive_root, tmp_path, monkeypatch):
    """No backup yet, then a real `dangan backup create`: the tile shows its age and snapshot; a backup older
    than [backup] interval_hours is marked overdue."""
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", "backup passphrase for the dashboard")
    with client(archive_root) as c:
        sign_in(c, "aud")
        tile = c.get("/dashboard").text.split('id="backup-age"')[1].split("</section>")[0]
        assert 'id="backup-none"' in tile and "尚无备份" in tile
    repo = tmp_path / "repo"
    cli("backup", "init", "--repo", repo, user="boss")
    cli("backup", "create", "--repo", repo, user="boss")
    with client(archive_root) as c:
        sign_in(c, "aud")
        tile = c.get("/dashboard").text.split('id="backup-age"')[1].split("</section>")[0]
        assert 'id="backup-hours">0.0 小时前' in tile and 'id="backup-overdue"' not in tile
    import sqlite3
    with sqlite3.connect(archive_root / "catalogue.sqlite") as db:      # the same run, made long ago
        db.execute("UPDATE backup_runs SET finished = '2000-01-01T00:00:00Z' WHERE op = 'create'")
    with client(archive_root) as c:
        sign_in(c, "aud")
        tile = c.get("/dashboard").text.split('id="backup-age"')[1].split("</section>")[0]
        assert 'id="backup-overdue"' in tile and "备份已超过间隔" in tile


def test_an_archivist_places_and_releases_a_hold_on_the_page(cli, office, archive_root):
    import re
    with client(archive_root) as c:
        sign_in(c, "clerk")
        page = c.get("/holds").text
        assert 'id="place-hold"' not in page                                    # staff: no form
        r = c.post("/holds", data={"csrf": csrf_of(c, "/holds"), "records": office["plain"], "reason": "x",
                                   "authority": "y"})
        assert r.status_code == 403
    with client(archive_root) as c:
        sign_in(c, "arch")
        assert 'id="place-hold"' in c.get("/holds").text
        r = c.post("/holds", data={"csrf": csrf_of(c, "/holds"), "records": office["plain"], "reason": "诉讼"})
        assert r.status_code == 400 and "authority" in r.text and 'value="诉讼"' in r.text   # kept in the form
        r = c.post("/holds", data={"csrf": csrf_of(c, "/holds"), "records": office["plain"], "reason": "诉讼",
                                   "authority": "区法院"})
        assert r.status_code == 201 and "已保全 1 件" in r.text
        hid = re.search(r'data-hold="(h[0-9a-f]+)"', r.text).group(1)
        assert "保全中" in r.text and f'/holds/{hid}/release' in r.text
        r = c.post(f"/holds/{hid}/release", data={"csrf": csrf_of(c, "/holds"), "reason": "结案"},
                   follow_redirects=True)
        assert r.status_code == 200 and f'/holds/{hid}/release' not in r.text and "解除保全" not in r.text.split(
            f'data-hold="{hid}"')[1].split("</tr>")[0]
    assert [(e["object"], e["actor"]) for e in audit(cli, "hold.release")] == [(hid, "arch")]
    assert audit(cli, "hold.add")[-1]["details"]["session"] == "web:arch"
