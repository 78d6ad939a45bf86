"""/api/v1 for business systems: tokens and scopes, search, records, files, ingest with Idempotency-Key, 422s;
and the lending workflow through the pages (staff requests, the head approves, the archivist issues and
takes back item by item)."""
from __future__ import annotations

import json
import re
import sqlite3

from cli_helpers import audit
from serve_helpers import client, csrf_of, sign_in, token
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def _bearer(cli, user="clerk", scope="read,ingest"):
    return {"Authorization": "Bearer " + token(cli, user, scope)}


def test_search_answers_the_fixed_shape_and_finds_traditional_with_simplified(cli, office, archive_root):
    h = _bearer(cli)
    with client(archive_root) as c:
        r = c.get("/api/v1/search", params={"q": "档案", "limit": 1, "page": 1}, headers=h)
        body = r.json()
        assert r.status_code == 200 and body["total"] >= 2 and len(body["hits"]) == 1
        assert {"id", "archival_code", "title"} <= set(body["hits"][0])
        ids = {x["id"] for x in c.get("/api/v1/search", params={"q": "檔案管理"}, headers=h).json()["hits"]}
        assert office["plain"] in ids                                   # 檔案 (traditional) matches 档案
        assert c.get("/api/v1/search", params={"q": "dept:"}, headers=h).status_code == 400
        doc = c.get("/api/v1/openapi.json").json()
        assert doc["openapi"].startswith("3.") and "/api/v1/records/{rid}/files/{n}" in doc["paths"]


def test_records_files_and_download(cli, office, archive_root):
    h = _bearer(cli)
    with client(archive_root) as c:
        rec = c.get(f"/api/v1/records/{office['plain']}", headers=h).json()
        assert rec["title"] == "档案管理会议纪要" and rec["archival_code"].startswith("Z109-WS·2021")
        files = c.get(f"/api/v1/records/{office['plain']}/files", headers=h).json()
        assert files[0]["n"] == 1 and files[0]["role"] == "main"
        r = c.get(f"/api/v1/records/{office['plain']}/files/1", headers=h)
        assert r.content == "檔案管理制度 会议纪要正文".encode() and "attachment" in r.headers["content-disposition"]
        assert c.get("/api/v1/records/nosuchrecord", headers=h).status_code == 404
        assert len(c.get(f"/api/v1/records/{office['plain']}/versions", headers=h).json()) == 1
    ev = [e for e in audit(cli, "record.retrieve") if e["object"] == office["plain"]]
    assert ev[-1]["details"]["via"] == "api" and ev[-1]["actor"] == "clerk"


def test_tokens_scopes_revocation_and_expiry(cli, office, archive_root):
    read_only = token(cli, "clerk", "read")
    with client(archive_root) as c:
        r = c.post("/api/v1/records", headers={"Authorization": f"Bearer {read_only}"},
                   files={"file": ("a.txt", b"abc")}, data={"title": "x"})
        assert r.status_code == 403 and "ingest" in r.json()["error"]
        assert c.get("/api/v1/search?q=x", headers={"Authorization": "Bearer dgn_nothing_here"}).status_code == 401
        assert c.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {read_only}x"}).status_code == 401
        assert c.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {read_only}"}).status_code == 200
        tid = read_only.split("_")[1]
        assert tid in cli("token", "list", user="boss").output
        assert read_only not in cli("token", "list", "--json", user="boss").output   # never shown again
        r = cli("token", "create", "clerk", "--scope", "read", user="clerk", ok=False)
        assert r.exit_code == 7                                                     # an admin creates tokens
        cli("token", "revoke", tid, user="boss")
        assert c.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {read_only}"}).status_code == 401
        other = token(cli, "head", "read")
        conn = sqlite3.connect(archive_root / "catalogue.sqlite")
        conn.execute("UPDATE api_tokens SET expires = '2001-01-01T00:00:00Z' WHERE id = ?", (other.split("_")[1],))
        conn.commit()
        conn.close()
        assert c.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert [e["details"]["token"] for e in audit(cli, "token.revoke")] == [tid]


def test_ingest_is_idempotent_and_validation_refusals_are_422(cli, office, archive_root):
    h = _bearer(cli, "arch")
    fields = {"title": "保单客户资料", "department": "KFB", "category": "KX-YB", "date": "2024-05-06"}
    with client(archive_root) as c:
        r = c.post("/api/v1/records", headers=h, files={"file": ("客户.txt", "客户资料".encode())}, data=fields)
        assert r.status_code == 422 and "customer_name" in r.json()["error"]           # the plugin's message
        assert "/dev/shm" not in r.json()["error"]
        data = {**fields, "meta": "customer_name=张三"}
        key = {**h, "Idempotency-Key": "order-2024-0001"}
        first = c.post("/api/v1/records", headers=key, files={"file": ("客户.txt", "客户资料".encode())}, data=data)
        assert first.status_code == 201, first.text
        again = c.post("/api/v1/records", headers=key, files={"file": ("客户.txt", "客户资料".encode())}, data=data)
        assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
        assert again.json()["id"] == first.json()["id"]
        r = c.post("/api/v1/records", headers=key, files={"file": ("客户.txt", "别的内容".encode())}, data=data)
        assert r.status_code == 400 and "different request" in r.json()["error"]
        r = c.post("/api/v1/records", headers=h, files={"file": ("客户.txt", "客户资料".encode())}, data=data)
        assert r.status_code == 409                                            # without a key: a duplicate
    filed = [e for e in audit(cli, "record.ingest") if e["object"] == first.json()["id"]]
    assert len(filed) == 1


