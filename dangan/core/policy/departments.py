"""The departments and roles an archive knows, so that a typo is refused with the valid list.

Departments (机构代码) come from ``[departments]`` in dangan.toml (``BGS =
"总经理办公室"``) and from the schemes of the department plugins (BGS, ZLB, XMB,
KFB, KXB).  An archive that declares none (no ``[departments]``, no department
plugin enabled) accepts any code, as before.
Roles are core's (:data:`users.ROLES`) and those plugins give meaning to
(``project-manager``, ``customer-service-manager``...).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.errors import UsageError
from dangan.plugins.listing import unknown

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def known_departments(archive: Archive) -> dict[str, str]:
    """Code → where it is declared (its name in dangan.toml, or the plugins that use it)."""
    declared = archive.config.raw.get("departments", {})
    out = dict(archive.plugins.departments())
    if isinstance(declared, dict):
        out.update({str(k): str(v) for k, v in declared.items()})
    return out


def departments_declared(archive: Archive) -> bool:
    """Does this archive say which departments it has ([departments], or a department plugin enabled)?"""
    from dangan.plugins.loader import DEPARTMENT_NAMES
    return bool(archive.config.raw.get("departments")) or bool(
        set(archive.config.plugins_enabled or ()) & set(DEPARTMENT_NAMES))


def check_department(archive: Archive, code: str | None) -> None:
    if not code or not departments_declared(archive):
        return
    known = known_departments(archive)
    if code not in known:
        raise UsageError(unknown("department", code, known)
                         + " (declare more under [departments] in dangan.toml, e.g. XZ = \"行政部\")")


def valid_roles(archive: Archive) -> dict[str, str]:
    from dangan.core.policy.users import ROLES
    return {**archive.plugins.roles(), **ROLES}


def check_roles(archive: Archive, roles) -> list[str]:
    """The roles normalised (aliases such as 经理 → manager); an unknown one is refused with the valid list."""
    from dangan.core.policy.users import normalise_role
    out = sorted({normalise_role(r) for r in roles})
    valid = valid_roles(archive)
    for r in out:
        if r not in valid:
            raise UsageError(unknown("role", r, valid))
    return out
