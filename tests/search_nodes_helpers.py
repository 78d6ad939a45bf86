"""Search nodes in the tests (issue 17.4): a second archive folder over the same catalogue and store.

A node is a folder holding ``dangan.toml`` (naming the PostgreSQL catalogue, and the bucket when the store is on
S3), ``plugins/``, ``index/`` and its local caches -- what a second machine holds.  A folder store is reached from
the second folder by a symbolic link to the first folder's ``store/`` (one machine plays two; on two machines the
store is a bucket or a shared mount); so is the audit checkpoint log, which both nodes append to (with the store
in a bucket, the log is in the bucket).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor


def second_node(first: Path, folder: Path) -> Path:
    """A node folder beside ``first``: the same ``dangan.toml``, its own (empty) index."""
    folder.mkdir(mode=0o700)
    shutil.copy2(first / "dangan.toml", folder / "dangan.toml")
    (folder / "plugins").mkdir()
    (folder / "index").mkdir()
    if (first / "store").is_dir():
        (folder / "store").symlink_to(first / "store")
        # one audit trail, one checkpoint log: the nodes append to the same file (on two machines, a shared
        # path); with the store in a bucket the log is there
        (folder / "audit-checkpoints.log").symlink_to(first / "audit-checkpoints.log")
    return folder


def open_node(root: Path) -> Archive:
    return Archive(root, Actor("tester", "tester"))


def index_hits(root: Path, text: str) -> list[str]:
    """The record ids this node's index holds for ``text``, read from its index alone (no catching up first)."""
    from dangan.core.search.indexing import engine_dir, engine_of
    from dangan.index import open_index
    a = open_node(root)
    try:
        index = open_index(engine_dir(a, engine_of(a)), engine=engine_of(a), create=False)
        try:
            return [h.record_id for h in index.search(text, limit=1000).hits]
        finally:
            index.close()
    finally:
        a.close()


def index_size(root: Path) -> int:
    """How many documents this node's index holds (a record indexed twice would count twice)."""
    from dangan.core.search.indexing import engine_dir, engine_of
    from dangan.index import open_index
    a = open_node(root)
    try:
        index = open_index(engine_dir(a, engine_of(a)), engine=engine_of(a), create=False)
        try:
            return index.doc_count()
        finally:
            index.close()
    finally:
        a.close()


def cursor_of(root: Path) -> int | None:
    from dangan.core.catalogue import outbox
    from dangan.core.search.nodes import node_id
    a = open_node(root)
    try:
        return outbox.cursor(a.conn, node_id(a))
    finally:
        a.close()


def last_change(root: Path) -> int:
    from dangan.core.catalogue import outbox
    a = open_node(root)
    try:
        return outbox.last_change(a.conn)
    finally:
        a.close()


def files_holding(root: Path, mark: bytes) -> list[Path]:
    """Files of the folder's index that hold ``mark`` (a destroyed record's text must be in none)."""
    return [p for p in (root / "index").rglob("*") if p.is_file() and mark in p.read_bytes()]
