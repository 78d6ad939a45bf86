"""The users register: who may act in this archive, with which roles, departments and clearance.

A user is a name (the actor's name: the OS account or ``--as``/``$DANGAN_USER``),
a display name, a department code, roles and a clearance — the highest
secrecy level they may see.  Rules:

* **Open until the first user.**  While the register is empty the archive is
  open as before it existed: anyone may act, roles come from
  ``[users."NAME"]`` in ``dangan.toml``, and no clearance is enforced.
* **The first user is an admin** (the role is added) and may be added by
  anyone; afterwards only an active ``admin`` adds, changes or disables users.
* Once a user exists, an actor who is not an active registered user is
  refused everything that asks the policy point (``core.access``).
* The last active admin cannot be disabled or lose the role.
* **Bound to OS accounts.**  A user carries ``os_account`` (default: the
  user name; the *first* user is bound to the OS account that created it, so
  whoever sets up the register can go on acting) and ``may_act_as``: OS
  accounts that may act as this user too.  Without ``--as``/``$DANGAN_USER``
  the actor is the registered user bound to the current OS account.  Acting
  as another user is allowed only where that user is bound to the current OS
  account, lists it in ``may_act_as``, or the current OS account is bound to
  an active ``admin``; otherwise refused and audited.  Users registered
  before binding existed (``os_account`` NULL) are unbound: anyone may act as
  them until an admin binds them (``dangan user set NAME --os-account A``).

Every change is an audit event (``user.add``, ``user.set``, ``user.disable``,
``user.enable``) with what changed; refusals are audited as ``access.denied``.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dangan.errors import AccessDenied, NotFound, UsageError
from dangan.model import SECRECY_LEVELS, normalise_secrecy
from dangan.core.kernel.actor import is_account
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: Roles core knows.  Plugins give meaning to others (``project-manager``...: their ``ROLES``);
#: any other role is refused (core/policy/departments.py).
ROLES = {
    "admin": "administers users",
    "archivist": "档案管理员: receives returns, executes destruction lists, holds, inspections",
    "department-head": "部门负责人: approves loans of their department",
    "manager": "分管领导: approves loans of secret files, destruction lists, access grants",
    "staff": "staff",
    "auditor": "read-only, the audit log",
    "security-officer": "keys of confidential volumes",
    "legal": "places and releases legal holds",
}
ROLE_ALIASES = {"管理员": "admin", "档案管理员": "archivist", "部门负责人": "department-head", "经理": "manager",
                "分管领导": "manager", "职员": "staff", "审计": "auditor", "审计员": "auditor", "保密员": "security-officer",
                "法务": "legal"}
_ROLE_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class User:
    name: str
    display_name: str = ""
    department: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    clearance: str = "internal"
    active: bool = True
    created: str = ""
    created_by: str = ""
    updated: str = ""
    os_account: str | None = None           # None: registered before binding existed (unbound)
    may_act_as: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict:
        return {"name": self.name, "display_name": self.display_name, "department": self.department,
                "roles": sorted(self.roles), "clearance": self.clearance, "active": self.active,
                "created": self.created, "created_by": self.created_by, "updated": self.updated,
                "os_account": self.os_account, "may_act_as": sorted(self.may_act_as)}

    def has_any(self, roles) -> bool:
        return bool(self.roles & set(roles))


def check_name(name: str) -> str:
    n = unicodedata.normalize("NFC", name or "").strip()
    if not n or len(n) > 64 or any(unicodedata.category(c).startswith("C") for c in n) or "/" in n:
        raise UsageError(f"invalid user name {name!r}: up to 64 printable characters, no '/'")
    return n


def normalise_role(role: str) -> str:
    r = unicodedata.normalize("NFKC", role).strip()
    r = ROLE_ALIASES.get(r, r.lower().replace("_", "-"))
    if not _ROLE_RE.match(r):
        raise UsageError(f"invalid role {role!r}: a lower-case word such as {', '.join(sorted(ROLES))}")
    return r


def _from_row(r) -> User:
    return User(r["name"], r["display_name"], r["department"], frozenset(json.loads(r["roles"])), r["clearance"],
                bool(r["active"]), r["created"], r["created_by"], r["updated"], r["os_account"],
                frozenset(json.loads(r["may_act_as"] or "[]")))


def _accounts(accounts) -> list[str]:
    out = set()
    for a in accounts or ():
        a = unicodedata.normalize("NFC", a).strip()
        if not a or any(unicodedata.category(c).startswith("C") for c in a) or len(a) > 64:
            raise UsageError(f"invalid OS account {a!r}")
        out.add(a)
    return sorted(out)


def register_in_use(archive: Archive) -> bool:
    """True once any user exists: from then on the register decides who may act."""
    return archive.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def get_user(archive: Archive, name: str) -> User | None:
    r = archive.conn.execute("SELECT * FROM users WHERE name = ?", (unicodedata.normalize("NFC", name),)).fetchone()
    return _from_row(r) if r else None


def require_user(archive: Archive, name: str) -> User:
    u = get_user(archive, name)
    if u is None:
        raise NotFound(f"no user {name!r} in this archive's register (see `dangan user list`)")
    return u


def list_users(archive: Archive, include_inactive: bool = True) -> list[User]:
    rows = archive.conn.execute("SELECT * FROM users" + ("" if include_inactive else " WHERE active = 1")
                                + " ORDER BY name")
    return [_from_row(r) for r in rows]


def deny(archive: Archive, action: str, obj: str, message: str, **details) -> AccessDenied:
    """Audit a refusal and return the error to raise."""
    with archive.transaction() as conn:
        archive.audit(conn, "access.denied", obj, "denied", details={"action": action, "reason": message, **details})
    return AccessDenied(message)


def configured_user(archive: Archive, name: str) -> User:
    """The actor as ``[users."NAME"]`` in dangan.toml describes it (the open archive, before any user exists)."""
    u = archive.config.raw.get("users", {}).get(name, {})
    if not isinstance(u, dict):
        u = {}
    clearance = u.get("clearance", "internal")
    return User(name, str(u.get("display_name", "")), u.get("department"),
                frozenset(normalise_role(r) for r in u.get("roles", [])), normalise_secrecy(clearance))


def _bound_to(archive: Archive, actor) -> list[User]:
    """Active users bound to the OS account ``actor`` really runs as (by name or uid, see ``actor.is_account``)."""
    return [u for u in list_users(archive, include_inactive=False) if is_account(actor, u.os_account)]


def may_act_as(archive: Archive, u: User, actor) -> bool:
    """May the OS account ``actor`` runs as act as ``u``?  Bound to it, listed in its ``may_act_as``, unbound
    (registered before binding existed), or the OS account is bound to an active admin."""
    if u.os_account is None or is_account(actor, u.os_account) or any(is_account(actor, a) for a in u.may_act_as):
        return True
    from dangan.core.policy.separation import blocks_acting_as
    if blocks_acting_as(archive, u):         # 三员分立: an admin may not act as the auditor or security officer
        return False
    return any("admin" in b.roles for b in _bound_to(archive, actor))


def acting_user(archive: Archive, *, action: str = "act", obj: str = "") -> User:
    """The actor's user: from the register once it is in use (unknown, disabled or not allowed for this OS
    account → AccessDenied, audited), else from ``dangan.toml``.

    Without ``--as`` (the actor's name is the OS account's) the actor becomes the user bound to the OS account;
    ``archive.actor`` is then renamed, so audit events name the user and the OS account both."""
    from dataclasses import replace
    actor = archive.actor
    name, os_user = actor.name, actor.os_user
    if not register_in_use(archive):
        return configured_user(archive, name)
    u = get_user(archive, name)
    if actor.session and actor.session == f"web:{name}":
        # the web face authenticated this user itself (password session or API token, core.policy.credentials):
        # no OS account binding applies; a vanished or disabled user is still refused
        if u is None:
            raise deny(archive, action, obj, f"unknown user {name!r}")
        if not u.active:
            raise deny(archive, action, obj, f"user {u.name!r} is disabled")
        return u
    if not actor.overridden and not (u and (u.os_account is None or is_account(actor, u.os_account))):
        bound = _bound_to(archive, actor)
        if len(bound) > 1:
            raise deny(archive, action, obj, f"OS account {os_user} is bound to several users "
                       f"({', '.join(b.name for b in bound)}): name one with --as")
        if bound:
            u = bound[0]
            archive.actor = replace(actor, name=u.name, overridden=True)
        elif u is not None:
            raise deny(archive, action, obj, f"user {name!r} is bound to OS account {u.os_account!r}, not {os_user!r}")
    if u is None:
        raise deny(archive, action, obj, f"unknown user {name!r}: an admin must add you (`dangan user add {name}`)")
    if actor.overridden and not may_act_as(archive, u, actor):
        raise deny(archive, "act as", obj, f"OS account {os_user!r} may not act as {u.name!r}: {u.name} is bound to "
                   f"{u.os_account!r} and does not list {os_user!r} in may_act_as (an admin may add it: "
                   f"`dangan user set {u.name} --may-act-as {os_user}`)", refused_action=action)
    if not u.active:
        raise deny(archive, action, obj, f"user {u.name!r} is disabled")
    return u


def require_role(archive: Archive, roles, what: str, *, obj: str = "") -> User:
    """The acting user if they hold one of ``roles``; otherwise AccessDenied (audited)."""
    u = acting_user(archive, action=what, obj=obj)
    if not u.has_any(roles):
        raise deny(archive, what, obj, f"{u.name} may not {what}: needs the role {' or '.join(sorted(roles))}")
    return u


def _roles(roles) -> list[str]:
    return sorted({normalise_role(r) for r in roles})


def add_user(archive: Archive, name: str, *, display_name: str = "", department: str | None = None,
             roles=(), clearance: str = "internal", os_account: str | None = None, may_act_as=()) -> User:
    from dangan.core.policy.departments import check_department, check_roles
    name = check_name(name)
    roles = check_roles(archive, roles)
    check_department(archive, department)
    clearance = normalise_secrecy(clearance)
    first = not register_in_use(archive)
    # the first user is bound to the OS account setting the register up; later ones to their own name
    account = _accounts([os_account or (archive.actor.os_user if first else name)])[0]
    others = _accounts(may_act_as)
    if not first:
        require_role(archive, {"admin"}, "add users", obj=f"user:{name}")
    else:
        from dangan.core.policy.separation import refuse_first_user_roles
        refuse_first_user_roles(archive, roles)
        roles = sorted({*roles, "admin"})        # the first user administers the register
    if get_user(archive, name):
        raise UsageError(f"user {name!r} exists already (change it with `dangan user set`)")
    from dangan.core.policy.separation import check_roles as check_separation
    check_separation(archive, name, roles, action="add users")
    t = utc_text()
    with archive.transaction() as conn:
        conn.execute("INSERT INTO users (name, display_name, department, roles, clearance, active, created,"
                     " created_by, updated, os_account, may_act_as) VALUES (?,?,?,?,?,1,?,?,?,?,?)",
                     (name, display_name, department, json.dumps(roles), clearance, t, archive.actor.name, t,
                      account, json.dumps(others)))
        archive.audit(conn, "user.add", f"user:{name}", details={
            "display_name": display_name, "department": department, "roles": roles, "clearance": clearance,
            "first_user": first, "os_account": account, "may_act_as": others})
    return require_user(archive, name)


def _active_admins(archive: Archive) -> set[str]:
    return {u.name for u in list_users(archive, include_inactive=False) if "admin" in u.roles}


def set_user(archive: Archive, name: str, *, display_name: str | None = None, department: str | None = None,
             add_roles=(), remove_roles=(), clearance: str | None = None, active: bool | None = None,
             reason: str = "", os_account: str | None = None, add_act_as=(), remove_act_as=()) -> User:
    old = require_user(archive, check_name(name))
    what = "enable users" if active is True else "disable users" if active is False else "change users"
    require_role(archive, {"admin"}, what, obj=f"user:{old.name}")
    from dangan.core.policy.departments import check_department, check_roles
    check_department(archive, department)
    roles = (set(old.roles) | set(check_roles(archive, add_roles))) - set(_roles(remove_roles))
    new = User(old.name, old.display_name if display_name is None else display_name,
               old.department if department is None else (department or None), frozenset(roles),
               old.clearance if clearance is None else normalise_secrecy(clearance),
               old.active if active is None else active, old.created, old.created_by, utc_text(),
               old.os_account if os_account is None else _accounts([os_account])[0],
               frozenset((set(old.may_act_as) | set(_accounts(add_act_as))) - set(_accounts(remove_act_as))))
    if old.name in _active_admins(archive) and not ("admin" in new.roles and new.active) \
            and len(_active_admins(archive)) == 1:
        raise UsageError(f"{old.name} is the last active admin: add another admin first")
    changes = {k: [a, b] for k, a, b in (
        ("display_name", old.display_name, new.display_name), ("department", old.department, new.department),
        ("roles", sorted(old.roles), sorted(new.roles)), ("clearance", old.clearance, new.clearance),
        ("active", old.active, new.active), ("os_account", old.os_account, new.os_account),
        ("may_act_as", sorted(old.may_act_as), sorted(new.may_act_as))) if a != b}
    if not changes:
        raise UsageError(f"nothing to change for user {old.name}")
    if "roles" in changes:
        from dangan.core.policy.separation import check_roles as check_separation
        check_separation(archive, new.name, new.roles, action="grant roles")
    action = "user.disable" if changes.get("active") == [True, False] else \
        "user.enable" if changes.get("active") == [False, True] else "user.set"
    with archive.transaction() as conn:
        conn.execute("UPDATE users SET display_name=?, department=?, roles=?, clearance=?, active=?, updated=?,"
                     " os_account=?, may_act_as=? WHERE name=?",
                     (new.display_name, new.department, json.dumps(sorted(new.roles)), new.clearance,
                      int(new.active), new.updated, new.os_account, json.dumps(sorted(new.may_act_as)), new.name))
        archive.audit(conn, action, f"user:{new.name}", details={"changes": changes, "reason": reason or None})
    return require_user(archive, new.name)


def clearance_rank(level: str) -> int:
    return SECRECY_LEVELS.index(normalise_secrecy(level))
