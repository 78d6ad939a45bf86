"""Keeping the full-text index in step with the store: one writer, fed by an outbox.

Every change that affects search adds a row to ``index_outbox`` in the same
catalogue transaction as the change.  ``drain`` turns outbox rows into index
updates: it holds ``index/.drain.lock`` for the whole drain, so only one
process feeds the index at a time and an older document can never overwrite
a newer one; the index's own writer lock serialises the commit.  Rows are
deleted only after the index has committed them, so a crash repeats work but
never loses it.  ``reindex`` rebuilds the index from the store alone; an index
too damaged to open is moved aside (``index/.damaged-<time>/``), never deleted.

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

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from dangan.errors import DanganError, IntegrityError, LockTimeout
from dangan.model import Record
from dangan.repository.fsutil import crash_point, flocked
from dangan.core.kernel.clock import utc_now
from dangan.core.catalogue import db as catalogue_db
from dangan.repository.ocfl import vnum
from dangan.core.store.layout import METADATA_PATH, parse_metadata, text_path

if TYPE_CHECKING:
    from dangan.core.archive import Archive

BATCH = 500              # outbox rows applied per commit
REINDEX_BATCH = 5000     # records per commit when rebuilding: fewer segments to merge later


ENGINES = ("tantivy", "whoosh")
_log = logging.getLogger("dangan.index")


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
    """Build ``engine``'s index from the store (the drain lock is held); say so when records exist."""
    n = archive.conn.execute("SELECT count(*) FROM records WHERE status != 'destroyed'").fetchone()[0]
    queued = archive.conn.execute("SELECT count(DISTINCT record_id) FROM index_outbox").fetchone()[0]
    earlier = any(_present(archive, e) for e in ENGINES)
    if not n or (not earlier and queued >= n):   # a new archive: an empty index, the outbox fills it
        from dangan.index import open_index
        _remove_engine_files(engine_dir(archive, engine), engine)
        open_index(engine_dir(archive, engine), engine=engine, create=True).close()
        return
    _say(notice, f"the search index is being rebuilt for the {engine} engine from {n} record(s) in the "
                 "store (first use after an upgrade or an engine change); this happens once")
    _rebuild(archive, None, notice)


def document_for(archive: Archive, rec: Record, names: dict[str, str] | None = None, *, sealed: bool = False):
    """The index document of a record's head version: catalogue fields and extracted text.

    A sealed (confidential) record goes into the main index as ``locked``:
    the plain allow-list fields only, never its title, text or file names.
    """
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
    return archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0]


def drain(archive: Archive, *, blocking: bool = True, limit: int | None = None) -> int:
    """Apply queued index updates; returns how many records were (re)indexed or removed."""
    from dangan.core.store.layout import read_metadata, stored_original_names
    done = 0
    with _drain_lock(archive, blocking) as held:
        if not held:
            return 0
        index = None
        try:
            while limit is None or done < limit:
                rows = archive.conn.execute("SELECT seq, record_id, op FROM index_outbox ORDER BY seq LIMIT ?",
                                            (BATCH,)).fetchall()
                if not rows:
                    break
                if index is None:
                    engine = engine_of(archive)
                    if not _current(archive, engine):
                        _migrate(archive, engine, None)     # the drain lock is held already
                    from dangan.index import open_index
                    index = open_index(engine_dir(archive, engine), engine=engine)
                last: dict[str, str] = {}
                for r in rows:
                    last[r["record_id"]] = r["op"]
                docs, gone = [], []
                for rid, op in last.items():
                    row = archive.conn.execute("SELECT status, sealed FROM records WHERE id = ?", (rid,)).fetchone()
                    if op == "delete" or row is None or row["status"] == "destroyed":
                        gone.append(rid)
                        continue
                    rec = read_metadata(archive.store, rid)
                    docs.append(document_for(archive, rec, stored_original_names(archive.store, rid),
                                             sealed=bool(row["sealed"])))
                # tantivy deletes by marking: a destroyed record's text would stay in its segment's files until
                # that segment is merged.  purge empties the segments that held it (their other records are
                # added again), so destruction leaves none of its text in the index.
                destroyed = [r["id"] for r in archive.conn.execute(
                    f"SELECT id FROM records WHERE status = 'destroyed' AND id IN ({','.join('?' * len(gone))})",
                    gone)] if gone and hasattr(index, "purge") else []
                with _engine_errors(archive):
                    if docs:
                        index.add(docs)
                    if set(gone) - set(destroyed):
                        index.delete([rid for rid in gone if rid not in set(destroyed)])
                    if destroyed:
                        getattr(index, "purge")(destroyed, lambda ids: _documents(archive, ids))
                with archive.transaction() as conn:
                    conn.execute("DELETE FROM index_outbox WHERE seq <= ?", (rows[-1]["seq"],))
                crash_point("index")             # tests: DANGAN_TEST_CRASH_AFTER=index:N kills after N applied batches
                done += len(last)
        finally:
            if index is not None:
                index.close()
    return done


def _documents(archive: Archive, ids: list[str]) -> list:
    """The index documents of the live records among ``ids``, from the store."""
    from dangan.core.store.layout import read_metadata, stored_original_names
    out = []
    for rid in ids:
        row = archive.conn.execute("SELECT status, sealed FROM records WHERE id = ?", (rid,)).fetchone()
        if row is None or row["status"] == "destroyed":
            continue
        rec = read_metadata(archive.store, rid)
        out.append(document_for(archive, rec, stored_original_names(archive.store, rid), sealed=bool(row["sealed"])))
    return out


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
        _log.warning("dangan: %s", message)


def _rebuild(archive: Archive, progress, notice) -> int:
    """``reindex`` with the drain lock held: the configured engine's index, then the other engine's files go."""
    from dangan.index import open_index
    store = archive.store
    engine = engine_of(archive)
    path = engine_dir(archive, engine)
    top = archive.conn.execute("SELECT max(seq) FROM index_outbox").fetchone()[0] or 0
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
        conn.execute("DELETE FROM index_outbox WHERE seq <= ?", (top,))
        archive.audit(conn, "index.rebuild", details={"records": n, "engine": engine})
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
    pending updates unless another process is doing so right now."""
    engine = engine_of(archive)
    if not _current(archive, engine):
        with _drain_lock(archive, True):
            if not _current(archive, engine):
                _migrate(archive, engine, notice)
    try:
        if pending(archive):
            drain(archive, blocking=False)
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
