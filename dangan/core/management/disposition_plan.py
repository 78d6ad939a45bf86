"""What executing a destruction list would do, record by record, without doing it.

``dangan disposition execute`` shows this plan and asks before destroying
anything (``--dry-run`` shows it and stops).  Each item of an approved list
not yet disposed of is re-checked the way :func:`disposition.execute` will:
a legal hold, a retention extended meanwhile or a record kept permanently
means it will be skipped.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.errors import DanganError, WrongState
from dangan.core.management.disposition import EXECUTOR_ROLES, GONE, check_transfer_target, get_list
from dangan.core.management.disposition_execute import _recheck
from dangan.core.policy.users import require_role

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def execution_plan(archive: Archive, lid: str, transfer_to=None, *, dry_run: bool = False) -> list[dict]:
    """One dict per pending item: record_id, archival_code, title, action, and ``will``
    (``destroy``, ``transfer`` or ``skip: why``)."""
    require_role(archive, EXECUTOR_ROLES, "execute destruction lists", obj=lid)
    lst = get_list(archive, lid)
    if lst["status"] not in ("approved", "executing"):
        raise WrongState(f"destruction list {lid} is {lst['status']}: only an approved list is executed")
    if not dry_run:
        check_transfer_target(lst, transfer_to)
    plan = []
    for item in lst["items"]:
        if item["outcome"]:
            continue
        try:
            rec = archive.record(item["record_id"])
            if rec.status in GONE:
                will = f"skip: {rec.status} already"
            else:
                d, why = _recheck(archive, rec)
                will = f"skip: {why}" if why else ("transfer" if item["action"] == "transfer" else "destroy")
        except DanganError as exc:
            will = f"skip: {exc.message}"
        plan.append({"record_id": item["record_id"], "archival_code": item["archival_code"],
                     "title": item["title"], "action": item["action"], "will": will})
    return plan
