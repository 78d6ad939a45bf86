"""Credentials of the web face: passwords, sessions, sign-in throttling, API tokens, idempotency keys.

* **Passwords** are argon2id hashes (argon2-cffi) of the users register's users; an admin sets or
  resets one (``dangan user passwd NAME``), a user may change their own.  ``user.passwd`` is audited,
  never the password.
* **Sessions** are server-side rows; the cookie holds a random 256-bit token and the catalogue only its
  sha256, so a copy of the catalogue opens no session.  Each has an absolute expiry
  (``[serve] session_hours``, default 8) and a CSRF token; signing out ends it.
* **Throttling**: after ``[serve] signin_failures`` (default 5) failed sign-ins for one name within
  ``signin_window_minutes`` (15) every further attempt for that name is refused unchecked until the
  window has passed.  Sign-in, failure, refusal and sign-out are audited (``auth.*``).
* **API tokens** (``dangan token create USER --scope read,ingest --days N``) are ``dgn_<id>_<secret>``;
  stored as sha256 of the secret with their scopes and expiry, shown once, revocable by id.
* **Idempotency keys**: an API ingest with an ``Idempotency-Key`` stores (user, key) → record, so a
  retry answers the record filed the first time instead of filing it twice.

A web actor is ``Actor(name=USER, session="web:USER")``: the register's user the face authenticated
(``users.acting_user`` trusts a face-authenticated session and still refuses disabled users), and
one identity per person for the four-eyes rules.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dangan.errors import AccessDenied, NotFound, UsageError, WrongState
from dangan.core.catalogue import leases
from dangan.core.kernel.clock import utc_now, utc_text
from dangan.core.policy.users import acting_user, deny, get_user, require_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive

SCOPES = ("read", "ingest", "lend", "hold", "admin")
TOKEN_PREFIX = "dgn_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _serve_cfg(archive: Archive, key: str, default: int) -> int:
    v = archive.config.raw.get("serve", {}).get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise UsageError(f"dangan.toml: [serve] {key} must be a positive whole number")
    return v


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()


# -- passwords ------------------------------------------------------------------------------

def set_password(archive: Archive, name: str, password: str) -> None:
    """Set ``name``'s web password: an admin for anyone, a user for themself; audited without the password."""
    me = acting_user(archive, action="set password", obj=f"user:{name}")
    target = require_user(archive, name)
    if target.name != me.name and "admin" not in me.roles:
        raise deny(archive, "set password", f"user:{name}", f"{me.name} may not set the password of {name}: "
                   "needs the role admin")
    if len(password) < 10:
        raise UsageError("a password needs at least 10 characters")
    if any(c in password for c in "\r\n\x00"):
        raise UsageError("a password is one line")
    h = _hasher().hash(password)
    with archive.transaction() as conn:
        conn.execute("INSERT INTO web_passwords (user, hash, set_at, set_by) VALUES (?,?,?,?) ON CONFLICT(user)"
                     " DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at, set_by = excluded.set_by",
                     (target.name, h, utc_text(), me.name))
        conn.execute("UPDATE web_sessions SET ended_at = ? WHERE user = ? AND ended_at IS NULL",
                     (utc_text(), target.name))        # a reset password ends the sessions opened with the old one
        archive.audit(conn, "user.passwd", f"user:{target.name}", details={"reset": target.name != me.name})


class SignInRefused(AccessDenied):
    """Wrong name or password, a disabled user, or too many failures (the message never says which)."""


@dataclass(frozen=True)
class Session:
    token: str          # the cookie's value; never stored, never logged
    user: str
    csrf: str
    expires: str


def _failures(archive: Archive, name: str) -> int:
    window = _serve_cfg(archive, "signin_window_minutes", 15)
    since = utc_text(utc_now() - dt.timedelta(minutes=window))
    return archive.conn.execute("SELECT count(*) FROM signin_failures WHERE user = ? AND at > ?",
                                (name, since)).fetchone()[0]


