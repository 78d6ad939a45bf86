"""Alerts raised by plugins: stored, notified through a configured command, acknowledged.

``[alerts] notify_command`` in ``dangan.toml`` is run once per new alert with
the alert as JSON on stdin and ``DANGAN_ALERT_*`` variables in its
environment (never on argv: messages may hold a record's title).  A failing
or missing command is recorded on the alert and the alert stays listed.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
from typing import TYPE_CHECKING, Any

from dangan.errors import NotFound, UsageError
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def store_alerts(archive: Archive, alerts) -> list[str]:
    """Store new alerts (idempotent by id), audit them, then notify; returns the new ids."""
    new = []
    now = utc_text()
    with archive.transaction() as conn:
        for a in alerts:
            cur = conn.execute(
                "INSERT OR IGNORE INTO alerts (id, record_id, kind, message, due_at, recipient, plugin, raised_at)"
                " VALUES (?,?,?,?,?,?,?,?)", (a.id, a.record_id, a.kind, a.message, utc_text(a.due_at), a.recipient,
                                              a.plugin, now))
            if cur.rowcount:
                new.append(a.id)
                archive.audit(conn, "alert.raise", a.record_id, details={
                    "alert": a.id, "kind": a.kind, "due_at": utc_text(a.due_at), "recipient": a.recipient,
                    "plugin": a.plugin})
    for alert_id in new:
        notify(archive, alert_id)
    return new


def notify(archive: Archive, alert_id: str) -> str:
    cmd = archive.config.raw.get("alerts", {}).get("notify_command")
    alert = get_alert(archive, alert_id)
    if not cmd:
        result = "no notify_command configured"
    else:
        env = {**os.environ, "DANGAN_ALERT_ID": alert["id"], "DANGAN_ALERT_KIND": alert["kind"],
               "DANGAN_ALERT_RECORD": alert["record_id"], "DANGAN_ALERT_DUE": alert["due_at"],
               "DANGAN_ALERT_RECIPIENT": alert["recipient"]}
        try:
            p = subprocess.run(shlex.split(cmd), input=json.dumps(alert, ensure_ascii=False), text=True,
                               capture_output=True, timeout=60, env=env)
            result = "sent" if p.returncode == 0 else f"command exited {p.returncode}: {p.stderr.strip()[:200]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            result = f"command failed: {exc}"
    with archive.transaction() as conn:
        conn.execute("UPDATE alerts SET notified_at = ?, notify_result = ? WHERE id = ?",
                     (utc_text(), result, alert_id))
        archive.audit(conn, "alert.notify", alert["record_id"], "success" if result == "sent" else "failure",
                      details={"alert": alert_id, "result": result})
    return result


def get_alert(archive: Archive, alert_id: str) -> dict[str, Any]:
    rows = archive.conn.execute("SELECT * FROM alerts WHERE id = ? OR id LIKE ?", (alert_id, alert_id + "%")).fetchall()
    if len(rows) != 1:
        raise NotFound(f"no alert {alert_id!r}") if not rows else UsageError(f"alert id {alert_id!r} is ambiguous")
    return dict(rows[0])


def list_alerts(archive: Archive, *, include_acknowledged: bool = False, now: dt.datetime | None = None) -> list[dict]:
    now_s = utc_text(now)
    sql = "SELECT * FROM alerts" + ("" if include_acknowledged else " WHERE acknowledged_at IS NULL") + " ORDER BY due_at"
    out = []
    for r in archive.conn.execute(sql):
        d = dict(r)
        d["overdue"] = d["acknowledged_at"] is None and d["due_at"] < now_s
        out.append(d)
    return out


def acknowledge(archive: Archive, alert_id: str) -> dict:
    alert = get_alert(archive, alert_id)
    if alert["acknowledged_at"]:
        raise UsageError(f"alert {alert['id']} was acknowledged already by {alert['acknowledged_by']}")
    now = utc_text()
    with archive.transaction() as conn:
        conn.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
                     (now, archive.actor.name, alert["id"]))
        archive.audit(conn, "alert.acknowledge", alert["record_id"], details={
            "alert": alert["id"], "late": now > alert["due_at"]})
    return get_alert(archive, alert["id"])
