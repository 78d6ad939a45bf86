"""The whole audit trail checked against its anchors, and accepting a broken one.

``verify`` runs the hash chain (``audit.verify_detailed``), the keyed head and
the checkpoint log line by line (``audit_anchor``), and, given a backup
repository, the checkpoint each snapshot keeps.  ``acknowledge`` is the one
way past a broken trail: an administrator's ``audit.acknowledge`` event
(reason, the problems found, a sha256 over every earlier event) sealed as a
new checkpoint, with a new audit key where the old one is lost.  After it,
problems about earlier events and earlier checkpoints are reported as
acknowledged notes, and any later change to those earlier events is a
problem again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dangan.errors import IntegrityError, UsageError
from dangan.core.catalogue import audit
from dangan.core.catalogue import audit_anchor as anchor

if TYPE_CHECKING:
    from dangan.core.archive import Archive

ADMIN_ROLES = ("admin",)


@dataclass
class Report:
    events: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"events": self.events, "ok": self.ok, "problems": self.problems, "notes": self.notes}


def trail_digest(conn, before_seq: int) -> str:
    """sha256 over every event numbered below ``before_seq``, in storage order."""
    h = hashlib.sha256()
    for r in conn.execute("SELECT seq, time, actor, action, object, outcome, details, prev_hash, hash FROM audit"
                          " WHERE seq < ? ORDER BY seq", (before_seq,)):
        h.update(json.dumps(list(r), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    return h.hexdigest()


def _last_ack(conn) -> tuple[int, int, dict]:
    """(event seq, checkpoint, details) of the latest acknowledgement, or (0, 0, {})."""
    row = conn.execute("SELECT seq, details FROM audit WHERE action = ? ORDER BY seq DESC LIMIT 1",
                       (anchor.ACK_ACTION,)).fetchone()
    if row is None:
        return 0, 0, {}
    try:
        details = json.loads(row["details"])
    except ValueError:
        details = {}
    return row["seq"], int(details.get("checkpoint") or 0), details


def verify(archive: Archive, repo=None) -> Report:
    conn = archive.conn
    report = Report(conn.execute("SELECT count(*) FROM audit").fetchone()[0])
    problems, notes = report.problems, report.notes
    ack_seq, ack_n, ack = _last_ack(conn)
    if ack_seq and trail_digest(conn, ack_seq) != ack.get("trail_sha256"):
        problems.append(f"events before the acknowledgement at event {ack_seq} were changed after it")
        ack_seq = 0
    chain = audit.verify_detailed(conn)
    for seq, text in chain:
        if ack_seq and seq is not None and seq < ack_seq:
            notes.append(f"acknowledged at event {ack_seq}: {text}")
        else:
            problems.append(text)
    head_found, heal = anchor.inspect(archive, conn, write_allowed=False)
    chain_saw_head = any(seq is None for seq, _t in chain)
    problems.extend(p for p in head_found if not (chain_saw_head and p.startswith("the trail ends at event")))
    if heal is not None:
        notes.append(f"checkpoint {heal['n']} is not in {anchor.log_of(archive).name} yet (a crash between commit and log "
                     "write): the next write restores it")
    _check_lines(archive, conn, ack_n, problems, notes)
    if repo is not None:
        _check_backups(archive, conn, repo, ack_seq, ack_n, problems, notes)
    if ack_seq:
        notes.append(f"the trail was acknowledged at event {ack_seq} by {ack.get('acknowledged_by', '?')}: "
                     f"{ack.get('reason', '')}")
    return report


def _key(archive: Archive):
    try:
        return anchor.load_key(archive)
    except IntegrityError:
        return None                               # named by inspect already


def _check_lines(archive: Archive, conn, ack_n: int, problems: list[str], notes: list[str]) -> None:
    clog = anchor.log_of(archive)
    name = clog.name
    read = clog.read_all()
    if read is None:
        return
    lines, bad = read
    problems.extend(bad)
    key = _key(archive)
    kid = anchor.key_id(key) if key else None
    wanted: dict[int, tuple[int, str]] = {}
    prev = None
    for line in lines:
        n = line["n"]
        acked = bool(ack_n) and n < ack_n
        out = notes if acked else problems
        if prev is not None and n != prev + 1:
            (notes if ack_n and n <= ack_n else problems).append(
                f"{name}: checkpoint {n} follows checkpoint {prev} (lines removed or reordered)")
        prev = n
        if kid is not None and line.get("key") == kid:
            if not anchor.line_ok(key, line):
                out.append(f"checkpoint {n} in {name} does not carry the audit key's seal (forged)")
        elif kid is not None and not acked:
            problems.append(f"checkpoint {n} in {name} was sealed by another audit key")
        if line["seq"] and not acked:
            wanted[line["seq"]] = (n, line["hash"])
    _compare_events(conn, wanted, "checkpoint {n}", problems)


def _compare_events(conn, wanted: dict[int, tuple], label: str, problems: list[str]) -> None:
    """Each (seq → (n, hash)) must be an event of the trail with that hash."""
    if not wanted:
        return
    have = {}
    for r in conn.execute("SELECT seq, hash FROM audit WHERE seq >= ?", (min(wanted),)):
        if r["seq"] in wanted:
            have[r["seq"]] = r["hash"]
    for seq, (n, digest) in sorted(wanted.items()):
        what = label.format(n=n)
        if seq not in have:
            problems.append(f"{what} names event {seq}, which the trail no longer holds: committed events were lost "
                            "or deleted")
        elif have[seq] != digest:
            problems.append(f"{what} names event {seq} with another hash than the trail's: the trail was rewritten "
                            "after it")


def _check_backups(archive: Archive, conn, repo, ack_seq: int, ack_n: int, problems: list[str], notes: list[str]) -> None:
    key = _key(archive)
    kid = anchor.key_id(key) if key else None
    ids = repo.snapshot_ids()
    for sid in ids:
        try:
            manifest = repo.load_snapshot(sid)
        except IntegrityError as exc:
            problems.append(f"snapshot {sid}: {exc.message}")
            continue
        a = manifest.get("audit") or {}
        seq, digest, n = a.get("seq") or 0, a.get("hash") or "", a.get("checkpoint")
        if not seq:
            continue
        if (n is None and ack_seq) or (n is not None and ack_n and n < ack_n):
            notes.append(f"snapshot {sid} is from before the acknowledgement: not compared")
            continue
        if n and kid is not None and a.get("key") == kid and not anchor.head_ok(key, n, seq, digest, a.get("mac", "")):
            problems.append(f"snapshot {sid}: its audit checkpoint {n} does not carry the audit key's seal")
        _compare_events(conn, {seq: (n, digest)}, f"snapshot {sid} (checkpoint {{n}})", problems)
    notes.append(f"{len(ids)} backup snapshot(s) compared")


# -- acknowledging --------------------------------------------------------------------------------
def acknowledge(archive: Archive, reason: str, *, automatic: bool = False) -> dict:
    """Accept the trail as it is now (audited as ``audit.acknowledge``); a lost audit key is replaced."""
    reason = (reason or "").strip()
    if not reason:
        raise UsageError("say why with --reason: the acknowledgement is kept in the audit trail")
    from dangan.core.policy.users import acting_user, register_in_use
    if not automatic and register_in_use(archive):      # the open archive (no users yet) lets anybody
        user = acting_user(archive, action="acknowledge the audit trail")
        if not user.has_any(ADMIN_ROLES):
            from dangan.errors import AccessDenied
            raise AccessDenied(f"{user.name} may not acknowledge the audit trail: needs the role admin")
    found = verify(archive)
    key, new_key = _key_for_ack(archive)
    read = anchor.log_of(archive).read_all()
    log_n = max((line["n"] for line in read[0]), default=0) if read else 0
    with archive.transaction() as conn:
        _seq, _h, head_n, _mac = anchor.head_row(conn)
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            conn.execute("DELETE FROM audit_head")
        else:
            conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE"
                         " SET seq = excluded.seq, hash = excluded.hash", (last["seq"], last["hash"]))
        n = max(head_n, log_n) + 1
        pending = archive.audit_checkpoint()
        pending.n = n                                 # the acknowledgement is the one event not guarded
        pending.after_gap = True
        next_seq = (last["seq"] if last else 0) + 1
        details = {"reason": reason, "acknowledged_by": archive.actor.name, "automatic": automatic,
                   "problems": found.problems[:50], "problem_count": len(found.problems), "checkpoint": n,
                   "trail_sha256": trail_digest(conn, next_seq), "new_key": new_key,
                   "key_path": str(anchor.key_path(archive))}
        archive.audit(conn, anchor.ACK_ACTION, details=details)
    return {"checkpoint": n, "event": next_seq, "problems": found.problems, "new_key": new_key}


def _key_for_ack(archive: Archive) -> tuple[bytes, bool]:
    path = anchor.key_path(archive)
    try:
        key = anchor.load_key(archive)
    except IntegrityError:
        path.rename(path.with_name(path.name + ".damaged"))      # kept for inspection, never used again
        archive.__dict__.pop("_audit_key", None)
        key = None
    if key is not None:
        return key, False
    return anchor.create_key(archive), True


def restart_if_new(archive: Archive, reason: str) -> bool:
    """A catalogue made anew (an empty trail) while the checkpoint log goes on: acknowledge it, with
    ``reason``; True if it did."""
    conn = archive.conn
    if conn.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is not None:
        return False
    problems, _heal = anchor.inspect(archive, conn, write_allowed=False)
    if not problems:
        return False
    acknowledge(archive, reason, automatic=True)
    return True
