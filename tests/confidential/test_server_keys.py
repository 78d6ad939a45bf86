"""The keys a server process holds for volumes a security officer unlocked: only in a process that declared itself
a server, with one worker; dropped at expiry (reported once) or on a lock (not reported)."""
from __future__ import annotations

import threading

import pytest

from dangan.core.confidential import server_keys


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setattr(server_keys, "_state", {"enabled": False, "workers": 1})
    yield server_keys
    server_keys.clear()


def test_only_a_one_worker_server_holds_keys(keys):
    assert "dangan serve" in keys.refusal()
    keys.enable(workers=3)
    assert "--workers 1" in keys.refusal()
    keys.enable(workers=1)
    assert keys.refusal() is None


def test_a_key_is_held_until_expiry_and_its_expiry_reported_once(keys, monkeypatch):
    reported = threading.Event()
    calls = []

    def on_expiry():
        calls.append(1)
        reported.set()
    keys.put("vol-1", b"k" * 32, 600, by="so", on_expiry=on_expiry)
    assert keys.get("vol-1") == b"k" * 32 and keys.status()["vol-1"][1] == "so"
    later = keys.monotonic() + 601
    monkeypatch.setattr(keys, "monotonic", lambda: later)
    assert keys.get("vol-1") is None and keys.get("vol-1") is None and keys.status() == {}
    assert reported.wait(60)
    keys._expire("vol-1")                                   # the timer firing late reports nothing more
    assert calls == [1]


def test_a_lock_drops_the_key_without_an_expiry(keys):
    calls = []
    keys.put("vol-2", b"x" * 32, 600, by="so", on_expiry=lambda: calls.append(1))
    assert keys.drop("vol-2") and not keys.drop("vol-2")
    assert keys.get("vol-2") is None and calls == []
