"""``dangan status``: what the archive is doing, as a list of sections.

Each section is a function ``(archive) -> Section``; ``SECTIONS`` lists them
in the order they are shown.  To add one (backup age, say), write a function
here and append it to ``SECTIONS`` — the command, its text and its ``--json``
output pick it up with no other change::

    def backup_section(archive: Archive) -> Section:
        age = ...
        return Section("backups", {"last": ..., "age_hours": age}, [f"last backup {age:.0f} h ago"])

    SECTIONS.append(backup_section)
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from dangan.repository.fsutil import pid_alive
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive


@dataclass
class Section:
    name: str                                   # the key in --json output
    data: dict[str, Any]                        # plain JSON-able values
    lines: list[str] = field(default_factory=list)    # the text form, one line each
    problem: bool = False                       # something needs a person's attention


def watcher_section(archive: Archive) -> Section:
    from dangan.core.watch.lock import lock_held, read_state
    state = read_state(archive.root)
    running = lock_held(archive.root)
    data: dict[str, Any] = {"running": running, "pid": None, "host": None, "started": None, "heartbeat_age": None,
                            "stale": False}
    if state:
        data.update(pid=state.get("pid"), host=state.get("host"), started=_iso(state.get("started")),
                    heartbeat_age=round(time.time() - state.get("heartbeat", 0), 1), counts=state.get("counts", {}))
    if not running and state and not state.get("stopped"):
        # the lock is free but the state file says nobody stopped: the watcher died (kill -9, crash, reboot)
        same_host = state.get("host") == socket.gethostname()
        data["stale"] = not same_host or not pid_alive(state.get("pid", 0))
    if running:
        lines = [f"watcher running: pid {data['pid']} on {data['host']}, since {data['started']}"
                 f" (heartbeat {data['heartbeat_age']} s ago)"]
    elif data["stale"]:
        lines = [f"watcher NOT running: stale state of pid {data['pid']} on {data['host']} (it died; restart it)"]
    else:
        lines = ["watcher not running"]
    return Section("watcher", data, lines, problem=bool(data["stale"]))


def queues_section(archive: Archive) -> Section:
    from dangan.core.store import deferred
    from dangan.core.search import indexing
    from dangan.core.watch.lock import lock_held, read_state
    to_archive, folders = _waiting(archive, lock_held(archive.root), read_state(archive.root))
    data = {"to_archive": to_archive, "to_extract": deferred.pending(archive), "to_index": indexing.pending(archive),
            "folders": folders}
    lines = [f"to archive {data['to_archive']}, to extract {data['to_extract']}, to index {data['to_index']}"]
    return Section("queues", data, lines)


def errors_section(archive: Archive) -> Section:
    from dangan.core.store import deferred
    from dangan.core.watch.handoff import last_errors
    recent = last_errors(archive)
    failed = deferred.failures(archive)
    quarantined = sum(f["quarantined"] for f in _known_folders(archive))
    data = {"quarantined": quarantined, "last_errors": recent, "extraction_failures": failed}
    lines = [f"quarantined files: {quarantined}"]
    for e in recent:
        where = "" if e["path"] and e["path"] in (e["reason"] or "") else (e["path"] or f"a file in {e['folder']}") + ": "
        lines.append(f"  {e['at']}  {where}{e['reason']}")
    for f in failed:
        lines.append(f"  {f['last_attempt']}  record {f['record_id']}: extraction: {f['last_error']}")
    return Section("errors", data, lines, problem=bool(quarantined or failed))


def backup_section(archive: Archive) -> Section:
    """Age of the last good backup; a warning when it is older than ``[backup] interval_hours``."""
    from dangan.core.backup.api import backup_status
    st = backup_status(archive)
    line = ("warning: " if st.get("overdue") else "") + str(st.get("message", ""))
    return Section("backup", st, [line] if line else [])


def antivirus_section(archive: Archive) -> Section:
    """Whether intake files are checked for viruses, by what, with which signatures (issue 18.7)."""
    from dangan.core.store.antivirus import Antivirus
    data = Antivirus.of(archive.config, archive.root).status()
    problem = data["engine"] is None and data["enabled"] == "on"       # every file would be refused
    warn = data["engine"] is None and data["enabled"] != "off"
    return Section("antivirus", data, [("virus check: warning: " if warn else "virus check: ") + data["message"]],
                   problem=problem)


def search_nodes_section(archive: Archive) -> Section:
    """Every search node of the archive (a folder with its own index, ``search.nodes``): where it is, how many
    changes of the catalogue's change log it has yet to apply, when it was last seen (issue 17)."""
    from dangan.core.catalogue import outbox
    from dangan.core.search.nodes import existing_node_id
    here = existing_node_id(archive)
    top = archive.conn.execute("SELECT max(seq) FROM index_outbox").fetchone()[0] or 0
    rows = []
    for n in outbox.nodes(archive.conn):
        rows.append({"node": n["node_id"], "host": n["host"], "folder": n["folder"], "applied": n["applied"],
                     "behind": max(0, top - n["applied"]), "seen": n["seen"], "this": n["node_id"] == here})
    lines = [f"search node {r['node'][:8]} on {r['host']} ({r['folder']}){' (this one)' if r['this'] else ''}:"
             f" {r['behind']} changes to apply, seen {r['seen']}" for r in rows]
    return Section("search_nodes", {"nodes": rows, "newest_change": top}, lines)


SECTIONS: list[Callable[[Any], Section]] = [watcher_section, queues_section, errors_section, backup_section,
                                            antivirus_section, search_nodes_section]


def collect(archive: Archive) -> list[Section]:
    return [section(archive) for section in SECTIONS]


# -- helpers -------------------------------------------------------------------------
def _known_folders(archive: Archive) -> list[dict]:
    """Drop folders from dangan.toml and from the watcher's state file, with their quarantine counts."""
    from dangan.core.watch.config import DropFolder, configured_folders
    from dangan.core.watch.files import quarantined
    from dangan.core.watch.lock import read_state
    seen: dict[str, DropFolder] = {str(f.path): f for f in configured_folders(archive.config, archive.root)}
    for f in (read_state(archive.root) or {}).get("folders", []):
        seen.setdefault(f["path"], DropFolder(path=Path(f["path"])))
    return [{"path": p, "quarantined": quarantined(f)} for p, f in seen.items()]


def _waiting(archive: Archive, running: bool, state: dict | None) -> tuple[int, list[dict]]:
    """Files waiting in drop folders: the running watcher's count, else a scan of the configured folders."""
    if running and state:
        return int(state.get("waiting", 0)), [{"path": f["path"], "waiting": f.get("waiting", 0)}
                                              for f in state.get("folders", [])]
    from dangan.core.watch.config import configured_folders
    from dangan.core.watch.files import scan
    folders: list[dict[str, Any]] = []
    for f in configured_folders(archive.config, archive.root):
        n = sum(1 for _ in scan(f)) if f.path.is_dir() else 0
        folders.append({"path": str(f.path), "waiting": n})
    return sum(f["waiting"] for f in folders), folders


def _iso(t: float | None) -> str | None:
    if not t:
        return None
    import datetime as dt
    return utc_text(dt.datetime.fromtimestamp(t, dt.timezone.utc))

