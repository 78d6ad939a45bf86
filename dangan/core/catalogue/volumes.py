"""Volumes (案卷), the keystore's place, and unlocking confidential volumes.

A volume of secrecy ``secret`` or above is confidential: its records are
sealed (encrypted) with record keys wrapped to the volume's X25519 public key,
which the catalogue keeps in clear — filing into a confidential volume needs
no unlock.  Reading needs the volume's private key: ``unlock`` unwraps it with
the passphrase (or key file) and hands it to the unlock agent for a limited
time.  Every key operation is audited, without secrets.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import CryptoError, NotFound, UsageError
from dangan.model import is_confidential, normalise_secrecy, secrecy_rank
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive


@dataclass(frozen=True)
class Volume:
    name: str
    id: str
    secrecy: str
    confidential: bool
    public_key: bytes | None
    title: str = ""
    department: str | None = None
    year: int | None = None
    category: str | None = None
    retention: str | None = None
    created: str = ""

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> "Volume":
        return cls(r["name"], r["id"], r["secrecy"], bool(r["confidential"]),
                   bytes.fromhex(r["public_key"]) if r["public_key"] else None, r["title"], r["department"],
                   r["year"], r["category"], r["retention"], r["created"])


def keystore_path(archive: Archive) -> Path:
    cfg = archive.config.raw.get("keystore", {})
    if cfg.get("path"):
        return Path(cfg["path"]).expanduser()
    if os.environ.get("DANGAN_KEYSTORE"):
        return Path(os.environ["DANGAN_KEYSTORE"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dangan" / "keystores" / f"{archive.config.archive_id}.json"


def unlock_seconds(archive: Archive) -> float:
    return float(archive.config.raw.get("keystore", {}).get("unlock_minutes", 30)) * 60


def _require_archive_id(archive: Archive) -> str:
    if not archive.config.archive_id:
        raise UsageError("this archive's dangan.toml has no [archive] id; add one (any UUID) before creating "
                         "confidential volumes")
    return archive.config.archive_id


def open_keystore(archive: Archive):
    from dangan.repository.keystore import Keystore
    return Keystore.open(keystore_path(archive), _require_archive_id(archive))


def get_volume(archive: Archive, name: str) -> Volume | None:
    r = archive.conn.execute("SELECT * FROM volumes WHERE name = ? OR id = ?", (name, name)).fetchone()
    return Volume.from_row(r) if r else None


def require_volume(archive: Archive, name: str) -> Volume:
    v = get_volume(archive, name)
    if v is None:
        raise NotFound(f"no volume {name!r} (create it with `dangan volume create {name} --secrecy LEVEL`)")
    return v


def require_named_volume(archive: Archive, name: str) -> Volume:
    """The volume a user named (``ingest --volume``): a typo is refused with the nearest names rather
    than filed into a new volume; ``--create-volume`` makes a new one on purpose."""
    from difflib import get_close_matches
    v = get_volume(archive, name)
    if v is None:
        names = [r["name"] for r in archive.conn.execute("SELECT name FROM volumes ORDER BY name")]
        near = get_close_matches(name, names, n=3, cutoff=0.4)
        raise NotFound(f"no volume {name!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else "")
                       + ": give --create-volume to create it (`dangan volume list` shows them)")
    return v


def list_volumes(archive: Archive) -> list[dict]:
    rows = archive.conn.execute(
        "SELECT v.*, (SELECT count(*) FROM records r WHERE r.volume = v.name AND r.status != 'destroyed') AS records"
        " FROM volumes v ORDER BY v.name").fetchall()
    unlocked = agent_status(archive) if any(r["confidential"] for r in rows) else {}
    from dangan.core.confidential import server_keys
    for_server = server_keys.status()
    out = []
    for r in rows:
        d = {k: r[k] for k in ("name", "id", "title", "secrecy", "department", "year", "category", "retention",
                               "created", "records")}
        d["confidential"] = bool(r["confidential"])
        d["unlocked_until"] = (dt.datetime.fromtimestamp(unlocked[r["id"]], dt.timezone.utc).isoformat(timespec="seconds")
                               if r["id"] in unlocked else None)
        if r["id"] in for_server:             # unlocked for the server by a security officer (dangan serve)
            until, by = for_server[r["id"]]
            d["server_unlocked_until"] = dt.datetime.fromtimestamp(until, dt.timezone.utc).isoformat(timespec="seconds")
            d["server_unlocked_by"] = by
        out.append(d)
    return out


def _check_name(name: str) -> str:
    n = unicodedata.normalize("NFC", name).strip()
    if not n or len(n) > 200 or any(c in n for c in "/\\\n\r\t") or any(unicodedata.category(c) == "Cc" for c in n):
        raise UsageError(f"invalid volume name {name!r}")
    return n


def create_volume(archive: Archive, name: str, secrecy: str, *, title: str = "", department: str | None = None,
                  year: int | None = None, category: str | None = None, retention: str | None = None,
                  passphrase: bytes | None = None, keyfile: Path | None = None) -> Volume:
    name = _check_name(name)
    secrecy = normalise_secrecy(secrecy)
    if get_volume(archive, name):
        raise UsageError(f"volume {name!r} exists already")
    vid = "v" + secrets.token_hex(8)
    public = None
    confidential = is_confidential(secrecy)
    if confidential:
        from dangan.repository.keystore import Keystore
        path = keystore_path(archive)
        aid = _require_archive_id(archive)
        if path.exists():
            ks = Keystore.open(path, aid)
        else:
            if passphrase is None and keyfile is None:
                raise UsageError("a confidential volume needs a passphrase or --keyfile for the new keystore")
            ks = Keystore.create(path, aid, passphrase=passphrase, keyfile=keyfile)
            archive.record_event("keystore.create", details={"path": str(path), "kdf": _kdf_name(ks)})
        try:
            kek = ks.unlock_kek(passphrase=passphrase, keyfile=keyfile)
        except CryptoError:
            archive.record_event("volume.create", name, "failure", details={"reason": "wrong passphrase"})
            raise
        public = ks.create_volume(vid, kek)
    with archive.transaction() as conn:
        conn.execute("INSERT INTO volumes (name, id, title, department, category, year, retention, secrecy,"
                     " confidential, public_key, created, created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (name, vid, title, department, category, year, retention, secrecy, int(confidential),
                      public.hex() if public else None, utc_text(), archive.actor.name))
        archive.audit(conn, "volume.create", name, details={"volume_id": vid, "secrecy": secrecy,
                                                            "confidential": confidential})
    return require_volume(archive, name)


def ensure_plain_volume(conn, archive: Archive, name: str, rec) -> None:
    """A volume named by a filing rule or --volume that does not exist yet is made, as a plain volume."""
    if conn.execute("SELECT 1 FROM volumes WHERE name = ?", (name,)).fetchone():
        return
    conn.execute("INSERT INTO volumes (name, id, title, department, category, year, retention, secrecy,"
                 " confidential, created, created_by) VALUES (?,?,?,?,?,?,?,?,0,?,?)",
                 (name, "v" + secrets.token_hex(8), "", rec.department, rec.category, rec.year, rec.retention,
                  "internal" if rec.secrecy == "internal" else "public", utc_text(), archive.actor.name))
    archive.audit(conn, "volume.create", name, details={"implicit": True})


def closed_at(archive: Archive, name: str | None) -> str | None:
    """When the volume was closed (封卷), or None while it is open (or does not exist)."""
    if not name:
        return None
    row = archive.conn.execute("SELECT closed_at FROM volumes WHERE name = ?", (name,)).fetchone()
    return row["closed_at"] if row else None


def refuse_if_closed(archive: Archive, name: str | None, what: str) -> None:
    when = closed_at(archive, name)
    if when:
        from dangan.errors import WrongState
        raise WrongState(f"volume {name!r} was closed (封卷) at {when[:16]}: {what} it until it is re-opened "
                         f"(`dangan volume reopen {name} --reason ...`, audited)")


def file_into(archive: Archive, rec, volume: Volume | None) -> None:
    """Apply the volume rules to a record before it is archived (may refuse)."""
    if volume is not None:
        refuse_if_closed(archive, volume.name, "no record is filed into")
    elif rec.volume:
        refuse_if_closed(archive, rec.volume, "no record is filed into")
    if volume is None:
        if is_confidential(rec.secrecy):
            raise UsageError(f"{rec.secrecy} records must be filed into a confidential volume: "
                             f"`dangan volume create NAME --secrecy {rec.secrecy}`, then `--volume NAME`")
        return
    if rec.secrecy == "top-secret" and volume.secrecy != "top-secret":
        raise UsageError(f"top-secret records go only into top-secret volumes; {volume.name!r} is {volume.secrecy}")
    if volume.secrecy == "top-secret" and rec.secrecy not in ("top-secret",) and rec.secrecy != "public":
        raise UsageError(f"volume {volume.name!r} is top-secret and holds only top-secret records")
    if secrecy_rank(rec.secrecy) > secrecy_rank(volume.secrecy):
        raise UsageError(f"a {rec.secrecy} record cannot go into the {volume.secrecy} volume {volume.name!r}")
    if volume.confidential:
        rec.secrecy = volume.secrecy          # kept at the volume's level
    rec.volume = volume.name


def check_refiling(archive: Archive, rec, volume: str | None, secrecy: str, *, sealed: bool) -> None:
    """May a revision give ``rec`` this volume and secrecy?  (Policy of issue 11.3.)

    A confidential volume holds only sealed records, and a record's earlier versions stay in the store
    (nothing is overwritten), so a record with plaintext versions is never moved into one nor raised to
    secret or above: it is re-ingested into the volume and the plaintext record destroyed through a
    destruction list.  A sealed record keeps its volume and secrecy (leaving means re-filing too).
    """
    if volume == rec.volume and secrecy == rec.secrecy:
        return
    if volume != rec.volume:
        refuse_if_closed(archive, rec.volume, "no record is moved out of")
        refuse_if_closed(archive, volume, "no record is moved into")
    if sealed:
        raise UsageError(f"record {rec.id} is sealed in the confidential volume {rec.volume!r}: moving it out or "
                         "between volumes, or changing its secrecy, is not a revision: it needs re-filing "
                         "(ingest its files where they belong, then destroy this record through a destruction list)")
    target = get_volume(archive, volume) if volume else None
    if (target is not None and target.confidential) or is_confidential(secrecy):
        where = f"the confidential volume {target.name!r}" if target is not None and target.confidential \
            else f"secrecy {secrecy}"
        raise UsageError(f"record {rec.id} has plaintext versions, which {where} may not keep: re-ingest its files "
                         f"into a confidential volume (`dangan ingest FILE --volume NAME`) and destroy this record "
                         "through a destruction list (`dangan disposition propose`)")


# -- unlocking ------------------------------------------------------------------
def _agent(archive: Archive):
    """The agent as the acting dangan user sees it: unlocks are per (user, volume)."""
    from dangan.core.confidential.agent import AgentClient
    from dangan.core.policy.users import acting_user
    return AgentClient(_require_archive_id(archive), acting_user(archive).name)


def require_cleared(archive: Archive, vol: Volume) -> None:
    """Only a user cleared for the volume's secrecy may unlock it (refusal audited)."""
    from dangan.core.policy.users import acting_user, clearance_rank, deny, register_in_use
    u = acting_user(archive, action="unlock", obj=vol.name)
    if register_in_use(archive) and clearance_rank(u.clearance) < secrecy_rank(vol.secrecy):
        raise deny(archive, "unlock", vol.name, f"{u.name} (clearance {u.clearance}) is not cleared for the "
                   f"{vol.secrecy} volume {vol.name!r} and may not unlock it")


