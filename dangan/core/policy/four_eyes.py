"""Four eyes by real identities: one person (one OS account, one web session) plays one part of a chain.

Every approval chain — a destruction list (propose → approve → execute), a
loan (request → approve → issue), an access grant (granted → used), a
declassification (request → approve) — stores, next to each step's user
name, the *identity* that acted (``Actor.identity``: ``uid:N`` for a local
process, ``session:S`` for a face with authenticated sessions).  The user
names alone prove nothing: an OS account bound to an admin may act
``--as`` anyone, so one root shell could propose as ``arch``, approve as
``mgr`` and execute as ``arch`` again, and the certificate would look
four-eyed.

The rule: **the identity that approves must not have taken any other step
of the same chain**, and the steps after an approval must not be taken by
the approving identity.  A user bound to the approving OS account counts
as that account (the borrower of a loan, the grantee of a grant).  Steps
recorded before identities were stored (NULL) are not compared.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.core.kernel.actor import is_account
from dangan.core.policy.users import deny

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def identity(archive: Archive) -> str:
    """The real identity of the current actor, stored with each step of a chain."""
    return archive.actor.identity


def require_other_person(archive: Archive, action: str, obj: str, doing: str, steps: dict[str, str | None]) -> str:
    """Refuse (AccessDenied, audited) when the current identity took one of ``steps`` (a description of each
    earlier step → the identity stored with it).  Returns the current identity, to be stored with this step."""
    me = identity(archive)
    for step, who in steps.items():
        if who is not None and who == me:
            raise deny(archive, action, obj, f"{me} {step} and may not also {doing} (four eyes: two people, "
                       f"not one account acting as two users)", four_eyes=step, identity=me)
    return me


def require_not_bound(archive: Archive, action: str, obj: str, doing: str, user) -> None:
    """Refuse when ``user`` (a ``users.User``: the borrower, the grantee) is bound to the OS account acting now:
    the approver would be approving for themselves under another name."""
    if user is not None and is_account(archive.actor, user.os_account):
        raise deny(archive, action, obj, f"{archive.actor.identity} is the OS account of {user.name} and may not "
                   f"{doing} (four eyes)", four_eyes="bound account", identity=archive.actor.identity)
