"""The printed forms in the web UI: the same PDFs as `dangan print`, within the user's clearance, audited."""
from __future__ import annotations

import subprocess

from cli_helpers import audit
from serve_helpers import SECRET_TITLE, client, sign_in
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def text_of(pdf: bytes, tmp_path) -> str:
    p = tmp_path / "f.pdf"
    p.write_bytes(pdf)
    return "".join(subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())


def test_a_volumes_forms_print_from_the_web_as_pdf(cli, office, archive_root, tmp_path):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.get("/volumes/WS·2021·BGS/print/contents-list")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("inline")
        text = text_of(r.content, tmp_path)
        assert "卷内文件目录" in text and "档案管理会议纪要" in text
        for form in ("reference-sheet", "cover", "labels", "stamp"):
            assert c.get(f"/volumes/WS·2021·BGS/print/{form}").content.startswith(b"%PDF")
        assert c.get("/volumes/WS·2021·BGS/print/nonsense").status_code == 404
        r = c.get("/volumes/V/print/contents-list")                          # above the clerk's clearance
        assert r.status_code == 403 and not r.content.startswith(b"%PDF") and SECRET_TITLE not in r.text
    assert any(e["details"]["form"] == "contents-list" and e["actor"] == "clerk"
               for e in audit(cli, "form.print"))


def test_forms_need_a_session(archive_root):
    with client(archive_root) as c:
        r = c.get("/volumes/WS·2021·BGS/print/cover", follow_redirects=False)
        assert r.status_code == 303 and "/login" in r.headers["location"]
