"""Every core call the web face makes, in one place (pages and API call these, never core directly).

Each function takes the per-request ``Archive`` (its actor is the signed-in user) and calls the
``core.service`` function (search and facets, records with files and thumbnails, lending, registers, reports,
audit, alerts, volumes and their unlocks, users) — the same calls the CLI makes.  Sign-in, sessions, tokens
and web passwords are ``core.policy.credentials``'s (no service layer above them yet).  No policy check lives
here: a refusal comes from core as ``AccessDenied`` (audited there) and the face renders it.  When
``core.service`` grows a function for an operation, it is switched here and nowhere else.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dangan.errors import AccessDenied
from dangan.model import Record



def me(archive):
    """The signed-in user as core resolves them (unknown or disabled: refused there, audited)."""
    from dangan.core.service.users import current
    return current(archive, action="use the web face")


# -- search -----------------------------------------------------------------------------------

def search(archive, text: str, *, sort: str = "relevance", limit: int = 20, page: int = 1):
    """As ``dangan search``: the index made fresh, hits filtered by the actor's view rights."""
    from dangan.core.service.search import search as run
    return run(archive, text, sort=sort, limit=max(1, min(limit, 100)), page=max(1, page))


def close(archive) -> None:
    """At shutdown: the search indexes kept open between searches are dropped."""
    from dangan.core.service.search import release_indexes
    release_indexes()


def follow_changes(root: Path, interval: float):
    """A thread keeping this server's search index following the catalogue's change log (changes filed through
    other nodes become searchable here within ``interval`` seconds); stop it with ``.stop()``."""
    import threading

    from dangan.core.service.search import follow
    from dangan.web.context import web_actor
    stop = threading.Event()

    def run() -> None:
        from dangan.core.archive import Archive
        archive = Archive(root, web_actor(None))
        try:
            follow(archive, stop, interval)
        finally:
            archive.close()

    thread = threading.Thread(target=run, name="dangan-follow-changes", daemon=True)
    thread.stop = lambda: (stop.set(), thread.join(10))   # type: ignore[attr-defined]
    thread.start()
    return thread


def facets(archive, text: str) -> dict[str, dict[str, int]]:
    """Counts by department, year, category, secrecy, volume and format over all the search's hits."""
    from dangan.core.service.search import facets as run
    return run(archive, text)


# -- records ------------------------------------------------------------------------------------

@dataclass
class Shown:
    """A record as the actor may see it: ``denied`` → only id and secrecy mark are known."""
    record: Record | None
    id: str
    secrecy: str
    denied: str | None = None
    locked: bool = False
    versions: list[dict] | None = None


def record(archive, ref: str, version: int | None = None) -> Shown:
    """As ``dangan show``: ``view`` asked at the policy point (refusals audited there); a refusal leaves only
    the id and the secrecy marking known."""
    from dangan.core.service.records import show
    try:
        view = show(archive, ref, version)
    except AccessDenied as exc:
        rec = archive.record(ref, version)
        return Shown(None, rec.id, rec.secrecy or "public", denied=exc.message)
    rec = view.record
    return Shown(rec, rec.id, rec.secrecy or "public", locked=view.locked, versions=view.versions)


def open_file(archive, ref: str, n: int, *, version: int | None = None, byte_range: str | None = None,
              via: str = "web"):
    """As ``dangan get``: policy ``read`` and the loan policy in core, one ``record.retrieve`` event."""
    from dangan.core.service.records import open_file as run
    return run(archive, ref, n, version=version, byte_range=byte_range, via=via)


def thumbnail(archive, ref: str) -> bytes | None:
    """The PNG thumbnail of a record's main file, if the actor may view the record (refusals audited in core)."""
    from dangan.core.service.records import thumbnail as run
    return run(archive, ref)


#: Main-file formats the extraction worker draws a thumbnail of (``extractors/thumbnail.py``).
THUMBNAIL_MIMES = ("application/pdf", "application/ofd")


def has_thumbnail_kind(mime: str | None, locked: bool = False) -> bool:
    """Whether a page should ask for a thumbnail (a sealed record keeps none; a failed drawing answers 404)."""
    return bool(mime) and not locked and (str(mime).startswith("image/") or mime in THUMBNAIL_MIMES)