def sign_in(archive: Archive, name: str, password: str, *, client: str = "") -> Session:
    """Check a password and open a session; every outcome audited (``auth.signin``).  ``archive.actor`` is
    the anonymous web actor; events name the user tried in ``details``."""
    name = (name or "").strip()[:64]
    if _failures(archive, name) >= _serve_cfg(archive, "signin_failures", 5):
        archive.record_event("auth.signin", f"user:{name}", "denied", details={"user": name, "client": client,
                                                                                "reason": "throttled"})
        raise SignInRefused("too many failed sign-ins for this name: wait and try again (登录失败次数过多，请稍后再试)")
    u = get_user(archive, name) if name else None
    row = archive.conn.execute("SELECT hash FROM web_passwords WHERE user = ?", (name,)).fetchone() if u else None
    ok = False
    if row is not None:
        from argon2.exceptions import InvalidHashError, VerificationError
        try:
            ok = _hasher().verify(row["hash"], password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        try:                                      # the same work whether or not the name exists
            _hasher().verify(_dummy_hash(), password)
        except Exception:
            pass
    if not ok or u is None or not u.active:
        with archive.transaction() as conn:
            conn.execute("INSERT INTO signin_failures (user, at) VALUES (?, ?)", (name, utc_text()))
            archive.audit(conn, "auth.signin", f"user:{name}", "failure", details={"user": name, "client": client})
        raise SignInRefused("wrong name or password (用户名或密码错误)")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = utc_text(utc_now() + dt.timedelta(hours=_serve_cfg(archive, "session_hours", 8)))
    with archive.transaction() as conn:
        conn.execute("INSERT INTO web_sessions (id_hash, user, csrf, created, expires) VALUES (?,?,?,?,?)",
                     (_digest(token), u.name, csrf, utc_text(), expires))
        conn.execute("DELETE FROM signin_failures WHERE user = ?", (u.name,))
        archive.audit(conn, "auth.signin", f"user:{u.name}", details={"user": u.name, "client": client,
                                                                      "expires": expires})
    return Session(token, u.name, csrf, expires)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def session_of(archive: Archive, token: str | None) -> Session | None:
    """The live session a cookie names, or None (unknown, ended, expired, or its user disabled)."""
    if not token or len(token) > 100:
        return None
    r = archive.conn.execute("SELECT s.user, s.csrf, s.expires, s.ended_at, u.active FROM web_sessions s"
                             " JOIN users u ON u.name = s.user WHERE s.id_hash = ?", (_digest(token),)).fetchone()
    if r is None or r["ended_at"] or not r["active"] or r["expires"] <= utc_text():
        return None
    return Session(token, r["user"], r["csrf"], r["expires"])


def sign_out(archive: Archive, token: str) -> None:
    s = session_of(archive, token)
    if s is None:
        return
    with archive.transaction() as conn:
        conn.execute("UPDATE web_sessions SET ended_at = ? WHERE id_hash = ?", (utc_text(), _digest(token)))
        archive.audit(conn, "auth.signout", f"user:{s.user}", details={"user": s.user})


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and given != "" and hmac.compare_digest(session.csrf, given)


# -- API tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    id: str
    user: str
    scopes: frozenset[str]
    expires: str


def parse_scopes(text: str) -> list[str]:
    scopes = sorted({s.strip() for s in (text or "").split(",") if s.strip()})
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise UsageError(f"unknown scope {', '.join(bad) or '(none)'}: use {', '.join(SCOPES)}")
    return scopes


def create_token(archive: Archive, user: str, scopes: list[str], *, days: int = 90) -> tuple[str, dict]:
    """An admin creates a token for ``user``; returns (the token, shown once; its row without the hash)."""
    me = acting_user(archive, action="create tokens")
    if "admin" not in me.roles:
        raise deny(archive, "create tokens", f"user:{user}", f"{me.name} may not create API tokens: needs the role admin")
    target = require_user(archive, user)
    if not target.active:
        raise UsageError(f"user {user!r} is disabled")
    if not 1 <= days <= 3660:
        raise UsageError("--days must be 1 to 3660")
    scopes = parse_scopes(",".join(scopes))
    tid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    expires = utc_text(utc_now() + dt.timedelta(days=days))
    with archive.transaction() as conn:
        conn.execute("INSERT INTO api_tokens (id, user, hash, scopes, created, created_by, expires) VALUES"
                     " (?,?,?,?,?,?,?)", (tid, target.name, _digest(secret), json.dumps(scopes), utc_text(), me.name, expires))
        archive.audit(conn, "token.create", f"user:{target.name}", details={"token": tid, "scopes": scopes,
                                                                           "expires": expires})
    return f"{TOKEN_PREFIX}{tid}_{secret}", _token_row(archive, tid)


def _token_row(archive: Archive, tid: str) -> dict:
    r = archive.conn.execute("SELECT id, user, scopes, created, created_by, expires, revoked_at, last_used"
                             " FROM api_tokens WHERE id = ?", (tid,)).fetchone()
    if r is None:
        raise NotFound(f"no API token {tid!r} (see `dangan token list`)")
    d = dict(r)
    d["scopes"] = json.loads(d["scopes"])
    return d


def list_tokens(archive: Archive) -> list[dict]:
    me = acting_user(archive, action="list tokens")
    rows = archive.conn.execute("SELECT id FROM api_tokens" + ("" if "admin" in me.roles else " WHERE user = ?")
                                + " ORDER BY created, id", () if "admin" in me.roles else (me.name,))
    return [_token_row(archive, r["id"]) for r in rows.fetchall()]


def revoke_token(archive: Archive, tid: str) -> dict:
    me = acting_user(archive, action="revoke tokens")
    row = _token_row(archive, tid)
    if "admin" not in me.roles and row["user"] != me.name:
        raise deny(archive, "revoke tokens", f"token:{tid}", f"{me.name} may not revoke token {tid}")
    if row["revoked_at"]:
        raise UsageError(f"token {tid} was revoked already")
    with archive.transaction() as conn:
        conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (utc_text(), tid))
        archive.audit(conn, "token.revoke", f"user:{row['user']}", details={"token": tid})
    return _token_row(archive, tid)


