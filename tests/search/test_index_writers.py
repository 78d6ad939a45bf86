"""One writer at a time across processes; a damaged index is reported, never deleted."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from dangan.errors import IntegrityError, LockTimeout
from dangan.index import IndexDocument, open_index
from dangan.index.common import LOCKFILE, flock as _flock


def _writer(path: str, engine: str, prefix: str, batches: int, q) -> None:
    try:
        ix = open_index(Path(path), engine=engine, lock_timeout=60)
        for b in range(batches):
            ix.add([IndexDocument(record_id=f"{prefix}{b}-{i}", content=f"{prefix} 档案 batch {b}")
                    for i in range(5)])
        q.put(("ok", prefix))
    except BaseException as e:  # report anything, LockError included, to the parent
        q.put(("error", f"{type(e).__name__}: {e}"))


def test_two_processes_write_concurrently_without_lock_errors(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "index"
    open_index(path, engine=engine).close()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), engine, p, 8, q)) for p in ("left", "right")]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(results) == [("ok", "left"), ("ok", "right")]
    ix = open_index(path, engine=engine)
    assert ix.doc_count() == 80
    assert ix.count("left") == 40 and ix.count("right") == 40


def test_a_held_writer_lock_times_out_clearly(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "index"
    ix = open_index(path, engine=engine, lock_timeout=0.2)
    with _flock(path / LOCKFILE, 1):
        t0 = time.monotonic()
        with pytest.raises(LockTimeout, match="busy"):
            ix.add([IndexDocument(record_id="x", content="档案")])
        assert time.monotonic() - t0 < 2
    # a reader never waits on the writer lock
    with _flock(path / LOCKFILE, 1):
        assert ix.search("档案").total == 0


#: the file that says which segments make the index, and the segments' postings, per engine
TOC = {"whoosh": lambda f: f.suffix == ".toc", "tantivy": lambda f: f.name == "meta.json"}
POSTINGS = {"whoosh": lambda f: f.suffix == ".seg" or f.name.endswith(".trm"),
            "tantivy": lambda f: f.suffix in (".idx", ".term")}


def test_damaged_index_raises_integrity_error_and_is_kept(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "index"
    ix = open_index(path, engine=engine)
    ix.add([IndexDocument(record_id=f"r{i}", content="档案管理制度") for i in range(3)])
    ix.close()
    for f in path.iterdir():
        if TOC[engine](f):
            f.write_bytes(b"\x00garbage" * 10)
    before = sorted(p.name for p in path.iterdir())
    with pytest.raises(IntegrityError, match="dangan reindex"):
        open_index(path, engine=engine).search("档案")
    assert sorted(p.name for p in path.iterdir()) == before


def test_missing_segment_file_raises_integrity_error(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "index"
    ix = open_index(path, engine=engine)
    ix.add([IndexDocument(record_id="r", content="档案管理制度")])
    gone = [f for f in path.iterdir() if POSTINGS[engine](f)]
    assert gone
    for f in gone:
        f.unlink()
    with pytest.raises(IntegrityError, match="index is damaged"):
        open_index(path, engine=engine).search("档案")


@pytest.mark.parametrize("engine, leftover", [("whoosh", "MAIN_abc.seg"), ("tantivy", "0a1b.idx")])
def test_leftover_files_without_toc_are_not_overwritten(tmp_path: Path, engine: str, leftover: str) -> None:
    path = tmp_path / "index"
    path.mkdir()
    (path / leftover).write_bytes(b"old")
    with pytest.raises(IntegrityError):
        open_index(path, engine=engine)
    assert (path / leftover).read_bytes() == b"old"


def test_missing_index_without_create(tmp_path: Path, engine: str) -> None:
    with pytest.raises(IntegrityError, match="no index"):
        open_index(tmp_path / "nothing", engine=engine, create=False)
    assert not (tmp_path / "nothing").exists()


def test_an_index_of_the_other_engine_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "index"
    open_index(path, engine="whoosh").add([IndexDocument(record_id="r", content="档案")])
    with pytest.raises(IntegrityError, match="reindex"):
        open_index(path, engine="tantivy")


def test_reader_survives_concurrent_commits(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "index"
    ix = open_index(path, engine=engine)
    ix.add([IndexDocument(record_id="r0", content="档案")])
    reader = open_index(path, engine=engine)
    for i in range(1, 6):
        ix.add([IndexDocument(record_id=f"r{i}", content="档案")])
        assert reader.count("档案") == i + 1
    assert os.path.exists(path / LOCKFILE)
