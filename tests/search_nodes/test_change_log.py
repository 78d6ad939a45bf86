"""The change log on the embedded catalogue (catalogue.sqlite): one folder is one node, and the outbox behaves as it
always did (empty after a drain); its cursor, retention and a node's rebuild when the log was pruned past it.
"""
from __future__ import annotations

import json

from dangan.core.catalogue import outbox
from dangan.core.search import nodes
from search_nodes_helpers import index_hits


def ingest(cli, tmp_path, word: str) -> str:
    p = tmp_path / f"{word}.txt"
    p.write_text(f"变更日志 {word}", encoding="utf-8")
    return json.loads(cli("ingest", p, "--json").output.splitlines()[0])["record_id"]


def test_one_folder_is_one_node_and_its_log_is_pruned_once_applied(cli, archive, archive_root, tmp_path):
    rid = ingest(cli, tmp_path, "logwordone")
    node = json.loads((archive_root / "index" / "node.json").read_text())["node"]
    top = outbox.last_change(archive.conn)
    assert top >= 1
    assert outbox.cursor(archive.conn, node) == top
    assert archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0    # as before nodes
    assert outbox.pruned_through(archive.conn) == top
    assert [n["node_id"] for n in outbox.nodes(archive.conn)] == [node]
    assert index_hits(archive_root, "logwordone") == [rid]
    ingest(cli, tmp_path, "logwordtwo")                   # a pruned-empty log never hands a number out twice
    assert outbox.last_change(archive.conn) > top
    assert nodes.behind(archive) == 0 and nodes.pending(archive) == 0


def test_the_log_is_kept_for_a_node_that_has_not_applied_it(cli, archive, archive_root, tmp_path):
    ingest(cli, tmp_path, "keptfirst")
    with archive.transaction() as conn:                  # another node, up to date until now
        outbox.register(conn, "other-node", outbox.last_change(conn), host="elsewhere", folder="/srv/b")
    ingest(cli, tmp_path, "keptsecond")
    kept = archive.conn.execute("SELECT record_id FROM index_outbox").fetchall()
    assert len(kept) == 1                                # applied here, not there: kept
    with archive.transaction() as conn:
        outbox.advance(conn, "other-node", outbox.last_change(conn))
        assert outbox.prune(conn) == 1                   # both have it now
    assert archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0


def test_change_log_keep_hours_keeps_applied_changes(cli, archive_root, tmp_path):
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[index]\nchange_log_keep_hours = 24\n", encoding="utf-8")
    ingest(cli, tmp_path, "keepword")
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    try:
        assert a.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] >= 1
        assert nodes.behind(a) == 0
    finally:
        a.close()


def test_an_interrupted_rebuild_is_done_again(cli, archive, archive_root, tmp_path):
    rid = ingest(cli, tmp_path, "rebuiltword")
    nodes.mark_rebuilding(archive, True)                 # as a rebuild killed halfway leaves it
    from dangan.index import open_index
    from dangan.core.search.indexing import engine_dir, engine_of
    index = open_index(engine_dir(archive, engine_of(archive)), engine=engine_of(archive))
    index.clear()                                        # ... with half an index
    index.close()
    assert nodes.behind(archive) == 1
    told: list[str] = []
    nodes.catch_up(archive, notice=told.append)
    assert told and "interrupted" in told[0]
    assert index_hits(archive_root, "rebuiltword") == [rid]
    assert not (archive_root / "index" / nodes.REBUILDING).exists() and nodes.behind(archive) == 0


def test_rebuild_catalogue_prunes_the_log_so_every_other_node_rebuilds(cli, archive, archive_root, tmp_path):
    rid = ingest(cli, tmp_path, "rebuildcat")
    with archive.transaction() as conn:
        outbox.register(conn, "other-node", outbox.last_change(conn), host="elsewhere", folder="/srv/b")
    cli("rebuild-catalogue", "--yes")
    gap = outbox.pruned_through(archive.conn)
    assert outbox.cursor(archive.conn, "other-node") < gap            # it must rebuild its index
    assert outbox.cursor(archive.conn, nodes.node_id(archive)) >= gap  # this node applies what was queued
    assert json.loads(cli("search", "rebuildcat", "--json").output.splitlines()[0])["record_id"] == rid
