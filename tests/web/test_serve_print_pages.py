"""Print pages of the registers (issue 19.4): the lending register (借阅登记簿) and a destruction list (销毁清册)
as web pages laid out from the same form as the PDF, printed by a real browser (Chromium's print to PDF, print
CSS applied): the form's title, columns, rows and signature lines on paper, the navigation not."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cli_helpers import audit
from serve_helpers import client, sign_in
from test_serve_browser import CHROMIUM, DRIVER, Page, browser, server  # noqa: F401  (fixtures)
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


@pytest.fixture
def registers(cli, office, tmp_path):
    """A loan of the plain record issued to clerk, and a destruction list of a record due since 2011."""
    loan = json.loads(cli("lend", "request", office["plain"], "--purpose", "核对制度", "--json",
                          user="clerk").output)["loan"]
    cli("lend", "approve", loan, user="head")
    cli("lend", "issue", loan, user="arch")
    p = tmp_path / "旧通知.txt"
    p.write_text("二〇〇一年的旧通知", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2001-01-01", "--retention",
                         "D10", "--title", "旧通知", "--json", user="arch").output)["record_id"]
    lid = json.loads(cli("disposition", "propose", rid, "--reason", "保管期满", "--json", user="arch").output)["list"]
    code = json.loads(cli("show", office["plain"], "--json", user="arch").output)["archival_code"]
    old = json.loads(cli("show", rid, "--json", user="arch").output)["archival_code"]
    return {"loan": loan, "list": lid, "code": code, "old_code": old, "old": rid}


def cells(html: str, tag: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, re.S)]


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    p = tmp_path / "page.pdf"
    p.write_bytes(pdf)
    return "".join(subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())


def test_the_register_pages_carry_the_pdf_forms_layout(cli, registers, archive_root, tmp_path):
    from dangan.core.management.forms.destruction_list import COLUMNS as LIST_COLUMNS
    from dangan.core.management.forms.lending_register import COLUMNS as REGISTER_COLUMNS
    with client(archive_root) as c:
        sign_in(c, "arch")
        r = c.get("/loans/register/print")
        assert r.status_code == 200 and "档案借阅登记簿" in r.text
        grid = r.text[r.text.index('class="sheet-grid"'):]
        assert cells(grid[:grid.index("</thead>")], "th") == REGISTER_COLUMNS
        assert registers["loan"] in r.text and registers["code"] in r.text and "已出借" in r.text
        assert "登记人（签字）：" in r.text and "/static/sheet.css" in r.text
        assert 'id="register-print"' in c.get("/loans").text                       # linked from the loans page
        r = c.get(f"/disposition/{registers['list']}/print")
        assert r.status_code == 200 and "档案销毁清册" in r.text
        grid = r.text[r.text.index('class="sheet-grid"'):]
        assert cells(grid[:grid.index("</thead>")], "th") == LIST_COLUMNS
        assert registers["old_code"] in r.text and "旧通知" in r.text and "保管期满" in r.text
        for role in ("鉴定小组", "档案部门负责人", "单位负责人（审批）"):
            assert f"{role}（签字）：" in r.text
        assert f'href="/disposition/{registers["list"]}/list.pdf"' in r.text
        assert f'id="list-print" href="/disposition/{registers["list"]}/print"' in \
            c.get(f"/disposition/{registers['list']}").text
        assert c.get("/disposition/NO-SUCH/print").status_code == 404
    # the PDF of the same form says the same: title, every column, the row
    out = tmp_path / "register.pdf"
    cli("lend", "register", "--format", "pdf", "-o", out, user="arch")
    text = pdf_text(out.read_bytes(), tmp_path)
    assert "档案借阅登记簿" in text and all(col.replace("/", "") in text.replace("/", "") for col in REGISTER_COLUMNS)
    assert registers["loan"] in text and "登记人（签字）" in text
    printed = [e for e in audit(cli, "form.print") if e["details"].get("format") == "html"]
    assert {e["details"]["form"] for e in printed} == {"lending-register", "destruction-list"}


def test_the_print_pages_need_a_session(archive_root):
    with client(archive_root) as c:
        r = c.get("/loans/register/print", follow_redirects=False)
        assert r.status_code == 303 and "/login" in r.headers["location"]


@pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()), reason="no chromium")
def test_a_browser_prints_the_destruction_list_as_the_form(browser, server, registers, tmp_path):  # noqa: F811
    import base64
    p = Page(browser, server, tmp_path)
    p.sign_in("arch")
    p.go(f"/disposition/{registers['list']}/print")
    assert p.css("#sheet .sheet-title").text == "档案销毁清册"
    assert p.css("#print-sheet").is_displayed() and p.css("header.top").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not p.css("#print-sheet").is_displayed() and not p.css("header.top").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    (tmp_path / "printed.pdf").write_bytes(pdf)
    text = pdf_text(pdf, tmp_path)
    assert "档案销毁清册" in text and registers["old_code"] in text and "旧通知" in text
    assert "鉴定小组（签字）" in text and "单位负责人（审批）（签字）" in text
    assert "打印Print" not in text and "检索" not in text                          # no tools, no navigation
    info = subprocess.run(["pdfinfo", str(tmp_path / "printed.pdf")], capture_output=True, text=True,
                          check=True).stdout
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert w > h and abs(w - 841.9) < 3                                             # A4 landscape, as the PDF form
    p.go("/loans/register/print")
    assert registers["loan"] in p.css("#sheet").text


def test_the_other_forms_have_print_pages_too(cli, registers, office, archive_root):
    from dangan.core.management.forms.contents_list import COLUMNS as CONTENTS_COLUMNS
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.get("/volumes/WS·2021·BGS/sheet/contents-list")
        assert r.status_code == 200 and "卷内文件目录" in r.text and "档案管理会议纪要" in r.text
        grid = r.text[r.text.index('class="sheet-grid"'):]
        assert cells(grid[:grid.index("</thead>")], "th") == list(CONTENTS_COLUMNS)
        assert "卷内备考表" in c.get("/volumes/WS·2021·BGS/sheet/reference-sheet").text
        assert c.get("/volumes/WS·2021·BGS/sheet/cover").status_code == 200
        assert c.get("/volumes/WS·2021·BGS/sheet/labels").status_code == 404
        assert 'href="/volumes/WS%C2%B72021%C2%B7BGS/sheet/contents-list"' in c.get("/volumes/WS·2021·BGS").text
        r = c.get("/volumes/V/sheet/contents-list")                            # above the clerk's clearance
        assert r.status_code == 403 and "sheet-grid" not in r.text
        r = c.get(f"/loans/{registers['loan']}/slip")
        assert r.status_code == 200 and registers["loan"] in r.text and "借阅" in r.text
    with client(archive_root) as c:
        sign_in(c, "arch")
        r = c.get(f"/disposition/{registers['list']}/certificate")                 # not executed yet
        assert r.status_code != 200 and "once executed" in r.text and "sheet-grid" not in r.text
    forms = {e["details"]["form"] for e in audit(cli, "form.print") if e["details"].get("format") == "html"}
    assert forms >= {"contents-list", "reference-sheet", "cover", "lending-slip"}
