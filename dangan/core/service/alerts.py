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


def addressed(archive: Archive) -> list[dict[str, Any]]:
    """The open alerts addressed to the acting user, by name or by one of their roles (the web face's list)."""
    from dangan.core.management.alerts import list_alerts
    u = acting_user(archive, action="list alerts")
    return [a for a in list_alerts(archive) if a["recipient"] in (u.name, *u.roles)]


def acknowledge_addressed(archive: Archive, alert_id: str) -> dict[str, Any]:
    """Acknowledge an alert addressed to the acting user; anyone else is refused (audited)."""
    from dangan.core.management.alerts import acknowledge as run, get_alert
    from dangan.core.policy.users import deny
    u = acting_user(archive, action="acknowledge alerts", obj=alert_id)
    a = get_alert(archive, alert_id)
    if a["recipient"] not in (u.name, *u.roles):
        raise deny(archive, "acknowledge alerts", a["record_id"], f"alert {a['id']} is addressed to {a['recipient']}")
    return run(archive, alert_id)


__all__ = ["listing", "acknowledge", "addressed", "acknowledge_addressed"]
