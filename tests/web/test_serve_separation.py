"""Issue 19 item 7 through the web face: with 三员分立 on, the admin's audit page leaves out the admin's own
events and the auditor's shows them; granting a second separated role is refused the same way."""
from __future__ import annotations

from serve_helpers import client, sign_in
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def test_the_auditor_alone_reads_the_admins_events_on_the_web(cli, office, archive_root):
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[security]\nseparation_of_duties = true\n", encoding="utf-8")
    r = cli("user", "set", "aud", "--add-role", "security-officer", user="boss", ok=False)
    assert r.exit_code == 7 and "三员分立" in r.output
    with client(archive_root) as c:
        sign_in(c, "boss")
        rows = c.get("/audit", params={"action": "user.add"}).text.split('id="events"')[1]
        assert "user:aud" not in rows and "user:clerk" not in rows          # boss added them: boss's events
        rows = c.get("/audit", params={"action": "access.denied"}).text.split('id="events"')[1]
        assert "三员分立" not in rows and "user:aud" not in rows
    with client(archive_root) as c:
        sign_in(c, "aud")
        rows = c.get("/audit", params={"action": "user.add"}).text.split('id="events"')[1]
        assert "user:aud" in rows and "user:clerk" in rows
        rows = c.get("/audit", params={"action": "access.denied"}).text.split('id="events"')[1]
        assert "user:aud" in rows
