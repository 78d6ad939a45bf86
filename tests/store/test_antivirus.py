"""Issue 18.7: the virus check at intake with ClamAV (clamd when it runs, clamscan otherwise).

No signatures can be downloaded here: each test writes a signature database of its own, a hash
signature (.hdb) for one test file and a body signature (.ndb) for a byte string, and points
``[antivirus] database`` (clamscan -d) or a real clamd of its own at it."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from watch_helpers import folder, query, wait_for, watching

pytestmark = pytest.mark.skipif(shutil.which("clamscan") is None, reason="ClamAV (clamscan) is not installed")

EVIL = b"DANGAN TEST VIRUS: a harmless file a test signature names\n"
BODY = b"XDANGAN-BODY-SIGNATUREX"
FIELDS = ("--category", "WS", "--dept", "BGS", "--retention", "permanent")


@pytest.fixture
def signatures(tmp_path) -> Path:
    db = tmp_path / "sigs"
    db.mkdir()
    (db / "dangan-test.hdb").write_text(f"{hashlib.md5(EVIL).hexdigest()}:{len(EVIL)}:Dangan.Test.Hash-1\n")
    (db / "dangan-test.ndb").write_text(f"Dangan.Test.Body-1:0:*:{BODY.hex()}\n")
    return db


def configure(root: Path, **keys) -> None:
    body = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    with open(root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write(f"\n[antivirus]\n{body}")


def records(root: Path) -> int:
    return query(root, "SELECT count(*) FROM records")[0][0]


def test_an_infected_file_is_quarantined_with_its_signature_and_never_archived(archive_root, cli, tmp_path,
                                                                              signatures):
    configure(archive_root, enabled="on", database=str(signatures))
    clean = tmp_path / "clean.txt"
    clean.write_text("一份干净的文件 CLEANMARK")
    evil = tmp_path / "report.txt"
    evil.write_bytes(EVIL)
    body = tmp_path / "macro.doc.txt"
    body.write_bytes(b"an ordinary start, then " + BODY + b" and more text")
    r = cli("ingest", str(clean), str(evil), str(body), *FIELDS, "--json", ok=False)
    out = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert r.exit_code == 16                                   # every refusal was an infection
    assert [o["status"] for o in out] == ["archived", "refused", "refused"]
    assert "Dangan.Test.Hash-1" in out[1]["message"] and "Dangan.Test.Body-1" in out[2]["message"]
    assert records(archive_root) == 1
    shown = json.loads(cli("show", out[0]["record_id"], "--json").output)
    assert shown["metadata"]["x.virus_check"] == "clean (clamscan)"
    q = archive_root / "quarantine"
    assert (q / "report.txt").read_bytes() == EVIL and not evil.exists()
    assert "Dangan.Test.Hash-1" in (q / "report.txt.error.txt").read_text()
    assert "Dangan.Test.Body-1" in (q / "macro.doc.txt.error.txt").read_text()
    status = json.loads(cli("status", "--json").output)
    assert status["antivirus"]["engine"] == "clamscan" and status["antivirus"]["signature_files"] == [
        "dangan-test.hdb", "dangan-test.ndb"]
    cli("check")


def test_an_infected_attachment_refuses_the_whole_record(archive_root, cli, tmp_path, signatures):
    configure(archive_root, database=str(signatures))          # auto: signatures are there, so it checks
    main = tmp_path / "letter.txt"
    main.write_text("cover letter")
    att = tmp_path / "annex.bin"
    att.write_bytes(EVIL)
    r = cli("ingest", str(main), "--attach", str(att), *FIELDS, ok=False)
    assert r.exit_code == 16 and "Dangan.Test.Hash-1" in r.output
    assert records(archive_root) == 0 and (archive_root / "quarantine" / "annex.bin").exists()
    assert main.exists()                                        # the clean main file stays where it was


def test_a_watched_folder_quarantines_an_infected_file_beside_its_reason(archive_root, tmp_path, signatures):
    configure(archive_root, enabled="on", database=str(signatures))
    drop = tmp_path / "drop"
    drop.mkdir()
    with watching(archive_root, folder(drop, category="WS", department="BGS", retention="permanent",
                                       settle_seconds=0.3)):
        (drop / "ok.txt").write_text("clean text")
        (drop / "evil.txt").write_bytes(EVIL)
        wait_for(lambda: (drop / "quarantine" / "evil.txt").exists() and (drop / "done" / "ok.txt").exists(),
                 what="the infected file quarantined, the clean one archived")
    assert "Dangan.Test.Hash-1" in (drop / "quarantine" / "evil.txt.error.txt").read_text()
    assert records(archive_root) == 1
    reasons = [r[0] for r in query(archive_root, "SELECT reason FROM watch_handoffs WHERE outcome = 'refused'")]
    assert len(reasons) == 1 and "Dangan.Test.Hash-1" in reasons[0]


def test_no_signatures_is_said_in_status_and_refuses_files_when_the_check_is_required(archive_root, cli, tmp_path):
    empty = tmp_path / "no-sigs"
    empty.mkdir()
    configure(archive_root, enabled="auto", database=str(empty))
    st = json.loads(cli("status", "--json").output)["antivirus"]
    assert st["engine"] is None and "NOT checked" in st["message"]
    f = tmp_path / "a.txt"
    f.write_text("archived unchecked under auto")
    cli("ingest", str(f), *FIELDS)
    text = (archive_root / "dangan.toml").read_text().replace('enabled = "auto"', 'enabled = "on"')
    (archive_root / "dangan.toml").write_text(text)
    g = tmp_path / "b.txt"
    g.write_text("refused: nothing can check it")
    r = cli("ingest", str(g), *FIELDS, ok=False)
    assert r.exit_code == 17 and "virus check cannot run" in r.output
    assert g.exists() and records(archive_root) == 1          # left where it was, not archived
    assert "every file is refused" in cli("status").output


def test_a_scan_error_is_a_refusal_not_a_pass(archive_root, cli, tmp_path, signatures):
    (signatures / "broken.ndb").write_text("this is not a signature line\n")
    configure(archive_root, enabled="on", database=str(signatures))
    f = tmp_path / "x.txt"
    f.write_text("content")
    r = cli("ingest", str(f), *FIELDS, ok=False)
    assert r.exit_code == 17 and "virus check failed" in r.output and records(archive_root) == 0
    assert f.exists()


@pytest.fixture
def clamd(tmp_path, signatures):
    """A real clamd of our own on a local socket, with the test signatures."""
    if not Path("/usr/sbin/clamd").exists():
        pytest.skip("clamd (clamav-daemon) is not installed")
    sock = tmp_path / "clamd.sock"
    conf = tmp_path / "clamd.conf"
    conf.write_text(f"LocalSocket {sock}\nDatabaseDirectory {signatures}\nForeground yes\n"
                    f"LogFile {tmp_path / 'clamd.log'}\n")
    proc = subprocess.Popen(["/usr/sbin/clamd", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: sock.exists() or proc.poll() is not None, what="clamd to listen")
        assert proc.poll() is None, (tmp_path / "clamd.log").read_text()
        yield sock, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_clamd_checks_files_when_it_runs_and_a_stopped_clamd_is_never_a_pass(archive_root, cli, tmp_path, clamd):
    sock, proc = clamd
    configure(archive_root, enabled="on", socket=str(sock))
    st = json.loads(cli("status", "--json").output)["antivirus"]
    assert st["engine"] == "clamd"
    good = tmp_path / "good.txt"
    good.write_text("clean, checked by the daemon")
    evil = tmp_path / "evil.txt"
    evil.write_bytes(EVIL)
    r = cli("ingest", str(good), str(evil), *FIELDS, "--json", ok=False)
    out = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert r.exit_code == 16 and "found by clamd" in out[1]["message"]
    assert json.loads(cli("show", out[0]["record_id"], "--json").output)["metadata"]["x.virus_check"] == \
        "clean (clamd)"
    proc.terminate()
    proc.wait(30)
    later = tmp_path / "later.txt"
    later.write_text("arrives after clamd stopped")
    r = cli("ingest", str(later), *FIELDS, ok=False)
    # the system has no signatures of its own for clamscan: with the daemon gone nothing can check the file
    if not Path("/var/lib/clamav").is_dir() or not any(Path("/var/lib/clamav").iterdir()):
        assert r.exit_code == 17 and later.exists()
    assert records(archive_root) == (1 if r.exit_code else 2)


def test_a_new_version_is_checked_too(archive_root, cli, tmp_path, signatures):
    configure(archive_root, enabled="on", database=str(signatures))
    f = tmp_path / "memo.txt"
    f.write_text("version one")
    rid = json.loads(cli("ingest", str(f), *FIELDS, "--json").output.splitlines()[0])["record_id"]
    g = tmp_path / "memo2.txt"
    g.write_bytes(EVIL)
    r = cli("revise", rid, str(g), "-m", "new text", ok=False)
    assert r.exit_code == 16 and "Dangan.Test.Hash-1" in r.output
    assert json.loads(cli("show", rid, "--json").output)["version"] == 1
