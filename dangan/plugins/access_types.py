"""Who asks and in what context: the two access types core builds on every command.

Re-exported by :mod:`dangan.plugins.types` (import them from there in a plugin).  They live in this
small module so that the policy point can build the actor without loading every plugin type
(seventeen dataclasses, about 9 ms of start-up) when no plugin is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """Who asks.  ``roles`` come from the archive's users table (core);
    ``clearance`` is the highest secrecy level the actor may see."""

    name: str
    roles: frozenset[str] = frozenset()
    clearance: str = "internal"
    department: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class AccessContext:
    """What core knows about a request: the approvals on file for this actor,
    action and record (e.g. ``{"export"}``), the purpose, and the time."""

    approvals: frozenset[str] = frozenset()
    purpose: str = ""
    now: datetime | None = None
