"""Keeping the full-text index in step with the store: one writer per folder, fed by the change log.

Every change that affects search appends a row to ``index_outbox`` (the change log,
:mod:`dangan.core.catalogue.outbox`) in the same catalogue transaction as the change.  ``drain`` applies the
rows after this folder's cursor (``search.nodes``: each folder with its own index is a search node): it holds
``index/.drain.lock`` for the whole drain, so only one process feeds the index at a time and an older document
can never overwrite a newer one; the index's own writer lock serialises the commit.  The cursor advances only
after the index has committed the rows, and rows are pruned only once every node has applied them, so a crash
repeats work but never loses it.  ``reindex`` rebuilds the index from the store alone; an index too damaged to
open is moved aside (``index/.damaged-<time>/``), never deleted.

The engine is ``[index] engine`` in ``dangan.toml``: ``"tantivy"`` (default,
files in ``index/tantivy/``) or ``"whoosh"`` (files in ``index/``, where the
previous release kept them).  When the configured engine has no current index
-- an archive made by the previous release, or the engine was switched -- the
first command that needs the index rebuilds it from the store (saying so) and
removes the other engine's files, which are derived data.

Errors the search engine raises while writing (a truncated segment gives
EOFError, a garbled one struct or pickle errors) become one
``IntegrityError`` telling the user to run ``dangan reindex``.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from dangan.errors import DanganError, IntegrityError, LockTimeout
from dangan.model import Record
from dangan.repository.fsutil import flocked
from dangan.core.kernel.clock import utc_now
from dangan.core.catalogue import db as catalogue_db

if TYPE_CHECKING:
    from dangan.core.archive import Archive

BATCH = 500              # outbox rows applied per commit
REINDEX_BATCH = 2500     # records per commit when rebuilding: tantivy merges 8 equal segments, so this bounds the
                         # largest merge of a 1M rebuild (8 segments of 20,000) and the segment pages it maps


ENGINES = ("tantivy", "whoosh")


def engine_of(archive: Archive) -> str:
    """The configured engine (``[index] engine``), tantivy unless whoosh is chosen."""
    return (archive.config.raw.get("index") or {}).get("engine", "tantivy")


def engine_dir(archive: Archive, engine: str | None = None) -> Path:
    engine = engine or engine_of(archive)
    return index_dir(archive) / "tantivy" if engine == "tantivy" else index_dir(archive)


def _current(archive: Archive, engine: str) -> bool:
    """Whether ``engine``'s index exists in this release's schema (damage is found when it is opened)."""
    from dangan.index.common import read_marker
    path = engine_dir(archive, engine)
    try:
        marker = read_marker(path)
    except IntegrityError:
        return True          # present but damaged: opening it reports that
    if marker is None:
        return False
    if engine == "tantivy":
        from dangan.index.tantivy_index import SCHEMA_VERSION
    else:
        from dangan.index.whoosh_index import SCHEMA_VERSION
    return marker.get("engine", "whoosh") == engine and marker.get("schema") == SCHEMA_VERSION


def _present(archive: Archive, engine: str) -> bool:
    """Whether any index of ``engine`` (of any schema) is on disk."""
    path = engine_dir(archive, engine)
    if engine == "tantivy":
        return (path / "meta.json").exists()
    return path.is_dir() and any(p.suffix == ".toc" for p in path.iterdir())


def open_search_index(archive: Archive, *, create: bool = True, notice: Callable[[str], None] | None = None):
    """The configured engine's index; built from the store first when it has none yet (see the module doc)."""
    engine = engine_of(archive)
    if create and not _current(archive, engine):
        with _drain_lock(archive, True):
            if not _current(archive, engine):
                _migrate(archive, engine, notice)
    from dangan.index import open_index
    return open_index(engine_dir(archive, engine), engine=engine, create=create)


