"""The index a server keeps open between searches (``core.search.held_index``): one index object serves
search after search from every server archive (thread), sees what is filed meanwhile (by this process or
another), and is replaced when the index is rebuilt from scratch (an earlier schema); a command's archive
opens and closes it each time, as before."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.search.held_index import kept_index, release_all
from dangan.core.service.search import search
from dangan.index.common import MARKER


def _file(cli, tmp: Path, name: str, text: str) -> None:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--title", name)


def _server_archive(root: Path) -> Archive:
    a = Archive(root, Actor("tester", "tester"))
    a.keep_search_index = True
    return a


def test_a_kept_index_serves_many_searches_sees_new_records_and_a_rebuild(cli, archive_root, tmp_path):
    _file(cli, tmp_path, "一号.txt", "档案管理 第一份")
    server, other = _server_archive(archive_root), _server_archive(archive_root)
    try:
        assert search(server, "档案管理").total == 1
        kept = kept_index(server)
        assert kept is not None
        _file(cli, tmp_path, "二号.txt", "档案管理 第二份")                # another archive object files it
        totals = []
        threads = [threading.Thread(target=lambda: totals.append(search(other, "档案管理").total))]
        threads[0].start()
        threads[0].join()
        assert search(server, "档案管理").total == 2 and totals == [2]
        assert kept_index(server) is kept and kept_index(other) is kept   # one index, reloaded, for both
        cli("reindex")                                                     # rebuilt in place: cleared, refilled
        assert search(server, "档案管理").total == 2 and kept_index(server) is kept
        marker = archive_root / "index" / "tantivy" / MARKER               # an index of an earlier schema:
        marker.write_text(json.dumps({"engine": "tantivy", "schema": 1, "analysis": "analysis_v1"}))
        _file(cli, tmp_path, "三号.txt", "档案管理 第三份")                # its files removed, built anew
        assert search(server, "档案管理").total == 3
        assert kept_index(server) is not kept                             # opened again after the rebuild
        assert search(other, "第三份").total == 1
    finally:
        release_all()
        assert kept_index(server) is None
        server.close()
        other.close()
    command = Archive(archive_root, Actor("tester", "tester"))             # a command keeps nothing
    try:
        assert search(command, "第三份").total == 1 and kept_index(command) is None
    finally:
        command.close()
