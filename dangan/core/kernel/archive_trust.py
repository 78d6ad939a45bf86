"""Whose archive is this?  dangan runs an archive's code only if the invoking user trusts its owner.

Opening an archive runs what it holds: ``plugins/*.py`` are imported, and ``dangan.toml`` names
commands (``[extraction] tesseract``, ``[alerts] notify_command``).  The archive is found by an
upward search, so ``dangan ls`` in a folder below someone else's archive would run their code with
your rights.  Like git's ``safe.directory``, :func:`check_archive` refuses (``AccessDenied``, exit 7)
before anything is read:

* the archive folder, ``dangan.toml``, ``plugins/``, each ``plugins/*.py`` and
  ``plugins/__pycache__`` must be owned by the invoking user (effective uid), by root, or by a
  trusted owner;
* none of them may be writable by group or others (whoever can write there can replace the code).

Trust is configured **outside** the archive (a setting inside it would be circular), and is read
from places only the invoking user or root control:

* ``/etc/dangan/safe.toml`` (root's, like git's system config)::

      owners = ["dangan"]              # accounts (or numeric uids) whose archives anyone here may open
      archives = ["/srv/archive"]      # archives opened whoever owns them ("*": every archive)

* ``$DANGAN_TRUSTED_OWNERS`` (``dangan,2001``) and ``$DANGAN_SAFE_ARCHIVES`` (``/srv/a:/srv/b`` or
  ``*``), the invoking user's own environment.

A trusted *archive path* waives the owner rule only (as ``safe.directory`` does); nothing waives the
writable-by-others rule.
"""
from __future__ import annotations

import os
import pwd
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dangan.errors import AccessDenied, UsageError

SAFE_CONFIG = Path("/etc/dangan/safe.toml")
ENV_OWNERS = "DANGAN_TRUSTED_OWNERS"
ENV_ARCHIVES = "DANGAN_SAFE_ARCHIVES"
HOW_TO_TRUST = (f"if you trust it, add it to ${ENV_ARCHIVES} (or its owner to ${ENV_OWNERS}), "
                f"or to archives/owners in {SAFE_CONFIG}")


@dataclass(frozen=True)
class Trust:
    uids: frozenset[int]                 # owners whose archives are opened
    archives: tuple[Path, ...]           # archives opened whoever owns them
    every_archive: bool = False          # "*"

    def trusts_path(self, root: Path) -> bool:
        return self.every_archive or any(root == a for a in self.archives)


def _uid_of(name: str, where: str) -> int:
    name = name.strip()
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise UsageError(f"{where}: no account named {name!r}") from None


def trust_settings(config_path: Path | None = None) -> Trust:
    """The trusted owners and archives from the system file and the environment."""
    uids = {os.geteuid(), 0}
    archives: list[Path] = []
    every = False
    path = config_path or SAFE_CONFIG
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != 0 or st.st_mode & 0o022:     # a trust file others could write is no trust at all
                from dangan.errors import AccessDenied
                raise AccessDenied(f"{path} is not trusted: it must be owned by root and writable by root only"
                                   f" (it is uid {st.st_uid}, mode {st.st_mode & 0o777:o})")
            data = tomllib.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read as TOML ({exc})") from None
    owners, listed = data.get("owners", []), data.get("archives", [])
    if not (isinstance(owners, list) and isinstance(listed, list) and all(isinstance(x, (str, int)) for x in owners)
            and all(isinstance(x, str) for x in listed)):
        raise UsageError(f"{path}: owners and archives must be lists of strings")
    uids.update(o if isinstance(o, int) else _uid_of(o, str(path)) for o in owners)
    for a in listed:
        every = every or a == "*"
        if a != "*":
            archives.append(Path(a).expanduser().resolve())
    for o in filter(None, os.environ.get(ENV_OWNERS, "").split(",")):
        uids.add(_uid_of(o, f"${ENV_OWNERS}"))
    for a in filter(None, os.environ.get(ENV_ARCHIVES, "").split(":")):
        every = every or a == "*"
        if a != "*":
            archives.append(Path(a).expanduser().resolve())
    return Trust(frozenset(uids), tuple(archives), every)


def account(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _owner_problem(path: Path, st: os.stat_result, trust: Trust, what: str) -> str | None:
    if st.st_uid in trust.uids:
        return None
    return (f"{what} {path} is owned by {account(st.st_uid)}, not by you ({account(os.geteuid())}): "
            "dangan will not run its configuration or plugins")


def _mode_problem(path: Path, st: os.stat_result, what: str) -> str | None:
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "everyone" if st.st_mode & stat.S_IWOTH else "its group"
        return (f"{what} {path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}), so anyone there could "
                f"change the code dangan runs: `chmod go-w {path}`")
    return None


def check_archive(root: Path, trust: Trust | None = None) -> None:
    """Refuse to open ``root`` if its configuration or plugins could be someone else's code."""
    trust = trust or trust_settings()
    root = Path(root)
    path_trusted = trust.trusts_path(root.resolve())
    items = [(root, "the archive"), (root / "dangan.toml", "the configuration")]
    plugins = root / "plugins"
    if plugins.exists():
        items.append((plugins, "the plugins folder"))
        pycache = plugins / "__pycache__"
        if pycache.exists():
            items.append((pycache, "the plugins' bytecode folder"))
        items += [(p, "the plugin") for p in sorted(plugins.glob("*.py"))]
    for path, what in items:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise AccessDenied(f"cannot check {what} {path}: {exc.strerror}") from None
        problem = _mode_problem(path, st, what)
        if problem is None and not path_trusted:
            problem = _owner_problem(path, st, trust, what)
            if problem:
                problem += f"; {HOW_TO_TRUST}"
        if problem:
            raise AccessDenied(problem)


def check_new_archive_folder(root: Path) -> None:
    """``dangan init`` into an existing folder: it must be one the invoking user may trust afterwards."""
    try:
        st = root.stat()
    except FileNotFoundError:
        return
    trust = trust_settings()
    problem = _mode_problem(root, st, "the folder") or (
        None if trust.trusts_path(root.resolve()) else _owner_problem(root, st, trust, "the folder"))
    if problem:
        raise AccessDenied(problem.replace("dangan will not run its configuration or plugins",
                                           "an archive there would not be trusted; create it in a folder of yours"))