def ingest(archive, path: Path, fields: dict[str, Any]) -> Record:
    """As ``dangan ingest FILE``: the registered-user check, the plugins' validation, the pipeline; a refusal
    is raised as the error its exit code names (422 for a validation rule, 409 for a duplicate…)."""
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.service.records import ingest as run
    outcome = run(archive, [path], RecordFields(**fields), create_volume=False)[0]
    if outcome.status != "archived":
        message = outcome.message
        for prefix in (f"{path}: ", f"{outcome.source}: "):       # the spool's path is no business of the user
            message = message.removeprefix(prefix)
        message = message.replace(str(path), path.name)
        if outcome.status == "duplicate" and outcome.record_id:
            from dangan.errors import DuplicateRecord
            raise DuplicateRecord(message, outcome.record_id)      # which record holds it (an API retry's answer)
        raise _error_for(outcome.exit_code)(message)
    return archive.record(outcome.record_id)


def extraction_queued(archive, rid: str) -> bool:
    """Its text is extracted later by ``dangan worker`` (``[ingest] extraction = "workers"``)."""
    from dangan.core.service.records import extraction_queued as run
    return run(archive, rid)


def _error_for(code: int):
    from dangan import errors
    for cls in (errors.ValidationFailed, errors.DuplicateRecord, errors.AccessDenied, errors.NotFound,
                errors.FileRefused, errors.CryptoError, errors.StorageFull, errors.LockTimeout, errors.UsageError):
        if cls.exit_code == code:
            return cls
    return errors.DanganError


def category(archive, code: str | None):
    if not code:
        return None
    return archive.plugins.schemes().get(code)


def categories(archive) -> list:
    return [r.category for r in archive.plugins.schemes()]


# -- lending -------------------------------------------------------------------------------------

def loans(archive, **filters):
    from dangan.core.service.registers import loans as run
    return run(archive, **filters)


def loan(archive, lid: str) -> dict:
    from dangan.core.service.registers import loan as run
    return run(archive, lid)


def lend_request(archive, refs: list[str], purpose: str, days: int | None) -> dict:
    from dangan.core.service.lending import request
    return request(archive, refs, purpose=purpose, days=days)


def lend_approve(archive, lid: str, note: str = "") -> dict:
    from dangan.core.service.lending import approve
    return approve(archive, lid, note)


def lend_refuse(archive, lid: str, reason: str) -> dict:
    from dangan.core.service.lending import refuse
    return refuse(archive, lid, reason)


def lend_issue(archive, lid: str, refs: list[str]) -> dict:
    from dangan.core.service.lending import issue
    return issue(archive, lid, refs)


def lend_return(archive, lid: str, refs: list[str], condition: str = "intact", *, everything: bool = False) -> dict:
    from dangan.core.service.lending import return_items
    return return_items(archive, lid, refs, condition=condition, everything=everything)


# -- registers, audit, statistics -------------------------------------------------------------------

def holds(archive, *, include_released: bool = False):
    from dangan.core.service.registers import holds as run
    return run(archive, include_released=include_released)


#: Who places and releases holds (the roles core's ``management.holds`` asks for), to show the forms.
HOLD_ROLES = ("legal", "archivist", "admin")


def hold_place(archive, refs: list[str], *, volume: str | None, query: str | None, reason: str,
               authority: str) -> dict:
    """As ``dangan hold add``: records, a volume or a query's records (legal, archivist, admin)."""
    from dangan.core.service.holds import add
    return add(archive, refs, volume=volume, query=query, reason=reason, authority=authority)


def hold_release(archive, hid: str, reason: str) -> dict:
    from dangan.core.service.holds import release
    return release(archive, hid, reason)


def stats(archive, by: str = "department,year"):
    from dangan.core.service.reports import run_stats
    return run_stats(archive, by)


def backup_status(archive) -> dict:
    """As ``dangan status``'s backup section: the age of the last good backup, overdue past the interval."""
    from dangan.core.service.backup import status
    me(archive)
    return status(archive)


