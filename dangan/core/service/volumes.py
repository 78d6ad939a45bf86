"""Volumes (案卷) as a user works with them; confidential ones are encrypted under their own keys.

Passphrases arrive as bytes from the face (a file descriptor, a prompt, the environment), never on argv.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user

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


__all__ = ["needs_new_keystore", "create", "listing", "check_unlock", "unlock", "lock", "rotate_key", "export_keys"]
