"""Volume keys a security officer unlocked for a server process (``dangan serve``), held in its memory only.

A cleared user unlocks a volume for themself through the unlock agent (``agent.py``, per user and volume).
A server serves many users, so a security officer may also unlock a volume *for the server*: the volume's
private key is then held here, in this process's memory — never on disk, never in the agent — until it
expires or the officer locks it.  ``catalogue.volumes.private_key`` hands it to any acting user cleared for
the volume's secrecy; to everyone else the volume stays locked.

Only a process that declared itself a server (``enable``) holds keys: a CLI command would drop them at exit.
With several worker processes each would hold its own, and an unlock reaching one worker would leave the others
locked, so ``enable(workers=N)`` with N > 1 refuses server unlocks (``refusal``).

At expiry a timer drops the key; a read that finds it expired drops it too.  Either way ``on_expiry`` (given at
``put``) runs once, outside the lock — the service layer audits the relock there.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

#: Replaced in tests to move time on without waiting (the deadline is on the monotonic clock).
monotonic = time.monotonic


@dataclass
class _Held:
    key: bytes
    deadline: float                 # monotonic
    until: float                    # wall-clock epoch seconds, to show
    by: str
    on_expiry: Callable[[], None] | None
    timer: threading.Timer | None


_lock = threading.Lock()
_held: dict[str, _Held] = {}
_expired: list[_Held] = []          # dropped by a read, their expiry not reported yet
_state = {"enabled": False, "workers": 1}


def enable(workers: int = 1) -> None:
    """This process is a server: it may hold keys for its users (one worker process only)."""
    _state["enabled"], _state["workers"] = True, int(workers)


def refusal() -> str | None:
    """Why this process may not hold server keys, or None when it may."""
    if not _state["enabled"]:
        return "only a running `dangan serve` holds volumes unlocked for the server"
    if _state["workers"] > 1:
        return (f"this server runs {_state['workers']} worker processes, each with its own memory: an unlock would "
                "reach one of them only; serve with `--workers 1` to unlock volumes for the server")
    return None


def put(volume_id: str, key: bytes, seconds: float, *, by: str, on_expiry: Callable[[], None] | None = None) -> float:
    """Hold ``key`` for ``seconds``; the wall-clock time it expires (epoch seconds)."""
    until = time.time() + seconds
    timer = threading.Timer(seconds, _expire, args=(volume_id,))
    timer.daemon = True
    with _lock:
        old = _held.pop(volume_id, None)
        _held[volume_id] = _Held(key, monotonic() + seconds, until, by, on_expiry, timer)
    if old is not None and old.timer is not None:
        old.timer.cancel()
    timer.start()
    return until


def get(volume_id: str) -> bytes | None:
    """The key while it is held and not expired (an expired one is dropped, and its expiry reported)."""
    with _lock:
        held = _held.get(volume_id)
        if held is None:
            return None
        if monotonic() < held.deadline:
            return held.key
        _expired.append(_held.pop(volume_id))
    # dropped now; the expiry is reported from a thread of its own: this read may be inside a transaction of
    # the caller's, and the report writes an audit event through another connection
    threading.Thread(target=_expire, args=(volume_id,), daemon=True, name="dangan-server-key-expiry").start()
    return None


def drop(volume_id: str) -> bool:
    """Forget the key (a lock); True if one was held.  No expiry is reported."""
    with _lock:
        held = _held.pop(volume_id, None)
    if held is not None and held.timer is not None:
        held.timer.cancel()
    return held is not None


def status() -> dict[str, tuple[float, str]]:
    """Volume id → (expiry as epoch seconds, who unlocked it), for the volumes held and not expired."""
    now = monotonic()
    with _lock:
        return {vid: (h.until, h.by) for vid, h in _held.items() if now < h.deadline}


def clear() -> None:
    """Drop every key (server shutdown)."""
    with _lock:
        held = list(_held.values())
        _held.clear()
    for h in held:
        if h.timer is not None:
            h.timer.cancel()


def _expire(volume_id: str) -> None:
    """Drop an expired key (the timer's call) or report one a read dropped; each expiry is reported once."""
    with _lock:
        held = _held.get(volume_id)
        if held is not None and monotonic() >= held.deadline:
            del _held[volume_id]
            due = [held]
        else:
            due = []                            # locked already, or unlocked again since this timer was set
        due += [h for h in _expired if h not in due]
        _expired.clear()
    for h in due:
        if h.timer is not None:
            h.timer.cancel()
        if h.on_expiry is not None:
            try:
                h.on_expiry()
            except Exception:  # noqa: BLE001 - the key is gone either way; a failed audit must not break a read
                pass
