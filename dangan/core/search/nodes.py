"""Search nodes: each archive folder keeps its own index, fed from the catalogue's change log by its own cursor.

Two folders whose ``dangan.toml`` name the same catalogue and store are one archive with two search nodes (two
``dangan serve`` machines, a worker's machine).  A node is named by ``index/node.json`` (made on first use); the
catalogue's ``search_nodes`` row keeps the last change (``index_outbox.seq``, :mod:`dangan.core.catalogue.outbox`)
its index holds.  :func:`catch_up` applies the changes after the cursor in batches -- each batch committed to the
index first, then the cursor advanced in one catalogue transaction -- holding ``index/.drain.lock`` so one
process per folder feeds its index.  Before every search the node compares the newest change id with its cursor
(one query) and catches up when behind; ``dangan serve`` also polls every second (``service.search.follow``), so a
record filed on one node is found on the others within seconds, and a node that was down catches up when it starts.

A crash between an index commit and the cursor's advance applies that batch again: applying is idempotent (a
record's document is replaced by its id, a removal of an absent record does nothing), so nothing is lost and no
record is indexed twice.  A node whose cursor is below what the log has pruned (a node not seen for
``[index] node_forget_days``, or a catalogue rebuilt from the store) rebuilds its index from the store, saying
so -- what ``dangan reindex`` does; so does a node whose rebuild was interrupted (``index/.rebuilding``).
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from dangan.core.catalogue import outbox

if TYPE_CHECKING:
    from dangan.core.archive import Archive

NODE_FILE = "node.json"
REBUILDING = ".rebuilding"       # present while a rebuild from the store runs: an interrupted one is done again


def existing_node_id(archive: Archive) -> str | None:
    """This folder's node id, or None when it has none yet (a reader's check writes nothing)."""
    from dangan.core.search.indexing import index_dir
    try:
        return json.loads((index_dir(archive) / NODE_FILE).read_text(encoding="utf-8"))["node"]
    except FileNotFoundError:
        return None


def node_id(archive: Archive) -> str:
    """This folder's node id (``index/node.json``), made on first use (two first users agree: a link, not a write)."""
    from dangan.core.search.indexing import index_dir
    known = existing_node_id(archive)
    if known is not None:
        return known
    folder = index_dir(archive)
    path = folder / NODE_FILE
    folder.mkdir(exist_ok=True)
    tmp = folder / f".node-{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps({"node": str(uuid.uuid4())}) + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)              # fails if another process made it first: then its id is the node's
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return json.loads(path.read_text(encoding="utf-8"))["node"]


def _settings(archive: Archive) -> tuple[float, float]:
    raw = archive.config.raw.get("index") or {}
    return float(raw.get("change_log_keep_hours", 0)), float(raw.get("node_forget_days", 30))


def _rebuilding(archive: Archive) -> bool:
    from dangan.core.search.indexing import index_dir
    return (index_dir(archive) / REBUILDING).exists()


def behind(archive: Archive) -> int:
    """How many changes this node has not applied yet (cheap: one query, no lock); 1 for a node the catalogue
    does not know yet or whose rebuild was interrupted (it has work to do)."""
    node = existing_node_id(archive)
    if node is None:
        return 1
    top, applied = outbox.backlog(archive.conn, node)
    if applied is None or _rebuilding(archive):
        return 1
    return max(0, top - applied)


def pending(archive: Archive) -> int:
    """The number of changes after this node's cursor (``dangan status``' "to index")."""
    node = existing_node_id(archive)
    applied = outbox.cursor(archive.conn, node) if node else None
    return archive.conn.execute("SELECT count(*) FROM index_outbox WHERE seq > ?", (applied or 0,)).fetchone()[0]


def register(archive: Archive, applied: int, *, reset: bool) -> str:
    """Make this node known with cursor ``applied`` (``reset``: also when it is known already); its id."""
    node = node_id(archive)
    with archive.transaction() as conn:
        if reset or outbox.cursor(conn, node) is None:
            outbox.register(conn, node, applied, host=socket.gethostname(), folder=str(archive.root))
    return node


def settle(archive: Archive, applied: int) -> None:
    """The index holds every change up to ``applied``: advance the cursor and prune what every node has."""
    keep, forget = _settings(archive)
    node = node_id(archive)
    with archive.transaction() as conn:
        if outbox.cursor(conn, node) is None:
            outbox.register(conn, node, applied, host=socket.gethostname(), folder=str(archive.root))
        outbox.advance(conn, node, applied)
        outbox.prune(conn, keep_hours=keep, forget_days=forget)


def touch(archive: Archive) -> None:
    """Say this node is alive (``seen``), so ``[index] node_forget_days`` never forgets a running idle node."""
    node = existing_node_id(archive)
    if node is not None and outbox.cursor(archive.conn, node) is not None:
        with archive.transaction() as conn:
            outbox.advance(conn, node, 0)


