"""The users register and approvals on file, as a user changes them.

The register's own rules stay where they are decided (``policy.users``: the first user becomes an admin bound
to the OS account, later changes need an admin; ``policy.access``: who may grant what); ``registers.users``
and ``registers.grants`` read them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.policy.users import User


def current(archive: Archive, action: str = "act") -> User:
    """The acting user (unknown or disabled: refused, audited) — who a face shows as signed in."""
    from dangan.core.policy.users import acting_user
    return acting_user(archive, action=action)


def add(archive: Archive, name: str, *, display_name: str = "", department: str | None = None,
        roles: Iterable[str] = (), clearance: str = "internal", os_account: str | None = None,
        may_act_as: Iterable[str] = ()) -> User:
    """Add a user (the first becomes an admin bound to the OS account acting; later ones need an admin)."""
    from dangan.core.policy.users import add_user
    return add_user(archive, name, display_name=display_name, department=department, roles=tuple(roles),
                    clearance=clearance, os_account=os_account, may_act_as=tuple(may_act_as))


def change(archive: Archive, name: str, *, add_roles: Iterable[str] = (), remove_roles: Iterable[str] = (),
           clearance: str | None = None, department: str | None = None, display_name: str | None = None,
           os_account: str | None = None, add_act_as: Iterable[str] = (), remove_act_as: Iterable[str] = ()) -> User:
    """Change a user's roles, clearance, department, display name or OS accounts (admin)."""
    from dangan.core.policy.users import set_user
    return set_user(archive, name, add_roles=tuple(add_roles), remove_roles=tuple(remove_roles), clearance=clearance,
                    department=department, display_name=display_name, os_account=os_account,
                    add_act_as=tuple(add_act_as), remove_act_as=tuple(remove_act_as))


def disable(archive: Archive, name: str, reason: str = "") -> User:
    """Disable a user: they may no longer act (kept in the register and the audit trail)."""
    from dangan.core.policy.users import set_user
    return set_user(archive, name, active=False, reason=reason)


def enable(archive: Archive, name: str) -> User:
    """Enable a disabled user again."""
    from dangan.core.policy.users import set_user
    return set_user(archive, name, active=True)


def grant(archive: Archive, action: str, refs: Iterable[str], grantee: str, *, days: int = 7,
          reason: str) -> list[int]:
    """Approve ``action`` (export, copy, read, lend...) on records for ``grantee`` for ``days`` days."""
    from dangan.core.policy.access import grant as run
    return run(archive, action, list(refs), grantee, days=days, reason=reason)


def revoke(archive: Archive, grant_id: int, reason: str = "") -> None:
    """Withdraw an approval."""
    from dangan.core.policy.access import revoke as run
    run(archive, grant_id, reason)


def set_password(archive: Archive, name: str, password: str) -> None:
    """``name``'s password for ``dangan serve``: an admin sets anyone's, a user their own (audited, never the
    password)."""
    from dangan.core.policy.credentials import set_password as run
    run(archive, name, password)


def create_token(archive: Archive, user: str, scopes: str, *, days: int = 90) -> tuple[str, dict]:
    """An admin makes an API token for ``user`` (``scopes`` comma-separated); (the secret, shown once; its row)."""
    from dangan.core.policy.credentials import create_token as run, parse_scopes
    return run(archive, user, parse_scopes(scopes), days=days)


def tokens(archive: Archive) -> list[dict]:
    """API tokens, never their secrets: an admin sees all, a user their own."""
    from dangan.core.policy.credentials import list_tokens
    return list_tokens(archive)


def revoke_token(archive: Archive, token_id: str) -> dict:
    """Revoke a token (an admin any, a user their own); audited ``token.revoke``."""
    from dangan.core.policy.credentials import revoke_token as run
    return run(archive, token_id)


__all__ = ["current", "add", "change", "disable", "enable", "grant", "revoke", "set_password", "create_token",
           "tokens", "revoke_token"]
