"""The index a server thread keeps open between searches (``core.search.held_index``): the same index object
serves search after search, sees what is filed meanwhile (by this process or another), and is replaced when
the index is rebuilt from scratch (an earlier schema); a command's archive opens and closes it each time, as before."""
from __future__ import annotations

import json
from pathlib import Path

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.search.held_index import _KEPT, release
from dangan.core.service.search import search
from dangan.index.common import MARKER


def _file(cli, tmp: Path, name: str, text: str) -> None:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--title", name)


def test_a_kept_index_serves_many_searches_sees_new_records_and_a_rebuild(cli, archive_root, tmp_path):
    _file(cli, tmp_path, "一号.txt", "档案管理 第一份")
    server = Archive(archive_root, Actor("tester", "tester"))
    server.keep_search_index = True
    try:
        assert search(server, "档案管理").total == 1
        kept = server.__dict__[_KEPT][1]
        _file(cli, tmp_path, "二号.txt", "档案管理 第二份")                # another archive object files it
        assert search(server, "档案管理").total == 2
        assert server.__dict__[_KEPT][1] is kept                          # the same index, reloaded
        cli("reindex")                                                     # rebuilt in place: cleared, refilled
        assert search(server, "档案管理").total == 2 and server.__dict__[_KEPT][1] is kept
        marker = archive_root / "index" / "tantivy" / MARKER               # an index of an earlier schema:
        marker.write_text(json.dumps({"engine": "tantivy", "schema": 1, "analysis": "analysis_v1"}))
        _file(cli, tmp_path, "三号.txt", "档案管理 第三份")                # its files removed, built anew
        assert search(server, "档案管理").total == 3
        assert server.__dict__[_KEPT][1] is not kept                      # opened again after the rebuild
    finally:
        release(server)
        assert _KEPT not in server.__dict__
        server.close()
    command = Archive(archive_root, Actor("tester", "tester"))             # a command keeps nothing
    try:
        assert search(command, "第三份").total == 1 and _KEPT not in command.__dict__
    finally:
        command.close()