def _loan_row(html: str, lid: str) -> str:
    return re.search(rf'<tr class="loan" data-loan="{lid}">.*?</tr>', html, re.S).group(0)


def test_the_lending_workflow_through_the_pages(cli, office, archive_root):
    plain, other = office["plain"], office["other"]
    def staff_view():
        with client(archive_root) as s:
            sign_in(s, "clerk")
            return s.get("/loans").text

    with client(archive_root) as staff:
        sign_in(staff, "clerk")
        r = staff.post("/loans", data={"csrf": csrf_of(staff), "records": f"{plain} {other}", "purpose": "核对制度"})
        assert r.status_code == 200 and "我的借阅申请" in r.text
        lid = re.search(r'data-loan="(B[0-9]+-[0-9a-f]+)"', r.text).group(1)
        assert "已申请" in _loan_row(r.text, lid)
        r = staff.post(f"/loans/{lid}/approve", data={"csrf": csrf_of(staff, "/loans")})
        assert r.status_code == 403                                     # not one's own loan, not staff's to approve
    with client(archive_root) as head:
        sign_in(head, "head")
        page = head.get("/loans").text
        assert 'id="queue"' in page and lid in page
        r = head.post(f"/loans/{lid}/approve", data={"csrf": csrf_of(head, "/loans")})
        assert r.status_code == 200 and lid not in r.text                   # out of the queue
        assert "已批准" in _loan_row(staff_view(), lid)
        r = head.post(f"/loans/{lid}/issue", data={"csrf": csrf_of(head, "/loans"), "record": plain})
        assert r.status_code == 403                                     # a head does not issue
    with client(archive_root) as arch:
        sign_in(arch, "arch")
        for rid in (plain, other):
            r = arch.post(f"/loans/{lid}/issue", data={"csrf": csrf_of(arch, "/loans"), "record": rid})
            assert r.status_code == 200
        assert "已出借" in _loan_row(r.text, lid)
        r = arch.post(f"/loans/{lid}/return", data={"csrf": csrf_of(arch, "/loans"), "record": plain,
                                                     "condition": "完好"})
        assert "已出借" in _loan_row(r.text, lid)                          # one item is still out
        r = arch.post(f"/loans/{lid}/return", data={"csrf": csrf_of(arch, "/loans"), "record": plain})
        assert r.status_code == 400 and "returned already" in r.text
        r = arch.post(f"/loans/{lid}/return", data={"csrf": csrf_of(arch, "/loans"), "record": other})
        assert r.status_code == 200 and "已归还" in _loan_row(staff_view(), lid)
    loan = json.loads(cli("lend", "list", "--json", user="boss").output)
    assert loan["status"] == "returned" and loan["decided_by"] == "head"
    ev = {e["action"]: e for e in audit(cli, "lend.approve") + audit(cli, "lend.issue")}
    assert ev["lend.approve"]["actor"] == "head" and ev["lend.approve"]["details"]["session"] == "web:head"


def test_a_confidential_upload_leaves_no_plaintext_on_disk(cli, office, archive_root, tmp_path):
    """Filed into the sealed volume V through the API: the catalogue, the store, the index, the spool and the
    temporary folder hold no trace of its text or its name; the archivist lists only its marking."""
    import tempfile
    from pathlib import Path

    from leak_helpers import grep
    marker = "绝密上传正文MARKER7741"
    h = _bearer(cli, "arch")
    with client(archive_root) as c:
        r = c.post("/api/v1/records", headers=h, data={"title": "绝密上传题名QX", "volume": "V", "category": "WS",
                                                        "department": "BGS", "date": "2021-02-02"},
                   files={"file": ("绝密上传文件名.txt", marker.encode())})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert r.json() == {"id": rid, "secrecy": "secret", "visible": False}     # above arch's own clearance
    from dangan.core.kernel import memory_tmp
    spools = list(Path("/dev/shm").glob(memory_tmp.prefix("upload") + "*"))    # this process's (other runs may share /dev/shm)
    assert not spools
    roots = [archive_root, Path(tempfile.gettempdir()) / "dangan-upload-never"]
    assert grep(marker, roots) == [] and grep("绝密上传题名QX", [archive_root]) == []
    assert grep("绝密上传文件名", [archive_root]) == []
    shown = json.loads(cli("show", rid, "--json", user="boss").output)
    assert shown["locked"] is True and shown["secrecy"] == "secret"


def test_loans_and_dispositions_through_the_api(cli, office, archive_root):
    h = _bearer(cli, "clerk", "read,lend")
    with client(archive_root) as c:
        r = c.post("/api/v1/loans", headers=h, json={"records": [office["plain"]], "purpose": "核对", "days": 3})
        assert r.status_code == 201 and r.json()["status"] == "requested" and r.json()["borrower"] == "clerk"
        r = c.post("/api/v1/loans", headers=h, json={"records": [office["secret"]], "purpose": "看看"})
        assert r.status_code == 403 and "机密标题" not in r.text
        assert c.post("/api/v1/loans", headers=h, content=b"not json").status_code == 400
        loans = c.get("/api/v1/loans", headers=h).json()
        assert [x["status"] for x in loans] == ["requested"]
        d = c.get("/api/v1/dispositions", headers=h).json()
        assert d["lists"] == [] and isinstance(d["due"], list)
        r = c.post("/api/v1/loans", headers=_bearer(cli, "clerk", "read"), json={"records": [], "purpose": "x"})
        assert r.status_code == 403                                            # no lend scope
