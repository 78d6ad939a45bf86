"""`get` does not trust a consistently rewritten object: the catalogue's digests and file list must agree (issue 12.6).

The forgeries below rewrite a content file (or add one), both inventories, both
sidecars and metadata.json so that the object is valid OCFL and every digest in
the store checks out — ocfl-py accepts the store at teardown.  Only the catalogue
still holds what was archived.
"""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from dangan.repository.ocfl import inventory_bytes, sidecar_bytes


def forge(store, rid: str, change) -> None:
    """Rewrite a one-version object: ``change(files)`` edits {logical path: bytes} and metadata.json follows."""
    root = store.object_path(rid)
    inv = json.loads((root / "inventory.json").read_bytes())
    assert inv["head"] == "v1"
    files = {lp: (root / inv["manifest"][d][0]).read_bytes()
             for d, lps in inv["versions"]["v1"]["state"].items() for lp in lps}
    change(files)
    meta = json.loads(files["metadata.json"])
    for f in meta["record"]["files"]:
        f["sha512"] = hashlib.sha512(files[f["path"]]).hexdigest()
        f["size"] = len(files[f["path"]])
    files["metadata.json"] = json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
    shutil.rmtree(root / "v1" / "content")
    manifest, state = {}, {}
    for lp, data in files.items():
        d = hashlib.sha512(data).hexdigest()
        state.setdefault(d, []).append(lp)
        if d in manifest:
            continue                    # the same bytes are stored once (a text file and its extracted text)
        target = root / "v1" / "content" / lp
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        manifest[d] = [f"v1/content/{lp}"]
    inv["manifest"], inv["versions"]["v1"]["state"] = manifest, state
    data = inventory_bytes(inv)
    for d in (root, root / "v1"):
        (d / "inventory.json").write_bytes(data)
        (d / "inventory.json.sha512").write_bytes(sidecar_bytes(data))


@pytest.fixture
def record(cli, archive, tmp_path):
    src = tmp_path / "合同.txt"
    src.write_text("原始合同：金额一万元 ORIGINAL", encoding="utf-8")
    rid = json.loads(cli("ingest", src, "--category", "WS", "--dept", "BGS", "--json").output)["record_id"]
    return rid, archive.record(rid).main_file.path


def test_forged_content_with_consistent_inventories_is_refused(cli, archive, record, tmp_path):
    rid, main = record
    cli("get", rid, "-o", tmp_path / "before")                  # untouched, it comes back verified
    assert (tmp_path / "before" / "合同.txt").read_text(encoding="utf-8") == "原始合同：金额一万元 ORIGINAL"
    forge(archive.store, rid, lambda files: files.__setitem__(main, "伪造合同：金额一百万元 FORGED".encode()))
    out = tmp_path / "out"
    r = cli("get", rid, "-o", out, ok=False)
    assert r.exit_code == 6, r.output
    assert f"{main} in the store differs from the sha512 the catalogue recorded" in r.output
    assert not out.exists() or not any(out.iterdir()), "nothing of the forgery was written"
    ev = json.loads(cli("audit", "log", "--json", "--action", "record.retrieve").output.splitlines()[-1])
    assert ev["outcome"] == "failure"
    assert cli("check", ok=False).exit_code != 0          # check sees it too


def test_a_file_slipped_into_the_object_is_refused(cli, archive, record, tmp_path):
    rid, main = record

    def add(files):
        files["附件.txt"] = "后加的附件 SLIPPED".encode()
        meta = json.loads(files["metadata.json"])
        entry = dict(meta["record"]["files"][0], path="附件.txt", role="attachment", original_name="附件.txt")
        meta["record"]["files"].append(entry)
        files["metadata.json"] = json.dumps(meta, ensure_ascii=False).encode()
    forge(archive.store, rid, add)
    r = cli("get", rid, "-o", tmp_path / "out", ok=False)
    assert r.exit_code == 6 and "only in the store: 附件.txt" in r.output, r.output
    assert not (tmp_path / "out" / "附件.txt").exists()

