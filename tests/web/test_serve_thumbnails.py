"""Thumbnails on result lists and record pages: served by a route that asks the policy point (a refusal audited
as a view is), a 404 for a record without one, nothing of a sealed record."""
from __future__ import annotations

import io
import json

from cli_helpers import audit
from serve_helpers import client, sign_in, token
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def _image_record(cli, tmp_path, secrecy: str | None = None) -> str:
    """A text PDF of the corpus (a scanned image becomes a PDF/A copy, which keeps no thumbnail yet)."""
    import shutil

    from conftest import CORPUS
    p = tmp_path / ("扫描件-" + (secrecy or "plain") + ".pdf")
    shutil.copyfile(CORPUS / "pdf-text/crazyones.pdf", p)
    extra = ("--secrecy", secrecy) if secrecy else ()
    out = cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--title", "扫描图片 照片",
              *extra, "--json", user="arch").output
    return json.loads(out.splitlines()[0])["record_id"]


def test_a_result_list_and_a_record_page_show_the_thumbnail(cli, office, archive_root, tmp_path):
    from PIL import Image
    rid = _image_record(cli, tmp_path)
    with client(archive_root) as c:
        sign_in(c, "clerk")
        page = c.get("/search", params={"q": "扫描图片"}).text
        assert f'src="/records/{rid}/thumbnail"' in page
        assert f'/records/{office["plain"]}/thumbnail' not in page            # a text record asks for none
        assert 'id="record-thumbnail"' in c.get(f"/records/{rid}").text
        r = c.get(f"/records/{rid}/thumbnail")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        im = Image.open(io.BytesIO(r.content))
        assert max(im.size) == 256 and im.size[1] > im.size[0]                 # the first page, upright, scaled
        assert len(im.convert("L").getcolors(65536) or []) > 2                 # drawn, not blank
        assert c.get(f"/records/{office['plain']}/thumbnail").status_code == 404
        api = c.get(f"/api/v1/records/{rid}/thumbnail", headers={"Authorization": "Bearer " + token(cli, "clerk", "read")})
        assert api.status_code == 200 and api.content == r.content


def test_a_thumbnail_is_refused_as_a_view_is(cli, office, archive_root, tmp_path):
    rid = _image_record(cli, tmp_path)
    with client(archive_root) as c:
        assert c.get(f"/records/{rid}/thumbnail", follow_redirects=False).status_code == 303   # anonymous: sign in
        sign_in(c, "clerk")                                                    # may view it
        assert c.get(f"/records/{rid}/thumbnail").status_code == 200
        r = c.get(f"/records/{office['secret']}/thumbnail")                    # above clearance
        assert r.status_code == 403 and "机密" not in r.text
    with client(archive_root) as c:
        sign_in(c, "mgr")                                                      # cleared, volume locked: sealed, none
        assert c.get(f"/records/{office['secret']}/thumbnail").status_code == 404
    denied = [e for e in audit(cli, "access.view") if e["object"] == office["secret"]]
    assert [(e["actor"], e["outcome"]) for e in denied] == [("clerk", "denied")]
