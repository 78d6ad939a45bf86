"""Anchoring the audit trail outside the catalogue: a keyed head and an append-only checkpoint log.

The hash chain (``audit.py``) shows an edited event, but anyone who can write
the catalogue can also delete its tail and roll ``audit_head`` back, or edit an
event and re-hash everything after it.  Three things outside the catalogue
catch that:

* **the audit key**: 32 random bytes in ``<archive id>.audit.key`` beside the
  keystore's default place (``$XDG_DATA_HOME`` or ``~/.local/share``, then
  ``dangan/keystores/``; ``[audit] key_path`` or ``$DANGAN_AUDIT_KEY``
  elsewhere), mode 0600, made by the archive's first event (``init``).  Each
  committed transaction that appended events gets a *checkpoint number* n, and
  ``audit_head`` keeps ``mac = HMAC(key, n, seq, hash)``: a head rewritten
  without the key does not carry its seal;
* **the checkpoint log** ``ARCHIVE/audit-checkpoints.log`` (``[audit] checkpoint_log`` elsewhere), or, when
  the store is a bucket, one object per checkpoint beside the store's prefix (``checkpoint_log``: the one log
  of every machine of the archive): one JSON line per
  such transaction (n, seq, hash, time, key id, HMAC of the line), fsynced
  (or a conditional PUT), written right after the commit.  A catalogue behind
  its log lost committed events (a truncated WAL, a rollback); a log behind the
  catalogue was rolled back.  A crash between commit and log write leaves the
  log one line behind: the next writer restores that line from the sealed head;
* **backups and a notary**: each snapshot keeps the checkpoint of its
  catalogue copy (``audit verify --backups`` compares them), and
  ``[audit] notarise_command`` gets every new line as JSON on stdin.

A writer checks the head and the log's last line before its first event
(``guard``, constant cost) and refuses with ``IntegrityError`` (exit 6) when
they disagree; ``dangan audit acknowledge --reason`` (``audit_ack.py``) accepts
the state as found, itself an audited event.  The full comparison is
``audit_verify.verify``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import DanganError, IntegrityError
from dangan.core.catalogue import checkpoint_log
from dangan.core.catalogue.audit import GENESIS, utcnow
from dangan.core.catalogue.checkpoint_log import LINE_FORMAT, canonical
from dangan.core.catalogue.checkpoint_log import LOG_NAME as LOG_NAME   # the name a backup keeps the log under

if TYPE_CHECKING:
    from dangan.core.archive import Archive

ACK_ACTION = "audit.acknowledge"
HINT = ("run `dangan audit verify`; once the cause is known an administrator accepts the trail as it is with "
        "`dangan audit acknowledge --reason TEXT`")
NOTARY_TIMEOUT = 60
log = logging.getLogger("dangan.audit")


# -- the key --------------------------------------------------------------------------------
def key_path(archive: Archive) -> Path:
    """``[audit] key_path`` (``init`` writes the absolute default there, so every process finds the same
    key whatever its $HOME), else ``$DANGAN_AUDIT_KEY``, else beside the keystore's default place."""
    cfg = archive.config.raw.get("audit", {})
    if cfg.get("key_path"):
        p = Path(str(cfg["key_path"])).expanduser()
        return p if p.is_absolute() else archive.root / p
    ident = archive.config.archive_id or hashlib.sha256(str(archive.root.resolve()).encode()).hexdigest()[:32]
    return default_key_path(ident)


def default_key_path(ident: str) -> Path:
    if os.environ.get("DANGAN_AUDIT_KEY"):
        return Path(os.environ["DANGAN_AUDIT_KEY"]).expanduser().absolute()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return (base / "dangan" / "keystores" / f"{ident}.audit.key").absolute()


def config_section(archive_id: str) -> str:
    """The ``[audit]`` section of a new archive's ``dangan.toml``."""
    return f"""
[audit]
key_path = {json.dumps(str(default_key_path(archive_id)), ensure_ascii=False)}   # HMAC key of the trail's head: outside the archive, readable by every account that writes
# notarise_command = "cat >> /mnt/worm/audit.jsonl"   # gets each audit checkpoint as JSON on stdin
"""


def load_key(archive: Archive) -> bytes | None:
    """The audit key, or None where there is none (cached on the archive object)."""
    cached = archive.__dict__.get("_audit_key")
    if cached:
        return cached
    path = key_path(archive)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"cannot read the audit key {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise IntegrityError(f"the audit key {path} is damaged (not 64 hexadecimal digits)")
    archive.__dict__["_audit_key"] = key
    return key