def catch_up(archive: Archive, *, blocking: bool = True, limit: int | None = None,
             notice: Callable[[str], None] | None = None) -> int:
    """Apply to this node's index every change after its cursor; returns how many records were (re)indexed
    or removed.  ``blocking`` False: do nothing when another process of this folder is applying right now."""
    from dangan.core.search import indexing
    with indexing._drain_lock(archive, blocking) as held:
        if not held:
            return 0
        return _catch_up(archive, limit, notice)


def _catch_up(archive: Archive, limit: int | None, notice: Callable[[str], None] | None) -> int:
    """``catch_up`` with the drain lock held."""
    from dangan.core.search import indexing
    engine = indexing.engine_of(archive)
    if not indexing._current(archive, engine):
        indexing._migrate(archive, engine, notice)
    node = node_id(archive)
    applied = outbox.cursor(archive.conn, node)
    if applied is None:     # an index made before nodes (an upgrade), or a catalogue restored from a backup
        applied = outbox.pruned_through(archive.conn)
        register(archive, applied, reset=False)
    gap = outbox.pruned_through(archive.conn)
    if applied < gap or _rebuilding(archive):
        why = ("its last rebuild was interrupted" if applied >= gap else
               f"it applied changes up to {applied}, and the change log was pruned through {gap} while it was away")
        indexing._say(notice, f"this node's search index is out of date ({why}): rebuilding it from the store,"
                              " as `dangan reindex` does")
        done = indexing._rebuild(archive, None, notice)
        return done + _apply_log(archive, outbox.cursor(archive.conn, node) or 0, limit)
    return _apply_log(archive, applied, limit)


def _apply_log(archive: Archive, applied: int, limit: int | None) -> int:
    from dangan.core.search import indexing
    from dangan.index import open_index
    done, index = 0, None
    try:
        while limit is None or done < limit:
            rows = outbox.changes_after(archive.conn, applied, indexing.BATCH)
            if not rows:
                break
            if index is None:
                engine = indexing.engine_of(archive)
                index = open_index(indexing.engine_dir(archive, engine), engine=engine)
            done += apply_changes(archive, index, rows)
            applied = rows[-1]["seq"]
            settle(archive, applied)
            from dangan.repository.fsutil import crash_point
            crash_point("index")             # tests: DANGAN_TEST_CRASH_AFTER=index:N kills after N applied batches
    finally:
        if index is not None:
            index.close()
    return done


def apply_changes(archive: Archive, index, rows: list) -> int:
    """Apply one batch of changes to ``index`` (committed when this returns); how many records it touched."""
    from dangan.core.search import indexing
    last: dict[str, str] = {}
    for r in rows:
        last[r["record_id"]] = r["op"]
    live, gone = [], []
    for rid, op in last.items():
        row = archive.conn.execute("SELECT status FROM records WHERE id = ?", (rid,)).fetchone()
        if op == "delete" or row is None or row["status"] == "destroyed":
            gone.append(rid)
        else:
            live.append(rid)
    docs = indexing._documents(archive, live)          # each head version's document, from the store
    # tantivy deletes by marking: a destroyed record's text would stay in its segment's files until that segment
    # is merged.  purge empties the segments that held it (their other records are added again), so destruction
    # leaves none of its text in the index.
    destroyed = [r["id"] for r in archive.conn.execute(
        f"SELECT id FROM records WHERE status = 'destroyed' AND id IN ({','.join('?' * len(gone))})",
        gone)] if gone and hasattr(index, "purge") else []
    with indexing._engine_errors(archive):
        if docs:
            index.add(docs)
        if set(gone) - set(destroyed):
            index.delete([rid for rid in gone if rid not in set(destroyed)])
        if destroyed:
            getattr(index, "purge")(destroyed, lambda ids: indexing._documents(archive, ids))
    return len(last)


def hold_at(archive: Archive, conn, applied: int) -> None:
    """Inside the caller's write transaction: this node's cursor is ``applied`` (its index is as good as that)."""
    node = node_id(archive)
    outbox.register(conn, node, applied, host=socket.gethostname(), folder=str(archive.root))


def mark_rebuilding(archive: Archive, on: bool) -> None:
    """``index/.rebuilding`` while a rebuild from the store runs (an interrupted rebuild is done again)."""
    from dangan.core.search.indexing import index_dir
    path: Path = index_dir(archive) / REBUILDING
    if on:
        path.parent.mkdir(exist_ok=True)
        path.touch()
    else:
        path.unlink(missing_ok=True)


__all__ = ["catch_up", "behind", "pending", "node_id"]
