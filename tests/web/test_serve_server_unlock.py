"""A security officer unlocks a confidential volume for the server: users cleared for it then see its sealed
records (page and search) without a passphrase of their own, others still do not; it relocks at expiry and on
the officer's lock; every step is audited; the key is held in the server process only, never by the agent."""
from __future__ import annotations

import pytest

from cli_helpers import audit
from serve_helpers import PASS, SECRET_TEXT, SECRET_TITLE, client, csrf_of, password, sign_in
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


@pytest.fixture
def officer(cli, office):
    cli("user", "add", "so", "--role", "security-officer", "--dept", "BGS", "--clearance", "secret", user="boss")
    cli("user", "passwd", "so", input=password("so") + "\n", user="boss")
    yield "so"
    from dangan.core.confidential import server_keys
    server_keys.clear()


def _unlock(c, minutes="5", passphrase=PASS, volume="V"):
    return c.post(f"/volumes/{volume}/server-unlock", data={"csrf": csrf_of(c, f"/volumes/{volume}"),
                                                              "passphrase": passphrase, "minutes": minutes}, follow_redirects=False)


def test_cleared_users_see_sealed_records_after_the_officers_unlock(cli, office, officer, archive_root):
    """One server (one app, its lifespan): users sign in one after another."""
    from dangan.core.confidential import server_keys
    with client(archive_root) as c:
        sign_in(c, "mgr")                                                  # cleared, has not unlocked
        assert SECRET_TITLE not in c.get(f"/records/{office['secret']}").text
        assert _unlock(c).status_code == 403                               # not a security officer: refused
        sign_in(c, "so")
        assert _unlock(c, passphrase="wrong one").status_code == 409
        assert _unlock(c).status_code == 303
        assert 'id="server-unlocked"' in c.get("/volumes/V").text
        sign_in(c, "mgr")
        assert SECRET_TITLE in c.get(f"/records/{office['secret']}").text
        assert SECRET_TITLE in c.get("/search", params={"q": SECRET_TEXT}).text     # the volume index too
        assert SECRET_TITLE in c.get("/volumes/V").text
        sign_in(c, "clerk")                                                # not cleared for 秘密
        page = c.get(f"/records/{office['secret']}").text
        assert SECRET_TITLE not in page and "★秘密" in page
        assert SECRET_TITLE not in c.get("/search", params={"q": SECRET_TEXT}).text
        # the key is in this (server) process, not in the agent: no user's agent holds the volume
        from dangan.core.archive import Archive
        from dangan.core.catalogue.volumes import agent_status
        from dangan.web.context import web_actor
        with Archive(archive_root, web_actor("mgr")) as a:
            assert agent_status(a) == {}
        assert len(server_keys.status()) == 1
        sign_in(c, "so")
        assert c.post("/volumes/V/server-lock", data={"csrf": csrf_of(c, "/volumes/V")}, follow_redirects=False).status_code == 303
        sign_in(c, "mgr")
        assert SECRET_TITLE not in c.get(f"/records/{office['secret']}").text
    unlocks = audit(cli, "volume.unlock")
    assert [(e["outcome"], e["actor"]) for e in unlocks] == [("failure", "so"), ("success", "so")]
    assert all(e["details"]["for"] == "server" for e in unlocks)
    assert [e["details"].get("for") for e in audit(cli, "volume.lock")] == ["server"]
    refused = [e for e in audit(cli, "access.denied") if e["object"] == "V"]
    assert refused and refused[0]["actor"] == "mgr"


def test_stopping_the_server_locks_what_it_held(cli, office, officer, archive_root):
    from dangan.core.confidential import server_keys
    with client(archive_root) as c:
        sign_in(c, "so")
        assert _unlock(c).status_code == 303
        assert len(server_keys.status()) == 1
    assert server_keys.status() == {}


def test_the_server_unlock_expires_and_the_relock_is_audited(cli, office, officer, archive_root, monkeypatch):
    from dangan.core.confidential import server_keys
    with client(archive_root) as c:
        sign_in(c, "so")
        assert _unlock(c, minutes="1").status_code in (200, 303)
        sign_in(c, "mgr")
        assert SECRET_TITLE in c.get(f"/records/{office['secret']}").text
        later = server_keys.monotonic() + 61
        monkeypatch.setattr(server_keys, "monotonic", lambda: later)      # a minute on, without waiting for it
        page = c.get(f"/records/{office['secret']}").text
        assert SECRET_TITLE not in page and "已封存" in page
    assert server_keys.status() == {}
    from watch_helpers import wait_for
    wait_for(lambda: audit(cli, "volume.lock") != [], what="the relock audited (from a thread of its own)")
    locks = audit(cli, "volume.lock")
    assert [(e["actor"], e["details"]["reason"]) for e in locks] == [("so", "expired")]


def test_a_server_of_several_worker_processes_refuses_a_server_unlock(cli, office, officer, archive_root):
    with client(archive_root, workers=2) as c:
        sign_in(c, "so")
        r = _unlock(c)
        assert r.status_code == 400 and "--workers 1" in r.text
    assert audit(cli, "volume.unlock") == []
