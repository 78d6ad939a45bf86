"""Alerts plugins raise (a certificate about to expire, a review due), as a user reads and acknowledges them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def listing(archive: Archive, *, include_acknowledged: bool = False) -> list[dict[str, Any]]:
    """Alerts, unacknowledged first, overdue ones flagged."""
    from dangan.core.management.alerts import list_alerts
    acting_user(archive, action="list alerts")
    return list_alerts(archive, include_acknowledged=include_acknowledged)


def acknowledge(archive: Archive, alert_id: str) -> dict[str, Any]:
    """Acknowledge an alert (recorded with who and when)."""
    from dangan.core.management.alerts import acknowledge as run
    acting_user(archive, action="acknowledge alerts", obj=alert_id)
    return run(archive, alert_id)


__all__ = ["listing", "acknowledge"]
