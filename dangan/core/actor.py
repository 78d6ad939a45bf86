"""Who runs a command: the OS user, or ``--as USER`` / ``$DANGAN_USER``.

An override is itself recorded (``os_user`` in every audit event's details),
so the audit log shows both the named actor and the account that acted.
"""
from __future__ import annotations

import getpass
import os
import unicodedata
from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class Actor:
    name: str
    os_user: str
    overridden: bool = False

    def audit_details(self) -> dict[str, str]:
        return {"os_user": self.os_user, "as": self.name} if self.overridden else {"os_user": self.os_user}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def current_actor(as_user: str | None = None) -> Actor:
    os_user = _os_user()
    name = as_user if as_user is not None else os.environ.get("DANGAN_USER")
    if name is None:
        return Actor(os_user, os_user)
    name = unicodedata.normalize("NFC", name).strip()
    if not name or any(unicodedata.category(c).startswith("C") for c in name):
        raise UsageError(f"invalid user name {name!r}")
    return Actor(name, os_user, overridden=(name != os_user))
