"""A volume's life (案卷): its particulars and counts, a new title, its filer (立卷人) and checker (检查人),
closing (封卷: no record is filed into or moved out of a closed volume) and re-opening, each audited.

The volume's name (案卷号) is its key: every record carries it in the store, so it stays; what a
rename changes is the title (案卷题名), with the old and new title in the audit event.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.catalogue.volumes import require_named_volume
from dangan.errors import UsageError, WrongState

if TYPE_CHECKING:
    from dangan.core.archive import Archive

STATUSES = ("open", "closed")


def _row(archive: Archive, name: str) -> dict[str, Any]:
    require_named_volume(archive, name)
    row = dict(archive.conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone())
    row.pop("public_key", None)
    row["status"] = "closed" if row.get("closed_at") else "open"
    row["confidential"] = bool(row["confidential"])
    return row


def page_count(rec) -> str:
    """The page count a user gave (``pages``), else the one extracted from the file (``x.pages``)."""
    given = str(rec.metadata.get("pages", "")).strip()
    return given or str(rec.metadata.get("x.pages", "")).strip()


def summary(archive: Archive, name: str, records: list) -> dict[str, Any]:
    """The volume's fields with the counts of ``records`` (those the reader may see, in volume order):
    documents, pages (and how many have none), date range, and status."""
    v = _row(archive, name)
    pages, unknown = 0, 0
    for r in records:
        p = page_count(r)
        if p.isdigit():
            pages += int(p)
        else:
            unknown += 1
    dates = sorted(r.date for r in records if r.date)
    v.update(records=len(records), pages=pages, without_pages=unknown,
             date_from=dates[0] if dates else None, date_to=dates[-1] if dates else None,
             filer=v.get("filer") or v.get("created_by") or "")
    return v


def set_title(archive: Archive, name: str, title: str) -> dict[str, Any]:
    v = _row(archive, name)
    title = title.strip()
    if not title or len(title) > 500 or not title.isprintable():
        raise UsageError("a volume title is one line of 1 to 500 printable characters")
    with archive.transaction() as conn:
        conn.execute("UPDATE volumes SET title = ? WHERE name = ?", (title, name))
        archive.audit(conn, "volume.rename", name, details={"before": v["title"], "after": title})
    return _row(archive, name)


def close(archive: Archive, name: str, *, checker: str, filer: str | None = None, notes: str | None = None) -> dict[str, Any]:
    """Close (封卷) the volume, recording its checker and filer; the checker is not the filer."""
    from dangan.core.policy.users import register_in_use, require_user
    v = _row(archive, name)
    if v["closed_at"]:
        raise WrongState(f"volume {name!r} is closed already (at {v['closed_at'][:16]}, by {v['closed_by']})")
    filer = filer or v.get("filer") or v.get("created_by") or archive.actor.name
    if register_in_use(archive):
        for who in (checker, filer):
            if not require_user(archive, who).active:
                raise UsageError(f"user {who!r} is disabled")
    if checker == filer:
        raise UsageError(f"the checker (检查人) of volume {name!r} checks the filer's (立卷人) work: "
                         f"{checker} cannot be both")
    from dangan.core.kernel.clock import utc_text
    t = utc_text()
    with archive.transaction() as conn:
        conn.execute("UPDATE volumes SET closed_at = ?, closed_by = ?, checker = ?, filer = ?,"
                     " notes = coalesce(?, notes) WHERE name = ?",
                     (t, archive.actor.name, checker, filer, notes, name))
        archive.audit(conn, "volume.close", name, details={"checker": checker, "filer": filer,
                                                           "records": _count(conn, name)})
    return _row(archive, name)


def reopen(archive: Archive, name: str, *, reason: str) -> dict[str, Any]:
    """Re-open a closed volume; the reason is kept in the audit event (the checker's check no longer holds)."""
    v = _row(archive, name)
    if not v["closed_at"]:
        raise WrongState(f"volume {name!r} is open: there is nothing to re-open")
    if not reason.strip():
        raise UsageError("re-opening a closed volume needs --reason")
    with archive.transaction() as conn:
        conn.execute("UPDATE volumes SET closed_at = NULL, closed_by = NULL WHERE name = ?", (name,))
        archive.audit(conn, "volume.reopen", name, details={"reason": reason, "closed_at": v["closed_at"],
                                                            "closed_by": v["closed_by"], "checker": v["checker"]})
    return _row(archive, name)


def _count(conn, name: str) -> int:
    return conn.execute("SELECT count(*) FROM records WHERE volume = ? AND status != 'destroyed'",
                        (name,)).fetchone()[0]