def create_key(archive: Archive) -> bytes:
    """Make the audit key (0600, its folder 0700); an existing one is kept."""
    from dangan.repository.fsutil import fsync_dir
    path = key_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = load_key(archive)
        if existing is None:                 # deleted between our open and our read
            raise IntegrityError(f"the audit key {path} vanished while it was being read") from None
        return existing
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(path.parent)
    archive.__dict__["_audit_key"] = key
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"dangan-audit-key-id|" + key).hexdigest()[:16]


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, n: int, seq: int, digest: str) -> str:
    return _mac(key, f"dangan-audit-head/1|{n}|{seq}|{digest}")


def head_ok(key: bytes, n: int, seq: int, digest: str, mac: str) -> bool:
    return hmac.compare_digest(mac or "", head_mac(key, n, seq, digest))


# -- the checkpoint log ------------------------------------------------------------------------
def make_line(key: bytes, n: int, seq: int, digest: str, kind: str = "checkpoint") -> dict:
    line = {"format": LINE_FORMAT, "kind": kind, "n": n, "seq": seq, "hash": digest, "time": utcnow(),
            "key": key_id(key)}
    line["mac"] = _mac(key, canonical(line))
    return line


def line_ok(key: bytes, line: dict) -> bool:
    rest = {k: v for k, v in line.items() if k != "mac"}
    return isinstance(line.get("mac"), str) and hmac.compare_digest(line["mac"], _mac(key, canonical(rest)))


def log_of(archive: Archive) -> checkpoint_log.CheckpointLog:
    """The archive's checkpoint log: the file, or the bucket's objects (``checkpoint_log``)."""
    return checkpoint_log.of(archive)


def append_line(archive: Archive, line: dict, *, after_gap: bool = False) -> bool:
    """Write checkpoint ``line`` if it is the next one (the file: under its lock, fsynced; the bucket: a
    conditional PUT).  False if another writer wrote it already, or the file does not end where it should
    (``guard`` reports that) — unless ``after_gap`` (an acknowledgement, which continues after lines that are
    lost)."""
    return log_of(archive).append(line, after_gap=after_gap)


def notarise(archive: Archive, line: dict) -> None:
    """Hand a new checkpoint to ``[audit] notarise_command`` (JSON on stdin); a failure is a warning."""
    cmd = archive.config.raw.get("audit", {}).get("notarise_command")
    if not cmd:
        return
    try:
        r = subprocess.run(cmd, shell=True, input=canonical(line) + "\n", text=True, capture_output=True,
                           timeout=NOTARY_TIMEOUT, cwd=archive.root)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("warning: the notarise command failed for checkpoint %s: %s", line["n"], exc)
        return
    if r.returncode != 0:
        log.warning("warning: the notarise command exited %s for checkpoint %s: %s", r.returncode, line["n"],
                    (r.stderr or "").strip()[:200])


def write(archive: Archive, line: dict, *, after_gap: bool = False) -> None:
    if append_line(archive, line, after_gap=after_gap):
        notarise(archive, line)


# -- what a writer checks -------------------------------------------------------------------------
@dataclass
class Pending:
    """The checkpoint one transaction makes: ``n`` once guarded, ``seq``/``hash`` of its last event."""
    n: int = 0
    seq: int = 0
    hash: str = ""
    after_gap: bool = False     # an acknowledgement: its line follows whatever the log holds


def head_row(conn) -> tuple[int, str, int, str]:
    row = conn.execute("SELECT seq, hash, checkpoint, mac FROM audit_head WHERE id = 1").fetchone()
    return (row["seq"], row["hash"], row["checkpoint"], row["mac"]) if row else (0, GENESIS, 0, "")


