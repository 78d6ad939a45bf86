"""Choosing the engine (``[index] engine``) and moving an archive between engines.

An archive made by the previous release has a Whoosh index in ``index/``; with tantivy the
default, its first search rebuilds the index from the store (saying so), finds the same
records, and the Whoosh files go.  Switching back to Whoosh works the same way, and so does
``dangan reindex``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import Cli  # noqa: E402

QUERIES = ("档案", "contract", "-档案", "档案 OR contract", "会议纪要", "notes", "dept:nothing")


def _hits(cli: Cli) -> dict[str, list[str]]:
    out = {}
    for q in QUERIES:
        res = cli("search", "--json", "--sort", "date", q)
        out[q] = sorted(json.loads(line)["record_id"] for line in res.stdout.splitlines() if line.strip())
    return out


def _set_engine(root: Path, engine: str | None) -> None:
    conf = root / "dangan.toml"
    text = conf.read_text(encoding="utf-8").replace('\n[index]\nengine = "whoosh"\n', "").replace(
        '\n[index]\nengine = "tantivy"\n', "")
    if engine:
        text += f'\n[index]\nengine = "{engine}"\n'
    conf.write_text(text, encoding="utf-8")


def _whoosh_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "index").iterdir() if p.is_file() and p.suffix in (".toc", ".seg"))


def test_a_whoosh_archive_moves_to_tantivy_on_first_search(archive_root: Path, samples: Path) -> None:
    cli = Cli(archive_root)
    _set_engine(archive_root, "whoosh")
    cli("ingest", samples)
    before = _hits(cli)
    assert before["档案"] and before["contract"]
    assert _whoosh_files(archive_root) and not (archive_root / "index" / "tantivy").exists()
    # the previous release wrote this marker (schema 1): it is not the current Whoosh schema either
    _set_engine(archive_root, None)                                  # tantivy: the default
    res = cli("search", "--json", "档案")
    assert "rebuilt for the tantivy engine from 3 record(s)" in res.stderr
    assert (archive_root / "index" / "tantivy" / "meta.json").exists()
    assert _whoosh_files(archive_root) == []                          # the old engine's files are gone
    assert _hits(cli) == before
    assert "rebuilt" not in cli("search", "档案").stderr              # once only
    rows = cli("audit", "log", "--json", "--action", "index.rebuild").stdout
    assert '"index.rebuild"' in rows and '"tantivy"' in rows


def test_switching_back_to_whoosh_and_reindex(archive_root: Path, samples: Path) -> None:
    cli = Cli(archive_root)
    cli("ingest", samples)
    before = _hits(cli)
    assert (archive_root / "index" / "tantivy" / "meta.json").exists() and not _whoosh_files(archive_root)
    _set_engine(archive_root, "whoosh")
    res = cli("search", "--count", "档案")
    assert "rebuilt for the whoosh engine" in res.stderr and res.stdout.strip() == str(len(before["档案"]))
    assert _hits(cli) == before
    assert not (archive_root / "index" / "tantivy").exists()
    _set_engine(archive_root, "tantivy")
    assert "index rebuilt: 3 record(s)" in cli("reindex").stdout     # reindex migrates too
    assert not _whoosh_files(archive_root) and (archive_root / "index" / "tantivy" / "meta.json").exists()
    assert _hits(cli) == before


def test_an_index_of_a_previous_schema_is_rebuilt_not_refused(archive_root: Path, samples: Path) -> None:
    cli = Cli(archive_root)
    _set_engine(archive_root, "whoosh")
    cli("ingest", samples)
    before = _hits(cli)
    marker = archive_root / "index" / "dangan-index.json"
    marker.write_text(json.dumps({"engine": "whoosh", "schema": 1, "analysis": "analysis_v1"}), encoding="utf-8")
    res = cli("search", "档案")
    assert "rebuilt for the whoosh engine" in res.stderr
    assert _hits(cli) == before


def test_an_unknown_engine_is_a_clear_configuration_error(archive_root: Path) -> None:
    _set_engine(archive_root, "lucene")
    res = Cli(archive_root)("search", "档案", ok=False)
    assert res.exit_code == 2 and "engine" in res.output and "tantivy" in res.output
