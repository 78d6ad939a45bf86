"""Volumes (案卷) as a user works with them: creation, keys (confidential ones are encrypted under their own),
and their life — show, rename (the title), close (封卷) and re-open, each with the acting user resolved and the
role checked in core; the work and the audit of a volume's life are ``management.volume_life``'s.

Passphrases arrive as bytes from the face (a file descriptor, a prompt, the environment), never on argv.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user, register_in_use, require_role

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.volumes import Volume


def needs_new_keystore(archive: Archive) -> bool:
    """True while no keystore exists: creating a confidential volume then sets one up (a new passphrase)."""
    from dangan.core.catalogue.volumes import keystore_path
    return not keystore_path(archive).exists()


def create(archive: Archive, name: str, secrecy: str, *, title: str = "", department: str | None = None,
           year: int | None = None, category: str | None = None, retention: str | None = None,
           passphrase: bytes | None = None, keyfile: Path | None = None) -> Volume:
    """Create a volume; a confidential one gets its own key pair in the keystore."""
    from dangan.core.catalogue.volumes import create_volume
    acting_user(archive, action="create volumes", obj=name)
    return create_volume(archive, name, secrecy, title=title, department=department, year=year, category=category,
                         retention=retention, passphrase=passphrase, keyfile=keyfile)


def listing(archive: Archive) -> list[dict[str, Any]]:
    """Volumes within the acting user's clearance, with record counts and whether they are unlocked."""
    from dangan.core.policy.disclosure import volume_list
    acting_user(archive, action="list volumes")
    return volume_list(archive)


def check_unlock(archive: Archive, name: str) -> Volume:
    """Refuse a user not cleared for the volume (audited) before the face asks for a passphrase."""
    from dangan.core.catalogue.volumes import check_unlock as run
    return run(archive, name)


def unlock(archive: Archive, name: str, *, passphrase: bytes | None = None, keyfile: Path | None = None,
           minutes: float | None = None) -> float:
    """Unlock a confidential volume for the acting user; the seconds it stays unlocked."""
    from dangan.core.catalogue.volumes import unlock as run
    return run(archive, name, passphrase=passphrase, keyfile=keyfile, minutes=minutes)


#: Who unlocks a volume for the whole server (``users.ROLES``: "keys of confidential volumes").
SERVER_UNLOCKERS = ("security-officer",)


def serve_here(workers: int = 1) -> None:
    """Called once by a server face at start: this process may hold volumes unlocked for the server."""
    from dangan.core.confidential import server_keys
    server_keys.enable(workers)


def unlock_for_server(archive: Archive, name: str, *, passphrase: bytes | None = None, keyfile: Path | None = None,
                      minutes: float | None = None) -> float:
    """A security officer cleared for the volume unlocks it for this server process: its sealed records are then
    open to every user cleared for the volume, until ``minutes`` pass (``[keystore] unlock_minutes`` without)
    or the officer locks it.  The key stays in this process's memory (``confidential.server_keys``).  Audited
    as ``volume.unlock`` with ``for: server``; the relock at expiry as ``volume.lock`` with ``reason: expired``.
    The seconds it stays unlocked."""
    import datetime as dt

    from dangan.core.catalogue.volumes import check_unlock, open_keystore, unlock_seconds
    from dangan.core.confidential import server_keys
    from dangan.core.confidential.agent import harden_process
    from dangan.errors import CryptoError, UsageError
    officer = require_role(archive, SERVER_UNLOCKERS, "unlock volumes for the server", obj=name)
    vol = check_unlock(archive, name)              # confidential, and the officer cleared for it (refusal audited)
    why = server_keys.refusal()
    if why:
        raise UsageError(why)
    harden_process()
    ks = open_keystore(archive)
    try:
        private = ks.volume_private_key(vol.id, ks.unlock_kek(passphrase=passphrase, keyfile=keyfile))
    except CryptoError as exc:
        archive.record_event("volume.unlock", vol.name, "failure", details={"for": "server", "reason": exc.message})
        raise
    seconds = minutes * 60 if minutes is not None else unlock_seconds(archive)
    until = server_keys.put(vol.id, private, seconds, by=officer.name,
                            on_expiry=_audit_expiry(archive.root, archive.actor, vol.name))
    archive.record_event("volume.unlock", vol.name, details={
        "for": "server", "seconds": seconds,
        "until": dt.datetime.fromtimestamp(until, dt.timezone.utc).isoformat(timespec="seconds")})
    return seconds


