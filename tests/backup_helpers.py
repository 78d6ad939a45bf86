"""Helpers shared by the backup tests: a repository, the key, and destruction with the backup hook."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

PASS = "correct horse battery 档案"


def open_repo(path: Path):
    from dangan.repository.backup.repo import open_repository
    from dangan.repository.backup.target import DirectoryTarget
    return open_repository(DirectoryTarget(path), PASS.encode())


def snapshots(cli, repo: Path) -> list[dict]:
    return [json.loads(line) for line in cli("backup", "list", "--repo", repo, "--json").output.splitlines()]


def plaintexts(repo: Path):
    """(blob name, plaintext) of every blob in the repository."""
    r = open_repo(repo)
    for name, _size in r.target.list("data/"):
        yield name, _decrypt_any(r, name)


def _decrypt_any(r, name: str) -> bytes:
    from dangan.repository.crypto import decrypt_bytes
    return decrypt_bytes(r.target.get(name), r._data_key, r._binding("blob", name))


def destroy(archive_root: Path, rid: str, reason: str = "retention expired") -> dict:
    """destroy_record, plus the backup hook if destruction does not call it yet (it is wired by its owner)."""
    from dangan.core.backup import api as backup
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    a = Archive(archive_root)
    try:
        cert = destroy_record(a, rid, reason=reason, approved_by="总经理")
        owed = a.conn.execute("SELECT COUNT(*) FROM backup_purges WHERE record_id = ?", (rid,)).fetchone()[0]
        if not owed:
            with a.transaction() as conn:
                backup.note_destruction(a, conn, rid, cert)
        return cert
    finally:
        a.close()


def catalogue_rows(db: bytes | Path, rid: str) -> list[tuple]:
    if isinstance(db, Path):
        conn = sqlite3.connect(db)
    else:
        conn = sqlite3.connect(":memory:")
        conn.deserialize(db)
    try:
        return conn.execute("SELECT status, title, version FROM records WHERE id = ?", (rid,)).fetchall()
    finally:
        conn.close()