def check_unlock(archive: Archive, name: str) -> Volume:
    """The volume, if the actor may unlock it (asked before any passphrase is read)."""
    vol = require_volume(archive, name)
    if not vol.confidential:
        raise UsageError(f"volume {name!r} is not confidential: nothing to unlock")
    require_cleared(archive, vol)
    return vol


def agent_status(archive: Archive) -> dict[str, float]:
    return _agent(archive).status()


def unlock(archive: Archive, name: str, *, passphrase: bytes | None = None, keyfile: Path | None = None,
           minutes: float | None = None) -> float:
    from dangan.core.confidential.agent import harden_process
    vol = check_unlock(archive, name)
    harden_process()                        # this process now holds the KEK and a private key
    ks = open_keystore(archive)
    try:
        kek = ks.unlock_kek(passphrase=passphrase, keyfile=keyfile)
        private = ks.volume_private_key(vol.id, kek)
    except CryptoError as exc:
        archive.record_event("volume.unlock", vol.name, "failure", details={"reason": exc.message})
        raise
    ttl = minutes * 60 if minutes is not None else unlock_seconds(archive)
    _agent(archive).put(vol.id, private, ttl)
    archive.record_event("volume.unlock", vol.name, details={"seconds": ttl})
    return ttl


def lock(archive: Archive, name: str | None) -> list[str]:
    names = [require_volume(archive, name)] if name else [Volume.from_row(r) for r in archive.conn.execute(
        "SELECT * FROM volumes WHERE confidential = 1")]
    agent = _agent(archive)
    for v in names:
        agent.drop(v.id)
        archive.record_event("volume.lock", v.name)
    return [v.name for v in names]