def lock_for_server(archive: Archive, name: str) -> bool:
    """A security officer locks a volume unlocked for the server (audited); True if it was unlocked."""
    from dangan.core.catalogue.volumes import require_volume
    from dangan.core.confidential import server_keys
    require_role(archive, SERVER_UNLOCKERS, "lock volumes for the server", obj=name)
    vol = require_volume(archive, name)
    held = server_keys.drop(vol.id)
    archive.record_event("volume.lock", vol.name, details={"for": "server", "was_unlocked": held})
    return held


def _audit_expiry(root: Path, actor, name: str):
    """The relock at expiry, audited in the officer's name from an archive of its own (the timer's thread
    has no request, and a request's archive is another thread's)."""
    def report() -> None:
        from dangan.core.archive import Archive
        with Archive(root, actor) as archive:
            archive.record_event("volume.lock", name, details={"for": "server", "reason": "expired"})
    return report


def lock(archive: Archive, name: str | None = None) -> list[str]:
    """Lock a volume the acting user unlocked (all of theirs without ``name``); the names locked."""
    from dangan.core.catalogue.volumes import lock as run
    acting_user(archive, action="lock volumes", obj=name or "")
    return run(archive, name)


def rotate_key(archive: Archive, name: str, *, passphrase: bytes | None = None, keyfile: Path | None = None) -> None:
    """A new key pair for a volume; record keys are re-wrapped, ciphertext is unchanged."""
    from dangan.core.catalogue.volumes import rotate
    acting_user(archive, action="rotate volume keys", obj=name)
    rotate(archive, name, passphrase=passphrase, keyfile=keyfile)


def export_keys(archive: Archive, names: Iterable[str], dest: Path, *, passphrase: bytes | None,
                keyfile: Path | None, export_passphrase: bytes) -> None:
    """Volume keys (all without ``names``) into a file protected by its own passphrase (for escrow)."""
    from dangan.core.catalogue.volumes import export_keys as run
    acting_user(archive, action="export volume keys")
    run(archive, list(names), Path(dest), passphrase=passphrase, keyfile=keyfile, export_passphrase=export_passphrase)


#: Who closes a volume and names its title: the archive's staff.
KEEPERS = ("archivist", "admin")
#: Who re-opens a closed one: it undoes the checker's check.
REOPENERS = ("manager", "admin")


def _require(archive: Archive, roles, what: str, name: str) -> None:
    if register_in_use(archive):
        require_role(archive, roles, what, obj=name)
    else:
        acting_user(archive, action=what, obj=name)


def show(archive: Archive, name: str) -> dict[str, Any]:
    """The volume's fields, counts (of the records the user may see), pages, date range, retention, filer,
    checker and status, with its records in volume order (``items``: item number, id, code, title, date)."""
    from dangan.core.service.forms import volume_contents
    require_cleared_for(archive, name)
    volume, records, _summary = volume_contents(archive, name)
    volume["items"] = [{"item": i, "id": r.id, "archival_code": r.archival_code, "title": r.title, "date": r.date}
                       for i, r in enumerate(records, 1)]
    return volume


def require_cleared_for(archive: Archive, name: str) -> None:
    """The volume exists and the acting user is cleared for its secrecy (a refusal is audited)."""
    from dangan.core.catalogue.volumes import require_named_volume
    from dangan.core.policy.users import clearance_rank, deny
    from dangan.model import secrecy_rank
    u = acting_user(archive, action="view volumes", obj=name)
    vol = require_named_volume(archive, name)
    if register_in_use(archive) and clearance_rank(u.clearance) < secrecy_rank(vol.secrecy):
        raise deny(archive, "view volumes", name, f"{u.name} (clearance {u.clearance}) is not cleared for the "
                   f"{vol.secrecy} volume {name!r}")


