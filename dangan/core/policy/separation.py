"""Three administrators kept apart (三员分立, issue 19 item 7): an option, off by default.

With ``[security] separation_of_duties = true`` in dangan.toml the archive's three
administrators are three different people, as the classified-systems practice asks
(系统管理员 / 安全保密管理员 / 安全审计员):

* ``admin`` — the system administrator (users, configuration);
* ``security-officer`` — the security officer (keys of confidential volumes, declassification);
* ``auditor`` — the security auditor (the audit trail).

Rules while the option is on:

* **One user holds at most one of the three.**  Granting a second one (``dangan user add
  --role``, ``dangan user set --add-role``, the web's user pages: all go through
  ``users.add_user``/``users.set_user``) is refused with the role already held, and audited as
  ``access.denied``.  The first user is the system administrator, so it may not ask for the
  other two.
* **The auditor alone reads the others' audit events**: an event whose actor holds ``admin`` or
  ``security-officer`` (in the register now) is shown to the auditor only — not to the admin,
  who otherwise reads the whole trail, nor to its own actor.  The auditor reads the whole trail;
  everyone else reads what ``policy.disclosure`` allows, minus those events.
* **An admin's OS account no longer lets them act as the auditor or the security officer**
  (``users.may_act_as``): acting as them needs their own binding or ``may_act_as``.
* A user who holds two of the roles from before the option was set keeps them, but is not
  the auditor for the trail (it reads as a non-auditor) until an admin removes one role;
  ``dangan user list`` warns of each such user (:func:`conflicts`).

Off (the default), nothing here applies: admins read the whole trail as before.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.errors import UsageError

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.policy.users import User

#: The three separated roles, with their names in the regulations' words.
SEPARATED_ROLES = {"admin": "系统管理员 (system administrator)",
                   "security-officer": "安全保密管理员 (security officer)",
                   "auditor": "安全审计员 (security auditor)"}
#: Roles whose holders' audit events the auditor alone reads.
WATCHED_ROLES = ("admin", "security-officer")


def separation_on(archive: Archive) -> bool:
    """Is ``[security] separation_of_duties`` set in dangan.toml?"""
    section = archive.config.raw.get("security", {})
    return isinstance(section, dict) and bool(section.get("separation_of_duties", False))


def held(roles) -> list[str]:
    """Which of the three separated roles ``roles`` holds."""
    return sorted(set(roles) & set(SEPARATED_ROLES))


def check_roles(archive: Archive, name: str, roles, *, action: str) -> None:
    """Refuse (audited) a user ``name`` ending up with more than one of the three separated roles."""
    if not separation_on(archive):
        return
    both = held(roles)
    if len(both) > 1:
        from dangan.core.policy.users import deny
        raise deny(archive, action, f"user:{name}",
                   f"三员分立: {name} may hold only one of {', '.join(SEPARATED_ROLES[r] for r in both)}"
                   f" ([security] separation_of_duties is on): remove one role first", roles=both)


def conflicts(archive: Archive) -> dict[str, list[str]]:
    """Active users holding two or more of the separated roles (from before the option was set)."""
    from dangan.core.policy.users import list_users
    if not separation_on(archive):
        return {}
    return {u.name: held(u.roles) for u in list_users(archive, include_inactive=False) if len(held(u.roles)) > 1}


def is_sole_auditor(user: User) -> bool:
    """The auditor for the audit trail under separation: holds ``auditor`` and neither other role."""
    return held(user.roles) == ["auditor"]


def watched_actors(archive: Archive) -> set[str]:
    """Users whose audit events the auditor alone reads (they hold admin or security-officer now)."""
    from dangan.core.policy.users import list_users
    return {u.name for u in list_users(archive) if set(u.roles) & set(WATCHED_ROLES)}


def blocks_acting_as(archive: Archive, target: User) -> bool:
    """Under separation an admin's OS account may not act as a user holding another separated role."""
    return separation_on(archive) and bool(set(target.roles) & {"auditor", "security-officer"})


def refuse_first_user_roles(archive: Archive, roles) -> None:
    if separation_on(archive) and set(roles) & {"auditor", "security-officer"}:
        raise UsageError("三员分立: the first user is the system administrator (admin) and may not also be "
                         "the security officer or the auditor; add them as other users afterwards")
