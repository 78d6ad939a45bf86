"""Core's side of the plugin contract: loading the facade for an archive and
the read-only contexts plugins see (records, volumes, events) over the catalogue.

Core talks to plugins only through ``dangan.plugins.manager.Plugins``.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Iterable

from dangan.model import Record
from dangan.core.catalogue import records as record_rows

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def load_plugins(archive: Archive):
    """The plugin facade for ``archive`` (built-ins, enabled departments, entry points, ARCHIVE/plugins)."""
    from dangan.plugins.manager import Plugins
    cfg = archive.config
    return Plugins.load(plugin_dirs=[archive.root / "plugins"], enabled=cfg.plugins_enabled,
                        disabled=cfg.plugins_disabled, extra_plugins=list(archive.extra_plugins))


class ArchiveContext:
    """``ReportContext`` / ``RecordContext`` over the catalogue, as of a date."""

    def __init__(self, archive: Archive, as_of: dt.date | None = None, visible=None) -> None:
        self.archive = archive
        self.as_of = as_of or dt.date.today()
        self._visible = visible          # callable(record) -> bool: the actor's clearance filter

    def records(self, *, category: str | None = None, department: str | None = None,
                volume: str | None = None, status: str | None = None) -> Iterable[Record]:
        where, params = ["substr(created, 1, 10) <= ?"], [self.as_of.isoformat()]
        for col, val in (("category", category), ("department", department), ("volume", volume),
                         ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        for rec in record_rows.list_records(self.archive.conn, " AND ".join(where), params, sort="created"):
            if self._visible is None or self._visible(rec):
                yield rec

    def volume(self, volume_id: str):
        from dangan.plugins.types import VolumeInfo
        row = self.archive.conn.execute("SELECT * FROM volumes WHERE name = ?", (volume_id,)).fetchone()
        if row is None:
            return None
        return VolumeInfo(id=row["name"], title=row["title"], secrecy=row["secrecy"], year=row["year"])

    def last_event(self, record_id: str, event_type: str) -> dt.datetime | None:
        row = self.archive.conn.execute(
            "SELECT max(time) AS t FROM audit WHERE object = ? AND action = ?", (record_id, event_type)).fetchone()
        if not row or not row["t"]:
            return None
        return dt.datetime.fromisoformat(row["t"].replace("Z", "+00:00"))


class Classifier:
    """What ingest asks of the plugins: classify, validate, archival code, after-archive alerts."""

    def __init__(self, archive: Archive, plugins) -> None:
        self.archive = archive
        self.plugins = plugins
        self._classes: dict[str, str] = {}

    def prepare(self, rec: Record, declared_secrecy: str | None = None) -> None:
        """Apply the scheme (defaults, filing year, retention, status), then validate; may refuse.

        A scheme that requires the secrecy declared (construction, clause 6) takes ``--secrecy``: it
        need not be given again as ``--meta secrecy=``."""
        if not rec.category:
            return               # unclassified: archived without an archival code (ingest warns)
        cat = self.plugins.schemes().get(rec.category)
        if declared_secrecy and cat is not None and "secrecy" in cat.required_fields:
            rec.metadata.setdefault("secrecy", declared_secrecy)
        ctx = ArchiveContext(self.archive)
        c = self.plugins.classify(rec, ctx)
        for name in ("secrecy", "department", "year", "retention", "status"):
            setattr(rec, name, getattr(c.record, name))
        if rec.volume is None:
            rec.volume = c.filing.volume_key
        self.plugins.validate(rec, ctx).raise_if_blocked(f"record {rec.title!r}")
        self._classes[rec.id] = c.archival_class

    def piece_class(self, rec: Record) -> str | None:
        return self._classes.get(rec.id)

    def archival_code(self, rec: Record, piece: int) -> str:
        return self.plugins.archival_code(rec, piece)

    def after_archive(self, rec: Record, archive: Archive | None = None) -> list:
        """The plugins' alerts for a newly archived record, stored through ``archive`` (default: this one's)."""
        from dangan.core.management.alerts import store_alerts
        alerts = self.plugins.after_archive(rec)
        if alerts:
            store_alerts(archive or self.archive, alerts)
        return alerts


def access_rules_possible(archive: Archive) -> bool:
    """Could any plugin have an access rule?  Answered without loading plugins when it can be.

    Commands that only read the catalogue (`show`, `ls`) must start fast; loading pluggy and every
    plugin costs ~45 ms, so it is done only when a plugin with access rules may be present.
    """
    if "plugins" in archive.__dict__:
        return archive.plugins.implements("dangan_access")
    if archive.extra_plugins:
        return True
    from dangan.plugins.shipped import BUILTIN, shipped_implementing
    on = (BUILTIN | set(archive.config.plugins_enabled or ())) - set(archive.config.plugins_disabled)
    if on & shipped_implementing("dangan_access") or any((archive.root / "plugins").glob("*.py")):
        return True
    return _entry_points_present()


def _entry_points_present() -> bool:
    """Is any distribution on sys.path declaring a ``dangan.plugins`` entry point?  (A light scan of
    ``*.dist-info/entry_points.txt``; importlib.metadata would import the email package.)"""
    import os
    import sys
    for base in sys.path:
        try:
            entries = os.scandir(base or ".")
        except OSError:
            continue
        with entries:
            for e in entries:
                if e.name.endswith((".dist-info", ".egg-info")):
                    try:
                        with open(os.path.join(e.path, "entry_points.txt"), encoding="utf-8") as fh:
                            if "[dangan.plugins]" in fh.read():
                                return True
                    except OSError:
                        continue
    return False