def inspect(archive: Archive, conn, *, write_allowed: bool) -> tuple[list[str], dict | None]:
    """Head, key and the log's last line, in constant time: (problems, a missing last line to restore)."""
    seq, digest, n, mac = head_row(conn)
    problems: list[str] = []
    last_ev = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    if (tuple(last_ev) if last_ev else (0, GENESIS)) != (seq, digest):
        problems.append(f"the trail ends at event {last_ev[0] if last_ev else 0} but its head names event {seq} "
                        "(events at the end were deleted or the head was altered)")
    clog = log_of(archive)
    name = clog.name
    try:
        exists, last = clog.tail(n)
    except ValueError:
        return problems + [f"the newest checkpoint in {name} is not a checkpoint (the log was edited)"], None
    try:
        key = load_key(archive)
    except IntegrityError as exc:
        return problems + [exc.message], None
    kpath = key_path(archive)
    if n == 0 and not mac:                       # not anchored yet: a new archive, or one made before anchoring
        if last is not None and last["n"] >= 1:
            problems.append(f"the catalogue holds no checkpoint but {name} reaches checkpoint {last['n']}: "
                            "the catalogue was replaced or rolled back")
        elif key is None and last is not None:
            problems.append(f"the audit key {kpath} is missing")
        elif key is not None and not exists:
            problems.append(f"{name} is missing although the audit key {kpath} exists (the log was deleted)")
        elif last is not None and key is not None and not line_ok(key, last):
            problems.append(f"the first line of {name} does not carry the audit key's seal")
        elif last is not None and (last["seq"], last["hash"]) != (seq, digest):
            problems.append("the trail grew since anchoring started but the catalogue holds no checkpoint "
                            "(its head was reset)")
        elif last is None and write_allowed and not problems:
            key = key or create_key(archive)
            append_line(archive, make_line(key, 0, seq, digest, kind="start"))
        return problems, None
    if key is None:
        problems.append(f"the audit key {kpath} is missing: the trail's head cannot be authenticated")
    elif not head_ok(key, n, seq, digest, mac):
        problems.append("the trail's head does not carry the audit key's seal: the trail was rewritten inside the "
                        "catalogue (an event edited and the chain re-hashed, or events removed)")
    if last is None:
        problems.append(f"{name} is missing or empty, but the catalogue is at checkpoint {n}")
        return problems, None
    if key is not None and last.get("key") == key_id(key) and not line_ok(key, last):
        problems.append(f"checkpoint {last['n']} in {name} does not carry the audit key's seal (forged)")
    if last["n"] > n:
        problems.append(f"the catalogue is behind its checkpoints: {name} reaches checkpoint {last['n']} "
                        f"(event {last['seq']}), the catalogue only {n} (event {seq}): committed events were lost "
                        "(a truncated WAL, or the catalogue rolled back)")
    elif last["n"] < n - 1:
        problems.append(f"{name} ends at checkpoint {last['n']} but the catalogue is at checkpoint {n}: "
                        "the checkpoint log was rolled back")
    elif last["n"] == n and (last["seq"], last["hash"]) != (seq, digest):
        problems.append(f"checkpoint {n} names event {last['seq']} {last['hash'][:12]}…, the trail's head is event "
                        f"{seq} {digest[:12]}…: the trail was rewritten")
    elif last["n"] == n - 1 and not problems and key is not None:
        return problems, make_line(key, n, seq, digest)   # a crash between commit and log write
    return problems, None


def guard(archive: Archive, conn) -> int:
    """Before a transaction's first event: refuse a broken trail; restore a missing last checkpoint.
    Returns the checkpoint number the transaction will make."""
    problems, heal = inspect(archive, conn, write_allowed=True)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise IntegrityError(f"the audit trail is broken, nothing was changed: {problems[0]}{more}; {HINT}")
    if heal is not None:
        write(archive, heal)
    return head_row(conn)[2] + 1


def require_intact(archive: Archive) -> None:
    """The same refusal as ``guard``, before a command starts (read-only): a batch refuses before its first
    file, a destruction before it shreds anything."""
    problems, _heal = inspect(archive, archive.conn, write_allowed=False)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise IntegrityError(f"the audit trail is broken, nothing was changed: {problems[0]}{more}; {HINT}")


def seal(archive: Archive, conn, pending: Pending) -> None:
    """After each event: the head carries the key's seal for the transaction's checkpoint."""
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    key = load_key(archive) or create_key(archive)
    conn.execute("UPDATE audit_head SET checkpoint = ?, mac = ? WHERE id = 1",
                 (pending.n, head_mac(key, pending.n, row["seq"], row["hash"])))
    pending.seq, pending.hash = row["seq"], row["hash"]


def publish(archive: Archive, pending: Pending) -> None:
    """After the commit: the transaction's checkpoint line, then the notary."""
    if not pending.seq:
        return
    key = load_key(archive)
    if key is None:
        return
    try:
        write(archive, make_line(key, pending.n, pending.seq, pending.hash), after_gap=pending.after_gap)
    except (OSError, DanganError) as exc:           # committed already: the bucket or the disk failed after it
        log.warning("warning: checkpoint %s not written to %s (%s): the next write restores it",
                    pending.n, log_of(archive).name, getattr(exc, "strerror", None) or exc)


def lines_upto(archive: Archive, n: int) -> bytes:
    """The log's lines up to checkpoint ``n`` (what a backup of a catalogue copy at ``n`` keeps)."""
    return log_of(archive).lines_upto(n)
