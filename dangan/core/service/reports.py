"""Running reports: a plugin's report or core's statistics, resolved, checked and audited in core."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user
from dangan.errors import UsageError

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.plugins.types import ReportResult


def run_stats(archive: Archive, by: str = "department,year") -> dict[str, Any]:
    """Core's statistics grouped by the comma-separated fields of ``by``; audited as ``report.run``."""
    from dangan.core.management.statistics import stats

    acting_user(archive, action="report", obj="stats")
    out = stats(archive, [b.strip() for b in by.split(",") if b.strip()])
    with archive.transaction() as conn:
        archive.audit(conn, "report.run", details={"report": "stats", "rows": len(out["rows"]), "by": by,
                                                   "core": True})
    return out


def run_report(archive: Archive, name: str, params: dict[str, str] | None = None,
               as_of: dt.date | None = None) -> ReportResult:
    """Run the plugin report ``name`` as the acting user sees the archive; audited as ``report.run``."""
    from dangan.core.kernel.plugin_host import ArchiveContext
    from dangan.core.policy.access import visibility

    acting_user(archive, action="report", obj=name)
    params = dict(params or {})
    if name == "stats" and "stats" not in archive.plugins.reports():
        raise UsageError("stats is core's report: run it with run_stats")
    result = archive.plugins.run_report(name, ArchiveContext(archive, as_of, visibility(archive)), **params)
    with archive.transaction() as conn:
        archive.audit(conn, "report.run", details={"report": name, "rows": len(result.rows),
                                                   "as_of": str(as_of or "")})
    return result


def statistics(archive: Archive, by: str = "department,year") -> dict[str, Any]:
    """``dangan stats``: core's statistics grouped by the comma-separated fields of ``by`` (a reading of the
    catalogue, not a report run: not audited, as before)."""
    from dangan.core.management.statistics import stats

    return stats(archive, [b.strip() for b in by.split(",") if b.strip()])
