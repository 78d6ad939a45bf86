"""/api/v1/loans and /api/v1/holds: the lending walk and legal holds as business systems drive them — staff
requests, the head approves, the archivist issues and takes back item by item, legal holds placed and
released — through the same core calls as the CLI: the same roles, 422/403/404/409 as the issue says, the
same audit events (a walk by the CLI and the same walk by the API over a real ``dangan serve`` process)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli_helpers import audit
from serve_helpers import SECRET_TITLE, client, token
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def _bearer(cli, user: str, scope: str = "read,lend") -> dict:
    return {"Authorization": "Bearer " + token(cli, user, scope)}


def test_the_lending_walk_through_the_api(cli, office, archive_root):
    plain, other = office["plain"], office["other"]
    staff, head, arch = _bearer(cli, "clerk"), _bearer(cli, "head"), _bearer(cli, "arch")
    with client(archive_root) as c:
        r = c.post("/api/v1/loans", headers=staff, json={"records": [plain, other], "purpose": ""})
        assert r.status_code == 422 and "purpose" in r.json()["error"]               # a rule refused the content
        r = c.post("/api/v1/loans", headers=staff, json={"records": [plain], "purpose": "核对", "days": 4000})
        assert r.status_code == 422 and "lending limit" in r.json()["error"]
        r = c.post("/api/v1/loans", headers=staff, json={"records": "not a list", "purpose": "核对"})
        assert r.status_code == 400                                                  # no JSON of the shape
        r = c.post("/api/v1/loans", headers=staff, json={"records": ["nosuchrecord"], "purpose": "核对"})
        assert r.status_code == 404
        r = c.post("/api/v1/loans", headers=staff, json={"records": [plain, other], "purpose": "核对制度", "days": 5})
        assert r.status_code == 201 and r.json()["status"] == "requested", r.text
        lid = r.json()["id"]
        assert r.headers["location"] == f"/api/v1/loans/{lid}"
        assert c.get(f"/api/v1/loans/{lid}", headers=staff).json()["borrower"] == "clerk"
        assert c.get("/api/v1/loans/B0-nosuch", headers=staff).status_code == 404
        r = c.post(f"/api/v1/loans/{lid}/approve", headers=staff, json={})
        assert r.status_code == 403 and "own loan" in r.json()["error"]             # never one's own
        r = c.post(f"/api/v1/loans/{lid}/issue", headers=arch, json={"records": [plain]})
        assert r.status_code == 409                                                  # not approved yet
        r = c.post(f"/api/v1/loans/{lid}/approve", headers=head, json={"note": "同意"})
        assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "head"
        assert c.post(f"/api/v1/loans/{lid}/approve", headers=head, json={}).status_code == 409
        r = c.post(f"/api/v1/loans/{lid}/issue", headers=head, json={"records": [plain]})
        assert r.status_code == 403                                                  # a head does not issue
        r = c.post(f"/api/v1/loans/{lid}/issue", headers=arch, json={"records": [plain]})
        assert r.status_code == 200 and r.json()["status"] == "issued"
        issued = {i["record_id"]: i["issued_at"] for i in r.json()["items"]}
        assert issued[plain] and not issued[other]                                   # item by item
        r = c.post(f"/api/v1/loans/{lid}/issue", headers=arch, json={"records": [plain]})
        assert r.status_code == 422 and "issued already" in r.json()["error"]
        r = c.post(f"/api/v1/loans/{lid}/return", headers=arch, json={"records": [other]})
        assert r.status_code == 422 and "never issued" in r.json()["error"]
        assert c.post(f"/api/v1/loans/{lid}/issue", headers=arch, json={}).status_code == 200   # the rest
        r = c.post(f"/api/v1/loans/{lid}/return", headers=arch, json={"records": [plain], "condition": "完好"})
        assert r.status_code == 200 and r.json()["status"] == "issued" and r.json()["received"] == [plain]
        r = c.post(f"/api/v1/loans/{lid}/return", headers=staff, json={"records": [other]})
        assert r.status_code == 403                                                  # staff do not receive
        r = c.post(f"/api/v1/loans/{lid}/return", headers=arch, json={"all": True})
        assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["received"] == [other]
        second = c.post("/api/v1/loans", headers=staff, json={"records": [plain], "purpose": "再看"}).json()["id"]
        r = c.post(f"/api/v1/loans/{second}/refuse", headers=head, json={})
        assert r.status_code == 422 and "reason" in r.json()["error"]
        r = c.post(f"/api/v1/loans/{second}/refuse", headers=head, json={"reason": "不必要"})
        assert r.status_code == 200 and r.json()["status"] == "refused"
        r = c.post(f"/api/v1/loans/{lid}/approve", headers=_bearer(cli, "head", "read"), json={})
        assert r.status_code == 403 and "lend" in r.json()["error"]                  # the token lacks the scope
    loan = json.loads(cli("lend", "list", "--status", "returned", "--json", user="boss").output)
    assert loan["id"] == lid and loan["decided_by"] == "head"
    returned = [e for e in audit(cli, "lend.return") if e["details"]["loan"] == lid]
    assert [(e["object"], e["actor"], e["details"]["session"]) for e in returned] == [
        (plain, "arch", "web:arch"), (other, "arch", "web:arch")]


def test_a_secret_loan_is_refused_without_its_title(cli, office, archive_root):
    """The policy point answers the API as it answers the CLI: staff below the marking cannot ask for the
    record (403, its id but no title), and the refusal is audited."""
    with client(archive_root) as c:
        r = c.post("/api/v1/loans", headers=_bearer(cli, "clerk"), json={"records": [office["secret"]],
                                                                          "purpose": "看看"})
        assert r.status_code == 403 and SECRET_TITLE not in r.text and office["secret"] in r.text
    denied = [e for e in _all_events(cli) if e["outcome"] == "denied" and e["actor"] == "clerk"]
    assert [e["object"] for e in denied] == [office["secret"]]                  # audited as on the CLI
    assert SECRET_TITLE not in json.dumps(denied, ensure_ascii=False)


def test_holds_through_the_api(cli, office, archive_root):
    arch = _bearer(cli, "arch", "read,hold")
    with client(archive_root) as c:
        body = {"records": [office["plain"]], "reason": "诉讼", "authority": "区法院 (2026) 民初 1 号"}
        r = c.post("/api/v1/holds", headers=_bearer(cli, "arch", "read,lend"), json=body)
        assert r.status_code == 403 and "hold" in r.json()["error"]                  # no hold scope
        r = c.post("/api/v1/holds", headers=_bearer(cli, "clerk", "read,hold"), json=body)
        assert r.status_code == 403                                                  # staff place no holds
        assert c.post("/api/v1/holds", headers=arch, json={**body, "authority": ""}).status_code == 422
        assert c.post("/api/v1/holds", headers=arch, json={**body, "records": ["nosuchrecord"]}).status_code == 404
        r = c.post("/api/v1/holds", headers=arch, json=body)
        assert r.status_code == 201 and r.json()["records"] == [office["plain"]], r.text
        hid = r.json()["id"]
        assert [h["id"] for h in c.get("/api/v1/holds", headers=arch).json()] == [hid]
        r = c.post("/api/v1/holds", headers=arch, json={"volume": "V", "reason": "审计", "authority": "审计署"})
        assert r.status_code == 201 and r.json()["records"] == [office["secret"]] and SECRET_TITLE not in r.text
        vid = r.json()["id"]
        assert c.post(f"/api/v1/holds/{hid}/release", headers=arch, json={}).status_code == 422
        assert c.post("/api/v1/holds/hnosuch/release", headers=arch, json={"reason": "x"}).status_code == 404
        r = c.post(f"/api/v1/holds/{hid}/release", headers=arch, json={"reason": "结案"})
        assert r.status_code == 200 and r.json()["released_by"] == "arch"
        r = c.post(f"/api/v1/holds/{hid}/release", headers=arch, json={"reason": "结案"})
        assert r.status_code == 422 and "released already" in r.json()["error"]
        assert [h["id"] for h in c.get("/api/v1/holds", headers=arch).json()] == [vid]
        assert {h["id"] for h in c.get("/api/v1/holds?all=1", headers=arch).json()} == {hid, vid}
        paths = c.get("/api/v1/openapi.json").json()["paths"]
        for path in ("/api/v1/loans", "/api/v1/loans/{lid}/approve", "/api/v1/loans/{lid}/refuse",
                     "/api/v1/loans/{lid}/issue", "/api/v1/loans/{lid}/return", "/api/v1/holds",
                     "/api/v1/holds/{hid}/release"):
            assert {"422", "403", "404"} <= set(paths[path]["post"]["responses"]), path
    r = cli("revise", office["secret"], "--title", "x", user="boss", ok=False)       # the hold binds the CLI too
    assert r.exit_code != 0
    held = [e for e in audit(cli, "hold.add")]
    assert [(e["object"], e["actor"]) for e in held] == [(hid, "arch"), (vid, "arch")]
    assert [e["object"] for e in audit(cli, "hold.release")] == [hid]


# -- the same walk by the CLI and by the API over a real server: the same audit events ------------------

def _walk_events(cli, lid: str) -> list[tuple]:
    """The audit events of one loan's walk, normalised: the loan id, the face's session and times dropped."""
    out = []
    for e in _all_events(cli):
        d = dict(e.get("details") or {})
        if not (e["object"] == lid or d.get("loan") == lid):
            continue
        for k in ("session", "via", "due", "loan"):
            d.pop(k, None)
        out.append((e["action"], e["actor"], e["outcome"], "LOAN" if e["object"] == lid else e["object"],
                    json.dumps(d, sort_keys=True, ensure_ascii=False).replace(lid, "LOAN")))
    return out


def _all_events(cli) -> list[dict]:
    return [json.loads(x) for x in cli("audit", "log", "--json", user="boss").output.splitlines()]


def _serve(archive_root: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dangan = Path(sys.executable).with_name("dangan")
    env = {**os.environ, "DANGAN_ARCHIVE": str(archive_root)}
    proc = subprocess.Popen([str(dangan), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("dangan serve did not answer /healthz")


def test_the_cli_and_the_api_leave_the_same_audit_events(cli, office, archive_root):
    plain, other = office["plain"], office["other"]
    out = cli("lend", "request", plain, other, "--purpose", "核对制度", "--days", "5", "--json", user="clerk").output
    by_cli = json.loads(out)["loan"]
    assert cli("lend", "approve", by_cli, user="clerk", ok=False).exit_code != 0
    cli("lend", "approve", by_cli, "--note", "同意", user="head")
    cli("lend", "issue", by_cli, plain, user="arch")
    cli("lend", "issue", by_cli, other, user="arch")
    cli("lend", "return", by_cli, plain, "--condition", "完好", user="arch")
    cli("lend", "return", by_cli, other, "--condition", "完好", user="arch")
    staff, head, arch = _bearer(cli, "clerk"), _bearer(cli, "head"), _bearer(cli, "arch")
    proc, base = _serve(archive_root)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/api/v1/loans", headers=staff, json={"records": [plain, other], "purpose": "核对制度", "days": 5})
            assert r.status_code == 201, r.text
            by_api = r.json()["id"]
            assert c.post(f"/api/v1/loans/{by_api}/approve", headers=staff, json={}).status_code == 403
            assert c.post(f"/api/v1/loans/{by_api}/approve", headers=head, json={"note": "同意"}).status_code == 200
            for rid in (plain, other):
                assert c.post(f"/api/v1/loans/{by_api}/issue", headers=arch, json={"records": [rid]}).status_code == 200
            for rid in (plain, other):
                r = c.post(f"/api/v1/loans/{by_api}/return", headers=arch, json={"records": [rid], "condition": "完好"})
                assert r.status_code == 200
            assert r.json()["status"] == "returned"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    cli_events, api_events = _walk_events(cli, by_cli), _walk_events(cli, by_api)
    assert len(cli_events) >= 8 and ("access.denied", "clerk", "denied") in {e[:3] for e in cli_events}
    assert api_events == cli_events
    sessions = {e["details"].get("session") for e in _all_events(cli)
                if e["object"] == by_api and e["action"].startswith("lend.")}
    assert sessions <= {"web:clerk", "web:head", "web:arch"} and "web:head" in sessions