def server_key(archive: Archive, vol: Volume) -> bytes | None:
    """The volume's key if a security officer unlocked it for this server process and the acting user is
    cleared for its secrecy (``confidential.server_keys``); None otherwise."""
    from dangan.core.confidential import server_keys
    from dangan.core.policy.users import acting_user, clearance_rank, register_in_use
    key = server_keys.get(vol.id)
    if key is None:
        return None
    if register_in_use(archive) and clearance_rank(acting_user(archive).clearance) < secrecy_rank(vol.secrecy):
        return None
    return key


def private_key(archive: Archive, vol: Volume) -> bytes:
    """The volume's private key as the acting user unlocked it (each user unlocks for themselves), or as a
    security officer unlocked it for the server, to a user cleared for it."""
    key = server_key(archive, vol) or _agent(archive).get(vol.id)
    if key is None:
        raise CryptoError(f"volume {vol.name!r} is locked: run `dangan volume unlock {vol.name}`")
    from dangan.core.confidential.agent import harden_process
    harden_process()
    return key


def is_unlocked(archive: Archive, vol: Volume) -> bool:
    return vol.confidential and (server_key(archive, vol) is not None or _agent(archive).get(vol.id) is not None)


def rotate(archive: Archive, name: str, *, passphrase: bytes | None = None, keyfile: Path | None = None) -> None:
    vol = require_volume(archive, name)
    if not vol.confidential:
        raise UsageError(f"volume {name!r} is not confidential: it has no key")
    ks = open_keystore(archive)
    kek = ks.unlock_kek(passphrase=passphrase, keyfile=keyfile)
    public = ks.rotate_volume(vol.id, kek)
    with archive.transaction() as conn:
        conn.execute("UPDATE volumes SET public_key = ? WHERE id = ?", (public.hex(), vol.id))
        archive.audit(conn, "volume.rotate-key", vol.name, details={"volume_id": vol.id})
    agent = _agent(archive)
    mine = agent.get(vol.id) is not None
    agent.drop(vol.id, everyone=True)       # every user's old private key no longer opens the record keys
    if mine:
        agent.put(vol.id, ks.volume_private_key(vol.id, kek), unlock_seconds(archive))


def export_keys(archive: Archive, names: list[str], dest: Path, *, passphrase: bytes | None, keyfile: Path | None,
                export_passphrase: bytes) -> None:
    ks = open_keystore(archive)
    kek = ks.unlock_kek(passphrase=passphrase, keyfile=keyfile)
    ids = [require_volume(archive, n).id for n in names] if names else None
    ks.export(dest, ids, kek, passphrase=export_passphrase)
    archive.record_event("volume.export-key", ",".join(names) or "*", details={"to": str(dest)})


def _kdf_name(ks) -> str:
    return str(getattr(ks, "kdf_name", ""))
