"""A loan copy of a sealed record leaves no file name or plaintext digest in the catalogue or the audit
trail (the loan-copy side of issue 11.12: confidential metadata is never written in plaintext)."""
from __future__ import annotations

import hashlib
import json

from destruction_helpers import set_up_office
from leak_helpers import grep

FNAME = "LOANFNMARK-借阅机要.txt"
BODY = "机密正文 LOANBODYMARK"


def test_issuing_a_copy_of_a_sealed_record_keeps_its_names_and_digests_sealed(cli, monkeypatch, tmp_path,
                                                                                archive_root):
    office = set_up_office(cli, monkeypatch, tmp_path)
    src = tmp_path / FNAME
    src.write_text(BODY, encoding="utf-8")
    rid = json.loads(office("ingest", src, "--volume", "V", "--json", user="arch").output)["record_id"]
    lid = json.loads(office("lend", "request", rid, "--purpose", "核对", "--days", "2", "--json",
                            user="arch").output)["loan"]
    office("lend", "approve", lid, user="mgr")
    office("volume", "unlock", "V", user="boss")
    office("volume", "unlock", "V", user="arch")
    out = tmp_path / "copies"
    office("lend", "issue", lid, "-o", out, user="arch")
    copy = out / rid / FNAME
    assert BODY in copy.read_text(encoding="utf-8")                 # the borrower gets the real file
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    (event,) = [json.loads(x) for x in office("audit", "log", "--json", "--action", "record.lend",
                                              user="boss").output.splitlines()]
    assert event["details"]["copy"]["files"] == {"file-1": {"watermark": "header"}}
    for marker in ("LOANFNMARK", "借阅机要", "LOANBODYMARK", digest):
        assert grep(marker, [archive_root]) == [], marker       # store, catalogue with its WAL, index
    for u in ("boss", "arch"):
        office("volume", "lock", user=u)
