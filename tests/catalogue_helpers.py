"""A test's own connection to an archive's catalogue, whichever engine it is on (SQLite or PostgreSQL)."""
from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path


def catalogue_url(root: Path) -> str | None:
    """``[catalogue] url`` of the archive at ``root``, None for the embedded catalogue.sqlite."""
    raw = tomllib.loads((Path(root) / "dangan.toml").read_text(encoding="utf-8"))
    return raw.get("catalogue", {}).get("url")


def raw_catalogue(root: Path):
    """A plain connection (no migration, no dangan transaction) to read or tamper with the catalogue as an
    attacker or a crash would; the same SQL (``?`` parameters) runs on both engines."""
    url = catalogue_url(root)
    if url:
        from dangan.core.catalogue.db import PgConnection
        return PgConnection(url)
    return sqlite3.connect(Path(root) / "catalogue.sqlite")


def collected_again(relative: str, *, leave_out: tuple[str, ...] = ()) -> dict:
    """The tests and fixtures of another test module (``management/test_mgmt_lend.py``), to be collected again
    in a module whose ``pytestmark`` runs them on PostgreSQL (``globals().update(collected_again(...))``)."""
    import importlib.util
    path = Path(__file__).parent / relative
    spec = importlib.util.spec_from_file_location("reused_" + path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if k not in leave_out and (
            k.startswith("test_") or hasattr(v, "_fixture_function_marker") or hasattr(v, "_pytestfixturefunction")
            or type(v).__name__ == "FixtureFunctionDefinition")}
