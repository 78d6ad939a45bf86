"""Who may do what to which record: the actor's roles, and the plugins' access rules.

Users and their roles and clearance come from ``[users."NAME"]`` tables in
``dangan.toml`` until the users register lands; an unknown user has no roles
and clearance ``internal``.  Plugins decide (any deny wins); core asks them
only when one implements ``dangan_access``.
"""
from __future__ import annotations

from typing import Callable

from ..errors import AccessDenied
from ..model import Record


def plugin_actor(archive):
    from ..plugins.types import Actor
    users = archive.config.raw.get("users", {})
    u = users.get(archive.actor.name, {})
    return Actor(name=archive.actor.name, roles=frozenset(u.get("roles", [])),
                 clearance=u.get("clearance", "internal"), department=u.get("department"))


def visibility(archive) -> Callable[[Record], bool] | None:
    """A filter for listings and search, or None when no rule restricts viewing."""
    plugins = archive.plugins
    if not plugins.implements("dangan_access"):
        return None
    actor = plugin_actor(archive)
    return lambda rec: plugins.may(actor, "view", rec)


def require(archive, action: str, rec: Record, approvals: frozenset[str] = frozenset()) -> None:
    plugins = archive.plugins
    if not plugins.implements("dangan_access"):
        return
    from ..plugins.types import AccessContext
    decision = plugins.access(plugin_actor(archive), action, rec, AccessContext(approvals=approvals))
    if not decision:
        with archive.transaction() as conn:
            archive.audit(conn, f"access.{action}", rec.id, "denied", details={"denied_by": list(decision.denied_by)})
        raise AccessDenied(f"{archive.actor.name} may not {action} record {rec.id}"
                           + (f" (rule of {', '.join(decision.denied_by)})" if decision.denied_by else ""))