def token_of(archive: Archive, bearer: str | None) -> Token | None:
    """The live token a bearer string is, or None (malformed, unknown, revoked, expired, user disabled)."""
    if not bearer or not bearer.startswith(TOKEN_PREFIX) or len(bearer) > 120:
        return None
    tid, _, secret = bearer[len(TOKEN_PREFIX):].partition("_")
    r = archive.conn.execute("SELECT t.*, u.active FROM api_tokens t JOIN users u ON u.name = t.user WHERE t.id = ?",
                             (tid,)).fetchone()
    if r is None or not hmac.compare_digest(r["hash"], _digest(secret)):
        return None
    if r["revoked_at"] or not r["active"] or r["expires"] <= utc_text():
        return None
    return Token(r["id"], r["user"], frozenset(json.loads(r["scopes"])), r["expires"])


# -- idempotency keys -------------------------------------------------------------------------

class InProgress(WrongState):
    """A request with this Idempotency-Key is being served right now (HTTP 409: retry later)."""


def claim_idempotency(archive: Archive, user: str, key: str, request_digest: str) -> str | None:
    """Claim ``key`` for this request: None (first time: go on, then ``settle_idempotency``), or the record an
    earlier request with this key filed.  The same key for a different request, or while the first is still
    running, is refused: a key names one request, served once."""
    if not key or len(key) > 200:
        raise UsageError("an Idempotency-Key is 1 to 200 characters")
    try:
        with archive.transaction() as conn:
            r = conn.execute("SELECT request_digest, record_id FROM idempotency_keys WHERE user = ? AND key = ?",
                             (user, key)).fetchone()
            if r is None:
                if leases.applies(conn):      # a claim of a server killed mid-request ends with its lease
                    leases.hold(conn, "idempotency", _lease_key(user, key))
                conn.execute("INSERT INTO idempotency_keys (user, key, request_digest, record_id, created)"
                             " VALUES (?,?,?,NULL,?)", (user, key, request_digest, utc_text()))
                return None
    except BaseException:
        _release(archive, user, key)
        raise
    if r["request_digest"] != request_digest:
        raise UsageError("this Idempotency-Key was used for a different request")
    if r["record_id"] is None:
        raise InProgress("a request with this Idempotency-Key is still being served: retry later")
    return r["record_id"]


def _lease_key(user: str, key: str) -> str:
    return f"{user}\n{key}"


def _release(archive: Archive, user: str, key: str) -> None:
    if leases.applies(archive.conn):
        try:
            leases.release(archive.conn, "idempotency", _lease_key(user, key))
        except Exception:  # noqa: BLE001 - a lost session released its lock; the lease row ends by itself
            pass


def dead_claimer(archive: Archive, user: str, key: str) -> tuple[str, int] | None:
    """PostgreSQL: the (host, pid) of the process that claimed ``key`` and died (every lease it held has ended),
    the claim's lease now this process's; None if the claimer may be alive (or on SQLite)."""
    conn = archive.conn
    if not leases.applies(conn):
        return None
    lk = _lease_key(user, key)
    holder = leases.holder_of(conn, "idempotency", lk)
    if holder is not None and leases.holder_live(conn, holder):
        return None
    if not leases.take_over(conn, "idempotency", lk):
        return None
    host, _, rest = (holder or "?:0:").partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else 0


def take_over_claim(archive: Archive, user: str, key: str, request_digest: str) -> None:
    """The dead claimer's request is settled (its interrupted writes): the claim is this request's now."""
    with archive.transaction() as conn:
        conn.execute("UPDATE idempotency_keys SET created = ? WHERE user = ? AND key = ? AND record_id IS NULL"
                     " AND request_digest = ?", (utc_text(), user, key, request_digest))


def give_up_claim(archive: Archive, user: str, key: str) -> None:
    """A take-over that cannot go on yet (the dead claimer's writes not all settled): the claim's lease goes."""
    _release(archive, user, key)


def settle_idempotency(archive: Archive, user: str, key: str, record_id: str | None) -> None:
    """Record what the claimed request filed; None (it failed) releases the key for a retry."""
    try:
        with archive.transaction() as conn:
            if record_id is None:
                conn.execute("DELETE FROM idempotency_keys WHERE user = ? AND key = ? AND record_id IS NULL",
                             (user, key))
            else:
                conn.execute("UPDATE idempotency_keys SET record_id = ? WHERE user = ? AND key = ?",
                             (record_id, user, key))
    finally:
        _release(archive, user, key)
