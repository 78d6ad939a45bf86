"""`dangan volume`: create, list, unlock, lock, rotate-key, export-key (show, rename, close, reopen: volume_life_cmd)."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_lines, line, table
from .passphrase import read_passphrase

passphrase_fd = click.option("--passphrase-fd", type=int, metavar="N",
                             help="Read the passphrase from file descriptor N (never give it on the command line).")
keyfile_opt = click.option("--keyfile", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                           help="Use a key file instead of a passphrase.")


def _secret(keyfile, fd, prompt="passphrase", confirm=False):
    return None if keyfile else read_passphrase(prompt, fd=fd, confirm=confirm)


@click.group("volume")
def volume():
    """Volumes (案卷); confidential ones (secret and above) are encrypted under their own keys."""


@volume.command("create")
@click.argument("name")
@click.option("--secrecy", required=True, help="public, internal, secret, confidential, top-secret (or 公开…绝密)")
@click.option("--title", default="")
@click.option("--dept", "department")
@click.option("--year", type=int)
@click.option("--category")
@click.option("--retention")
@passphrase_fd
@keyfile_opt
@pass_ctx
def create(ctx, name, secrecy, title, department, year, category, retention, passphrase_fd, keyfile):
    """Create a volume; a confidential one gets its own key pair in the keystore."""
    from ..core.service import volumes
    from ..model import is_confidential, normalise_secrecy
    archive = ctx.archive()
    secret = None
    if is_confidential(normalise_secrecy(secrecy)):
        new = volumes.needs_new_keystore(archive)
        secret = _secret(keyfile, passphrase_fd, "new keystore passphrase" if new else "keystore passphrase",
                         confirm=new)
    v = volumes.create(archive, name, secrecy, title=title, department=department, year=year, category=category,
                      retention=retention, passphrase=secret, keyfile=keyfile)
    line(f"volume {v.name} ({v.secrecy}{', encrypted' if v.confidential else ''}) created")


@volume.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_(ctx, as_json):
    """Volumes within your clearance with their secrecy, record counts and whether they are unlocked."""
    from ..core.service import volumes
    rows = volumes.listing(ctx.archive())
    if as_json:
        json_lines(rows)
        return
    table([(r["name"], r["secrecy"], "yes" if r["confidential"] else "", r["records"],
            ("until " + r["unlocked_until"][11:16] + "Z") if r["unlocked_until"] else ("locked" if r["confidential"] else ""),
            r["title"]) for r in rows], ["VOLUME", "SECRECY", "ENCRYPTED", "RECORDS", "STATE", "TITLE"])


@volume.command("unlock")
@click.argument("name")
@click.option("--minutes", type=float, help="How long the unlock lasts (default: [keystore] unlock_minutes).")
@passphrase_fd
@keyfile_opt
@pass_ctx
def unlock(ctx, name, minutes, passphrase_fd, keyfile):
    """Unlock a confidential volume for you (the dangan user acting), if you are cleared for it."""
    from ..core.service import volumes
    archive = ctx.archive()
    volumes.check_unlock(archive, name)    # refuse an uncleared user before asking for the passphrase
    ttl = volumes.unlock(archive, name, passphrase=_secret(keyfile, passphrase_fd), keyfile=keyfile, minutes=minutes)
    line(f"volume {name} unlocked for {ttl / 60:g} minutes")


@volume.command("lock")
@click.argument("name", required=False)
@pass_ctx
def lock(ctx, name):
    """Lock a volume you unlocked (all of yours without NAME)."""
    from ..core.service import volumes
    names = volumes.lock(ctx.archive(), name)
    click.echo("locked: " + (", ".join(names) or "nothing"))


@volume.command("rotate-key")
@click.argument("name")
@passphrase_fd
@keyfile_opt
@pass_ctx
def rotate_key(ctx, name, passphrase_fd, keyfile):
    """Give a volume a new key pair; record keys are re-wrapped, ciphertext is unchanged."""
    from ..core.service import volumes
    volumes.rotate_key(ctx.archive(), name, passphrase=_secret(keyfile, passphrase_fd), keyfile=keyfile)
    line(f"volume {name}: key rotated")


@volume.command("export-key")
@click.argument("names", nargs=-1)
@click.option("--to", "dest", required=True, type=click.Path(path_type=Path, dir_okay=False))
@passphrase_fd
@keyfile_opt
@pass_ctx
def export_key(ctx, names, dest, passphrase_fd, keyfile):
    """Export volume keys (all without NAMES) into a file protected by its own passphrase (for escrow)."""
    from ..core.service import volumes
    secret = _secret(keyfile, passphrase_fd)
    export_secret = read_passphrase("passphrase for the exported file", confirm=True,
                                    env="DANGAN_EXPORT_PASSPHRASE")
    volumes.export_keys(ctx.archive(), names, dest, passphrase=secret, keyfile=keyfile, export_passphrase=export_secret)
    line(f"keys exported to {dest}")


from .volume_life_cmd import add_to  # noqa: E402 - show, rename, close, reopen live in their own module

add_to(volume)

COMMANDS = [volume]