def _migrate(archive: Archive, engine: str, notice: Callable[[str], None] | None) -> None:
    """Build ``engine``'s index from the store (the drain lock is held); say so when records exist.  An empty
    index suffices when no record is live, or when the change log still holds every change (a new archive):
    the node's cursor is set to match (``search.nodes``)."""
    from dangan.core.catalogue import outbox
    from dangan.core.search import nodes
    top = outbox.last_change(archive.conn)      # first: a change made meanwhile is after it, applied next
    n = archive.conn.execute("SELECT count(*) FROM records WHERE status != 'destroyed'").fetchone()[0]
    queued = archive.conn.execute("SELECT count(DISTINCT record_id) FROM index_outbox").fetchone()[0]
    whole_log = outbox.pruned_through(archive.conn) == 0
    earlier = any(_present(archive, e) for e in ENGINES)
    if not n or (not earlier and whole_log and queued >= n):   # a new archive: an empty index, the log fills it
        from dangan.index import open_index
        _remove_engine_files(engine_dir(archive, engine), engine)
        open_index(engine_dir(archive, engine), engine=engine, create=True).close()
        nodes.register(archive, 0 if n else top, reset=True)
        return
    _say(notice, f"the search index is being rebuilt for the {engine} engine from {n} record(s) in the "
                 "store (first use after an upgrade or an engine change); this happens once")
    _rebuild(archive, None, notice)


def document_for(archive: Archive, rec: Record, names: dict[str, str] | None = None, *, sealed: bool = False):
    """The index document of a record's head version: catalogue fields and extracted text.

    A sealed (confidential) record goes into the main index as ``locked``:
    the plain allow-list fields only, never its title, text or file names.
    """
    from dangan.core.store.layout import text_path
    from dangan.index import IndexDocument
    if sealed:
        return IndexDocument(record_id=rec.id, archival_code=rec.archival_code, department=rec.department,
                             category=rec.category, year=rec.year, date=rec.date, retention=rec.retention,
                             secrecy=rec.secrecy, volume=rec.volume, status=rec.status, locked=True)
    texts = []
    by_path = {f.logical_path: f for f in archive.store.files(rec.id, rec.version)}
    for f in rec.files:
        t = by_path.get(text_path(f.path))
        if t is not None:
            texts.append(b"".join(archive.store.read_chunks(rec.id, t)).decode("utf-8", "replace"))
    main = rec.main_file
    return IndexDocument(
        record_id=rec.id, archival_code=rec.archival_code, title=rec.title, department=rec.department,
        category=rec.category, year=rec.year, date=rec.date, retention=rec.retention, secrecy=rec.secrecy,
        volume=rec.volume, mime=main.mime if main else None, tags=list(rec.tags),
        metadata={k: str(v) for k, v in rec.metadata.items()},
        filenames=[(names or {}).get(f.path, f.path) for f in rec.files], content="\n\n".join(texts),
        status=rec.status)


def _drain_lock(archive: Archive, blocking: bool):
    path = archive.root / "index" / ".drain.lock"
    path.parent.mkdir(exist_ok=True)
    return flocked(path, wait=blocking)


