"""Which records are handed out only on a loan (借阅): ``get`` and ``export`` of them need an issued loan.

The regulations have a manager approve the lending of secret files; letting
anyone cleared ``get`` such a record would bypass that.  So, once the users
register is in use:

* ``[policy] loan_required_from`` (default ``"secret"``, 秘密): a record at
  this secrecy or above is read (``get``) or exported only by the borrower of
  an issued, unreturned, not overdue loan of it.  ``"none"`` turns it off.
* ``[policy.loan_required_categories]``: per category (a code, or a prefix
  such as ``"KX"`` for every ``KX-…`` category) the level from which a loan is
  needed, e.g. ``"KX-TS" = "internal"``; the stricter of the two applies.
* Plugins add to it through their ``dangan_access`` rules: the policy point
  tells them ``"loan"`` in ``AccessContext.approvals`` when the actor holds
  an issued loan of the record (the customer-confidentiality plugin asks for
  it when staff of another department read a customer file).

An export approval on file (``dangan access grant export``, given by a manager
or admin, another person) stands in for the loan when exporting.  Not gated
here: the archivist writing a loan's issued copy (the loan is the authority)
and a transfer on an approved disposition list.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dangan.errors import UsageError
from dangan.model import SECRECY_LEVELS, normalise_secrecy, secrecy_rank
from dangan.core.policy.users import register_in_use

if TYPE_CHECKING:
    from dangan.core.archive import Archive

DEFAULT_FROM = "secret"
OFF = ("none", "off", "")


def _level(value, key: str) -> int | None:
    if value is False or (isinstance(value, str) and value.strip().lower() in OFF):
        return None
    try:
        return secrecy_rank(normalise_secrecy(str(value)))
    except UsageError:
        raise UsageError(f"dangan.toml: [policy] {key} must be a secrecy level ({', '.join(SECRECY_LEVELS)}) "
                         f"or \"none\", not {value!r}") from None


def threshold(archive: Archive, category: str | None) -> int | None:
    """The secrecy rank from which a record of ``category`` needs a loan (None: never)."""
    policy = archive.config.raw.get("policy", {})
    levels = [_level(policy.get("loan_required_from", DEFAULT_FROM), "loan_required_from")]
    per = policy.get("loan_required_categories", {})
    if not isinstance(per, dict):
        raise UsageError("dangan.toml: [policy.loan_required_categories] maps category codes to secrecy levels")
    for code, level in per.items():
        if category and (category == code or category.startswith(f"{code}-")):
            levels.append(_level(level, f"loan_required_categories.{code}"))
    ranks = [r for r in levels if r is not None]
    return min(ranks) if ranks else None


def loan_required(archive: Archive, rec) -> bool:
    if not register_in_use(archive):
        return False
    t = threshold(archive, rec.category)
    return t is not None and secrecy_rank(rec.secrecy or "public") >= t


def issued_loan(archive: Archive, user: str, rid: str) -> str | None:
    """The id of a loan issued to ``user`` (the sponsor, for an outside borrower) with ``rid`` still out on it."""
    r = archive.conn.execute(
        "SELECT l.id FROM loans l JOIN loan_items i ON i.loan_id = l.id WHERE i.record_id = ? AND l.status = 'issued'"
        " AND i.issued_at IS NOT NULL AND i.returned_at IS NULL AND (l.due IS NULL OR l.due >= ?)"
        " AND (CASE WHEN l.external_unit IS NULL THEN l.borrower ELSE l.requested_by END) = ?",
        (rid, dt.date.today().isoformat(), user)).fetchone()
    return r["id"] if r else None


def require_loan(archive: Archive, rec, doing: str) -> None:
    """Refuse (AccessDenied, audited) ``doing`` (``read`` or ``export``) of ``rec`` without an issued loan where the
    policy asks for one."""
    if not loan_required(archive, rec):
        return
    from dangan.core.policy.access import MARKS, deny_record
    from dangan.core.policy.users import acting_user
    me = acting_user(archive, action=doing, obj=rec.id)
    if issued_loan(archive, me.name, rec.id):
        return
    raise deny_record(archive, doing, rec, f"record {rec.id} is marked {MARKS.get(rec.secrecy, rec.secrecy)} "
                      f"({rec.secrecy}): to {'get' if doing == 'read' else doing} it {me.name} needs a loan, approved "
                      f"and issued (`dangan lend request {rec.id} --purpose ...`)", "core", "loan policy")
