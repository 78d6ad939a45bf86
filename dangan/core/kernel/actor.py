"""Who runs a command: the kernel's identity of the process, and ``--as USER`` / ``$DANGAN_USER``.

The OS account is taken from the real uid (``os.getuid()`` → ``pwd.getpwuid``),
never from ``$LOGNAME``/``$USER``/``$LNAME``/``$USERNAME``: those are set by
whoever starts the process, so trusting them let any local user claim to be
root.  An account the password database does not know is named ``uid:N``.
``--as``/``$DANGAN_USER`` only *names* the dangan user to act as; whether the
OS account may act as that user is decided by the users register
(``core.users.acting_user``).

Every audit event carries ``os_user`` and the numeric ``uid`` (and ``as`` when
the named user is not the OS account's name), so the trail shows the account
that really acted.  ``identity`` is what the four-eyes rules compare
(``core.four_eyes``): the kernel uid for a local process; a face that
authenticates its own sessions (the web face, the unlock agent's peer) sets
``session`` instead, and then the session is the identity.
"""
from __future__ import annotations

import os
import pwd
import unicodedata
from dataclasses import dataclass

from dangan.errors import UsageError


@dataclass(frozen=True)
class Actor:
    name: str
    os_user: str
    overridden: bool = False
    uid: int | None = None          # the kernel's real uid; None for an actor built in-process (tests, tools)
    session: str | None = None      # an authenticated session of a face that has its own (web); None: local

    @property
    def identity(self) -> str:
        """The real identity behind the actor: ``session:S``, ``uid:N``, or ``account:NAME`` (no uid known)."""
        if self.session:
            return f"session:{self.session}"
        if self.uid is not None:
            return f"uid:{self.uid}"
        return f"account:{self.os_user}"

    def audit_details(self) -> dict:
        d: dict = {"os_user": self.os_user}
        if self.uid is not None:
            d["uid"] = self.uid
        if self.session:
            d["session"] = self.session
        if self.overridden:
            d["as"] = self.name
        return d


def os_identity() -> tuple[str, int]:
    """The account name and real uid of this process, from the kernel and the password database only."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name, uid
    except KeyError:
        return f"uid:{uid}", uid


def account_uid(account: str) -> int | None:
    """The uid an OS account name (or ``uid:N``) stands for, or None when the system does not know it."""
    if account.startswith("uid:") and account[4:].isdigit():
        return int(account[4:])
    try:
        return pwd.getpwnam(account).pw_uid
    except (KeyError, UnicodeEncodeError, ValueError):
        return None


def is_account(actor: Actor, account: str | None) -> bool:
    """Is ``account`` (a user's ``os_account`` binding: a name or ``uid:N``) the account ``actor`` runs as?

    Compared by the real account: the name, or the uid the name stands for."""
    if account is None:
        return False
    if account == actor.os_user:
        return True
    if actor.uid is None:
        return False
    return account_uid(account) == actor.uid


def current_actor(as_user: str | None = None) -> Actor:
    os_user, uid = os_identity()
    name = as_user if as_user is not None else os.environ.get("DANGAN_USER")
    if name is None:
        return Actor(os_user, os_user, uid=uid)
    name = unicodedata.normalize("NFC", name).strip()
    if not name or any(unicodedata.category(c).startswith("C") for c in name):
        raise UsageError(f"invalid user name {name!r}")
    return Actor(name, os_user, overridden=(name != os_user), uid=uid)