@contextmanager
def _engine_errors(archive: Archive) -> Iterator[None]:
    """Engine failures while writing the index -> IntegrityError (disk errors and domain errors pass)."""
    try:
        yield
    except (DanganError, OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the engine's many exception types
        raise IntegrityError(f"index is damaged: {index_dir(archive)}: {type(exc).__name__}: {exc}"[:400]
                             + "; run `dangan reindex` to rebuild it") from exc


def pending(archive: Archive) -> int:
    """Changes this node's index has not applied yet (``search.nodes``)."""
    from dangan.core.search.nodes import pending as node_pending
    return node_pending(archive)


def drain(archive: Archive, *, blocking: bool = True, limit: int | None = None,
          notice: Callable[[str], None] | None = None) -> int:
    """Apply the changes this node has not applied yet; returns how many records were (re)indexed or removed
    (``search.nodes.catch_up``)."""
    from dangan.core.search.nodes import catch_up
    return catch_up(archive, blocking=blocking, limit=limit, notice=notice)


def _documents(archive: Archive, ids: list[str]) -> list:
    """The index documents of the live records among ``ids``, from the store."""
    live = []
    for rid in ids:
        row = archive.conn.execute("SELECT status, sealed FROM records WHERE id = ?", (rid,)).fetchone()
        if row is None or row["status"] == "destroyed":
            continue
        live.append((rid, bool(row["sealed"])))
    return _read_documents(archive, live)


def _read_documents(archive: Archive, live: list[tuple[str, bool]]) -> list:
    """The index documents of (record id, sealed) pairs, from the store, in order.  Each record's inventory,
    metadata and text are read in one ``store.reading()`` view; from a bucket, several records at once (the
    requests' round trips overlap; the store's client is shared by the threads)."""
    from dangan.core.store.layout import read_metadata, stored_original_names
    store = archive.store

    def one(item: tuple[str, bool]):
        rid, sealed = item
        with store.reading():
            rec = read_metadata(store, rid)
            return document_for(archive, rec, stored_original_names(store, rid), sealed=sealed)

    if not store.remote or len(live) < 2:
        return [one(item) for item in live]
    from concurrent.futures import ThreadPoolExecutor
    from dangan.repository.s3client import REQUEST_CONCURRENCY
    with ThreadPoolExecutor(min(REQUEST_CONCURRENCY, len(live)), thread_name_prefix="dangan-index-read") as pool:
        return list(pool.map(one, live))


def reindex(archive: Archive, progress: Callable[[int, int], None] | None = None,
            notice: Callable[[str], None] | None = None) -> int:
    """Rebuild the index from the store alone (metadata.json and stored text derivatives).

    ``notice`` hears about a damaged index that was set aside.
    """
    with _drain_lock(archive, True):
        return _rebuild(archive, progress, notice)


def _say(notice: Callable[[str], None] | None, message: str) -> None:
    if notice is not None:
        notice(message)
    else:
        import logging
        logging.getLogger("dangan.index").warning("dangan: %s", message)


def _rebuild(archive: Archive, progress, notice) -> int:
    """``reindex`` with the drain lock held: the configured engine's index, then the other engine's files go."""
    from dangan.core.store.layout import METADATA_PATH, parse_metadata
    from dangan.index import open_index
    from dangan.repository.ocfl import vnum
    store = archive.store
    engine = engine_of(archive)
    path = engine_dir(archive, engine)
    from dangan.core.catalogue import outbox
    from dangan.core.search import nodes
    top = outbox.last_change(archive.conn)      # first: what changes after it is applied after the rebuild
    nodes.register(archive, outbox.pruned_through(archive.conn), reset=False)   # holds the log from here on
    nodes.mark_rebuilding(archive, True)
    ids = list(store.object_ids())              # a folder's object roots, or a bucket's published objects
    if not _current(archive, engine):
        _remove_engine_files(path, engine)          # a previous release's schema: derived data, rebuilt now
    index = None
    try:
        with _engine_errors(archive):
            index = open_index(path, engine=engine, create=True)
            index.clear()
    except IntegrityError as exc:
        # Too damaged to open or clear: set it aside (kept, not deleted) and start afresh.
        if index is not None:
            try:
                index.close()
            except Exception:  # noqa: BLE001 - it is being replaced
                pass
        aside = _set_aside(path)
        if notice:
            notice(f"the damaged index ({exc.message}) was moved to {aside}; delete it when no longer needed")
        index = open_index(path, engine=engine, create=True)
    try:
        batch, n = [], 0
        for i, rid in enumerate(ids):
            head = vnum(store.inventory(rid)["head"])
            rec, names, cat = parse_metadata(store.read_bytes(rid, METADATA_PATH, head), rid)
            rec.version = head
            if rec.status == "destroyed":
                continue
            batch.append(document_for(archive, rec, names, sealed=bool(cat.get("sealed"))))
            if len(batch) >= REINDEX_BATCH:
                with _engine_errors(archive):
                    n += index.add(batch) or len(batch)
                batch = []
            if progress:
                progress(i + 1, len(ids))
        if batch:
            with _engine_errors(archive):
                n += index.add(batch) or len(batch)
    finally:
        index.close()
    with archive.transaction() as conn:
        archive.audit(conn, "index.rebuild", details={"records": n, "engine": engine})
    nodes.settle(archive, top)
    nodes.mark_rebuilding(archive, False)
    for other in ENGINES:
        if other != engine:
            _remove_engine_files(engine_dir(archive, other), other)
    return n


def _remove_engine_files(path: Path, engine: str) -> None:
    """Delete an index of ``engine`` at ``path`` (files only: ``index/`` also holds volume indexes and locks)."""
    import shutil
    if not path.is_dir():
        return
    if engine == "tantivy":
        for p in path.iterdir():
            if p.is_dir() and p.name.startswith(".damaged-"):
                continue
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        try:
            path.rmdir()
        except OSError:
            pass            # a damaged index set aside is kept
        return
    for p in path.iterdir():
        if p.is_file() and not p.name.startswith(".") and (
                p.suffix in (".toc", ".seg", ".pst", ".trm", ".dci", ".dcz", ".fln", ".vps", ".lengths")
                or p.name == "dangan-index.json" or p.name.startswith(("MAIN_", "_MAIN_"))):
            p.unlink()


def _set_aside(path: Path) -> Path:
    """Move a damaged index's files into ``path/.damaged-<time>/`` (lock files stay where they are)."""
    import os
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
    aside = path / f".damaged-{stamp}"
    aside.mkdir()
    for p in path.iterdir():
        if not p.name.startswith(".") and p.is_file():
            os.replace(p, aside / p.name)
    return aside


def ensure_fresh(archive: Archive, notice: Callable[[str], None] | None = None) -> None:
    """Before a search: build the configured engine's index if it has none (see the module doc), then apply
    the changes this node is behind by (one query to know) unless another process of this folder is doing so."""
    engine = engine_of(archive)
    if not _current(archive, engine):
        with _drain_lock(archive, True):
            if not _current(archive, engine):
                _migrate(archive, engine, notice)
    from dangan.core.search.nodes import behind
    try:
        if behind(archive):
            drain(archive, blocking=False, notice=notice)
    except LockTimeout:
        pass


def search_purpose(text: str) -> str:
    """What plugins are told a search is for: ``SEARCH_BY_ID_NUMBER`` when the query holds a valid resident ID
    number, else nothing."""
    import re

    from stdnum.cn import ric
    from dangan.plugins.types import SEARCH_BY_ID_NUMBER
    found = any(ric.is_valid(m) for m in re.findall(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])", text))
    return SEARCH_BY_ID_NUMBER if found else ""


def search_filter(archive: Archive, text: str = ""):
    """The ``allowed`` hook for search hits: the actor's view rights over the hit's catalogue fields.

    Access rules see the record as the catalogue holds it (fields stored in
    the index are not trusted for decisions).  None when nothing restricts.
    ``text`` is the query: plugins are told when it searches by ID number.
    """
    from dangan.core.policy.access import visibility
    visible = visibility(archive, search_purpose(text))
    by_catalogue = _catalogue_filters(text, catalogue_db.dialect(archive.conn))
    if visible is None and by_catalogue is None:
        return None
    from dangan.core.catalogue import records as rows
    sql, params = by_catalogue or ("1=1", [])

    def allowed(fields: dict) -> bool:
        row = archive.conn.execute(f"SELECT * FROM records WHERE id = ? AND {sql}",
                                   (fields["record_id"], *params)).fetchone()
        return row is not None and (visible is None or visible(rows.row_to_record(archive.conn, row, with_files=False)))
    return allowed


def _catalogue_filters(text: str, dialect: str = "sqlite"):
    """(SQL, params) of the query's filters the index cannot answer (``format:``), or None when it has none."""
    from dangan.errors import UsageError
    from dangan.index.query import CATALOGUE_FIELDS, filters_to_sql, parse_query
    try:
        q = parse_query(text)
    except UsageError:
        return None                     # the search itself reports the query's mistake
    mine = [f for f in q.filters if f.field in CATALOGUE_FIELDS]
    return filters_to_sql(mine, dialect=dialect) if mine else None


def index_dir(archive: Archive) -> Path:
    return archive.root / "index"