def audit_events(archive, *, actor: str = "", action: str = "", record: str = "", since: str = "",
                 until: str = "", limit: int = 200) -> list:
    """As ``dangan audit log``: the whole trail to auditors and admins, to others the events they may see;
    newest first, filtered by actor, action, record and date."""
    from dangan.core.service.audit import log
    evs = log(archive, ref=record or None, action=action or None)
    evs = [e for e in evs if (not actor or e.actor == actor) and (not since or e.time[:10] >= since)
           and (not until or e.time[:10] <= until)]
    return list(reversed(evs))[:max(1, min(limit, 1000))]


# -- disposition and alerts -------------------------------------------------------------------------

def disposition_due(archive):
    from dangan.core.service.disposition import due
    return due(archive)


def destruction_lists(archive):
    from dangan.core.service.registers import destruction_lists as run
    return run(archive)


def destruction_list(archive, lid: str):
    from dangan.core.service.registers import destruction_list as run
    return run(archive, lid)


def destruction_propose(archive, refs: list[str], reason: str):
    from dangan.core.service.disposition import propose
    return propose(archive, refs, reason=reason)


def destruction_decide(archive, lid: str, verdict: str, note: str):
    from dangan.core.service import disposition
    return disposition.approve(archive, lid, note) if verdict == "approve" else disposition.reject(archive, lid, note)


def destruction_plan(archive, lid: str):
    from dangan.core.service.disposition import plan
    return plan(archive, lid)


def destruction_execute(archive, lid: str):
    from dangan.core.service.disposition import execute
    return execute(archive, lid)


def alerts(archive) -> list[dict]:
    """Open alerts addressed to the signed-in user (by name or by one of their roles)."""
    from dangan.core.service.alerts import addressed
    return addressed(archive)


def acknowledge_alert(archive, alert_id: str) -> dict:
    """Acknowledge an alert addressed to the signed-in user (anyone else is refused in core, audited)."""
    from dangan.core.service.alerts import acknowledge_addressed
    return acknowledge_addressed(archive, alert_id)


# -- volumes and users ---------------------------------------------------------------------------------

def volumes(archive) -> list[dict]:
    """As ``dangan volume list``: volumes within the user's clearance, counting only records within it."""
    from dangan.core.service.volumes import listing
    return listing(archive)


def volume_contents(archive, name: str) -> list[Record]:
    from dangan.core.service.records import ls
    return ls(archive, volume=name, sort="code")


def volume_report(archive, report: str, name: str):
    """A plugin's volume report (``contents_list``, ``reference_sheet``), or None when no plugin offers it."""
    if report not in archive.plugins.reports():
        return None
    from dangan.core.service.reports import run_report
    return run_report(archive, report, {"volume": name})


def unlock_volume(archive, name: str, passphrase: str, minutes: float | None) -> float:
    """As ``dangan volume unlock``: for the signed-in user (unlocks are per user and volume), if cleared."""
    from dangan.core.service.volumes import check_unlock, unlock
    check_unlock(archive, name)                    # an uncleared user is refused before the passphrase is used
    return unlock(archive, name, passphrase=passphrase.encode("utf-8"), minutes=minutes)


def lock_volume(archive, name: str) -> list[str]:
    from dangan.core.service.volumes import lock
    return lock(archive, name)


def serve_here(workers: int) -> None:
    """This process is the server: volumes a security officer unlocks for the server are held in its memory."""
    from dangan.core.service.volumes import serve_here as run
    run(workers)


def unlock_for_server(archive, name: str, passphrase: str, minutes: float | None) -> float:
    """As ``unlock_volume``, by a security officer, for every user of this server cleared for the volume."""
    from dangan.core.service.volumes import check_unlock, unlock_for_server as run
    check_unlock(archive, name)                    # an uncleared user is refused before the passphrase is used
    return run(archive, name, passphrase=passphrase.encode("utf-8"), minutes=minutes)


def lock_for_server(archive, name: str) -> bool:
    from dangan.core.service.volumes import lock_for_server as run
    return run(archive, name)


def forget_server_keys() -> None:
    """At shutdown: every volume unlocked for the server is locked (the keys leave memory)."""
    from dangan.core.confidential.server_keys import clear
    clear()


def users(archive):
    from dangan.core.service.registers import users as run
    return run(archive)


def set_password(archive, name: str, password: str) -> None:
    from dangan.core.service.users import set_password as run
    run(archive, name, password)


def today() -> str:
    return dt.date.today().isoformat()