def rename(archive: Archive, name: str, title: str) -> dict[str, Any]:
    from dangan.core.management.volume_life import set_title
    _require(archive, KEEPERS, "rename volumes", name)
    return set_title(archive, name, title)


def close(archive: Archive, name: str, *, checker: str, filer: str | None = None,
          notes: str | None = None) -> dict[str, Any]:
    from dangan.core.management.volume_life import close as run
    _require(archive, KEEPERS, "close volumes", name)
    return run(archive, name, checker=checker, filer=filer, notes=notes)


def reopen(archive: Archive, name: str, *, reason: str) -> dict[str, Any]:
    from dangan.core.management.volume_life import reopen as run
    _require(archive, REOPENERS, "re-open closed volumes", name)
    return run(archive, name, reason=reason)


def move(archive: Archive, ref: str, volume: str, message: str = "", *, reason: str = ""):
    """Move a record into another volume under the filing rules: the volume exists, is open, and may hold the
    record's secrecy; neither volume is closed.  Between plain volumes: a new version whose ``changes`` say
    from and to.  Into a confidential volume: the record is sealed as if filed there (``volume_move.seal_into``:
    a new sealed object, the plaintext one purged).  Out of one: a request a security officer approves
    (``volume_move.request_out``; the request is returned, a dict, instead of the record)."""
    from dataclasses import replace

    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.catalogue.volumes import file_into, require_named_volume
    from dangan.core.management import volume_move
    from dangan.core.service.records import revise
    acting_user(archive, action="move records", obj=ref)
    rec = archive.record(ref)
    target = require_named_volume(archive, volume)
    if rec.volume == target.name:
        from dangan.errors import UsageError
        raise UsageError(f"record {rec.id} is in volume {target.name!r} already")
    if volume_move.is_sealed(archive, rec.id):
        return volume_move.request_out(archive, rec.id, target, reason)
    if target.confidential:
        sealed = volume_move.seal_into(archive, rec.id, target, message)
        from dangan.core.backup import api as backup
        backup.purge_after_destruction(archive)    # the plaintext object leaves the backups now where the key is
        return sealed
    file_into(archive, replace(rec, tags=list(rec.tags), metadata=dict(rec.metadata)), target)
    return revise(archive, rec.id, None, RecordFields(volume=target.name),
                  message or f"moved from volume {rec.volume or '(none)'} to {target.name}")


def approve_move(archive: Archive, request: str, note: str = "") -> dict[str, Any]:
    """A security officer approves a move out of a confidential volume, which applies it."""
    from dangan.core.management.volume_move import approve_out
    acting_user(archive, action="approve moves", obj=request)
    return approve_out(archive, request, note)


def refuse_move(archive: Archive, request: str, reason: str) -> dict[str, Any]:
    from dangan.core.management.volume_move import refuse_out
    acting_user(archive, action="refuse moves", obj=request)
    return refuse_out(archive, request, reason)


def pending_moves(archive: Archive) -> list[dict[str, Any]]:
    """Moves out of confidential volumes awaiting a decision (to users cleared for the source volume)."""
    from dangan.core.management.volume_move import pending_requests
    from dangan.core.policy.users import clearance_rank
    from dangan.model import secrecy_rank
    u = acting_user(archive, action="list move requests")
    rows = pending_requests(archive)
    if not register_in_use(archive):
        return rows
    from dangan.core.catalogue.volumes import get_volume
    out = []
    for r in rows:
        vol = get_volume(archive, r["from_volume"])
        if vol is None or clearance_rank(u.clearance) >= secrecy_rank(vol.secrecy):
            out.append(r)
    return out


__all__ = ["needs_new_keystore", "create", "listing", "check_unlock", "unlock", "lock", "serve_here",
           "unlock_for_server", "lock_for_server", "rotate_key", "export_keys",
           "show", "rename", "close", "reopen", "move", "approve_move", "refuse_move", "pending_moves"]
