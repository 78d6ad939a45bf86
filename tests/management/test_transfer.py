"""Issue 19 item 6: a transfer package (移交) — the BagIt bag with DA/T 48-style metadata.xml per record and
the hand-over register 移交清单 — read back by ``import-bag`` into a fresh archive with every field."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import bagit
import pytest
from PIL import Image

from conftest import Cli
from ocfl_helpers import assert_store_valid

NS = {"e": "urn:dangan:da-t-48"}
KEYS = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume", "archival_code",
        "tags", "metadata")


def pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(out.split())


def ink(path, tmp_path) -> float:
    """Share of dark pixels on page 1 as pdftoppm draws it (a form whose font did not embed draws blank)."""
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "reg")],
                   check=True)
    img = Image.open(next(tmp_path.glob("reg-*.png"))).convert("L")
    return sum(img.histogram()[:128]) / (img.width * img.height)


@pytest.fixture
def package(cli, tmp_path):
    """Three records (one with an attachment, one revised, in two volumes) exported as a transfer package."""
    cli("user", "add", "boss", "--role", "manager", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="boss")
    ids = []
    for n, (name, text, extra) in enumerate([
            ("购销合同.txt", "合同正文 甲乙双方", ("--meta", "doc_number=办字〔2021〕3号", "--meta", "author=总经理办公室",
                                           "--meta", "pages=4", "--meta", "party=甲公司", "--tag", "合同",
                                           "--tag", "采购；年度", "--secrecy", "internal")),
            ("请示.txt", "关于购置设备的请示", ("--volume", "BGS-2021-01", "--create-volume", "--retention", "D30")),
            ("批复.txt", "同意购置", ("--volume", "BGS-2021-01", "--retention", "D30"))], 1):
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        args = ["ingest", p, "--category", "WS", "--dept", "BGS", "--date", f"2021-03-0{n}", "--json", *extra]
        if n == 1:
            att = tmp_path / "附件一.md"
            att.write_text("# 附件 清单", encoding="utf-8")
            args += ["--attach", att]
        ids.append(json.loads(cli(*args, user="arch").output.splitlines()[0])["record_id"])
    cli("revise", ids[1], "--title", "关于购置办公设备的请示", user="arch")
    out = json.loads(cli("export", *ids, "--bagit", tmp_path / "bag", "--receiver", "某市档案馆", "--json",
                         user="arch").output)
    return cli, ids, tmp_path / "bag", out


def test_each_record_carries_da_t_48_xml_with_fields_code_fixity_and_history(package):
    cli, ids, bag, _ = package
    bagit.Bag(str(bag)).validate()
    for rid in ids:
        rec = json.loads(cli("show", rid, "--json", user="arch").output)
        ent = ET.parse(bag / "data" / rid / "metadata.xml").getroot().find(
            "e:被签名对象/e:封装内容/e:文件实体块/e:文件实体", NS)
        assert ent.findtext("e:电子文件号", namespaces=NS) == rid
        assert ent.findtext("e:档号/e:档号全文", namespaces=NS) == rec["archival_code"]
        assert ent.findtext("e:档号/e:全宗号", namespaces=NS) == "Z109"
        assert ent.findtext("e:内容描述/e:题名", namespaces=NS) == rec["title"]
        assert ent.findtext("e:内容描述/e:密级", namespaces=NS) == rec["secrecy"]
        digests = {d.findtext("e:计算机文件名", namespaces=NS): d.findtext("e:数字摘要", namespaces=NS)
                   for d in ent.findall("e:文件数据/e:文档", NS)}
        assert digests == {f["path"]: f["sha512"] for f in rec["files"]}
        for name, digest in digests.items():
            assert hashlib.sha512((bag / "data" / rid / "files" / name).read_bytes()).hexdigest() == digest
        history = [b.findtext("e:业务行为", namespaces=NS) for b in ent.findall("e:业务实体块/e:业务实体", NS)]
        trail = [json.loads(x)["action"] for x in cli("audit", "log", "--json", "--record", rid,
                                                       user="boss").output.splitlines()]
        assert history == [a for a in trail if a != "record.export"] and history[0] == "record.ingest"
    first = ET.parse(bag / "data" / ids[0] / "metadata.xml").getroot()
    assert first.findtext(".//e:内容描述/e:文件编号", namespaces=NS) == "办字〔2021〕3号"
    assert first.findtext(".//e:内容描述/e:责任者", namespaces=NS) == "总经理办公室"
    assert [t.text for t in first.iterfind(".//e:内容描述/e:主题词", NS)] == ["合同", "采购；年度"]
    revised = ET.parse(bag / "data" / ids[1] / "metadata.xml").getroot()
    assert "record.revise" in [b.text for b in revised.iterfind(".//e:业务行为", NS)]


def test_hand_over_register_lists_every_record_with_lines_for_both_sides(package, tmp_path):
    cli, ids, bag, out = package
    register = bag / "移交清单.pdf"
    assert out["register"] == str(register) and register.read_bytes().startswith(b"%PDF")
    assert "移交清单.pdf" in bagit.Bag(str(bag)).tagfile_entries()          # the tag manifest binds it
    text = pdf_text(register)
    for word in ("档案移交清单", "移交单位", "接收单位", "某市档案馆", "测试公司", "移交人", "接收人",
                 "移交单位负责人", "接收单位负责人", "以上档案共3件", "件数3", "文件数4", "长期", "内部", out["manifest_sha512"][:20], out["payload_oxum"]):
        assert word in text, word
    for rid in ids:
        assert json.loads(cli("show", rid, "--json", user="arch").output)["archival_code"] in text
    assert "关于购置办公设备的请示" in text
    assert ink(register, tmp_path) > 0.005
    assert "Receiving-Organization: 某市档案馆" in (bag / "bag-info.txt").read_text(encoding="utf-8")


def test_import_bag_reads_the_xml_alone_into_a_fresh_archive(package, tmp_path):
    cli, ids, bag, _ = package
    for rid in ids:                          # a package from another system: only the DA/T 48 XML describes it
        (bag / "data" / rid / "metadata.json").unlink()
        (bag / "data" / rid / "premis-events.json").unlink()
    bagit.Bag(str(bag)).save(manifests=True)
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh = Cli(tmp_path / "fresh")
    got = [json.loads(x) for x in fresh("import-bag", bag, "--json", user="arch").output.splitlines()]
    assert [o["status"] for o in got] == ["archived"] * 3
    new = {o["source"]: o["record_id"] for o in got}
    for rid in ids:
        old = json.loads(cli("show", rid, "--json", user="arch").output)
        now = json.loads(fresh("show", new[rid], "--json", user="arch").output)
        assert {k: old[k] for k in KEYS} == {k: now[k] for k in KEYS}           # fields and the archival code
        assert sorted((f["path"], f["role"], f["sha512"], f["size"]) for f in old["files"]) == \
            sorted((f["path"], f["role"], f["sha512"], f["size"]) for f in now["files"])   # fixity
    hits = fresh("search", "甲乙双方", "--json", user="arch").output              # indexed once, after the bag
    assert new[ids[0]] in hits and new[ids[1]] not in hits
    imports = [json.loads(x) for x in fresh("audit", "log", "--json", "--action", "record.import",
                                            user="arch").output.splitlines()]
    by_source = {e["details"]["source_id"]: e["details"] for e in imports}
    assert [e["action"] for e in by_source[ids[1]]["source_events"]][:2] == ["record.ingest", "record.revise"]
    assert all(e["hash"] for e in by_source[ids[1]]["source_events"])
    assert_store_valid(tmp_path / "fresh" / "store")


def test_xml_that_disagrees_with_the_files_or_is_hostile_imports_nothing(package, tmp_path):
    cli, ids, bag, _ = package
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh = Cli(tmp_path / "fresh")
    lied = tmp_path / "lied"
    shutil.copytree(bag, lied)
    xml = lied / "data" / ids[2] / "metadata.xml"
    real = json.loads(cli("show", ids[2], "--json", user="arch").output)["files"][0]["sha512"]
    xml.write_text(xml.read_text(encoding="utf-8").replace(real, "0" * 128), encoding="utf-8")
    bagit.Bag(str(lied)).save(manifests=True)                # a valid bag whose metadata lies about fixity
    r = fresh("import-bag", lied, user="arch", ok=False)
    assert r.exit_code == 2 and "数字摘要" in r.output
    bomb = tmp_path / "bomb"
    shutil.copytree(bag, bomb)
    (bomb / "data" / ids[0] / "metadata.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbbbb"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<a>&c;</a>', encoding="utf-8")
    bagit.Bag(str(bomb)).save(manifests=True)
    r = fresh("import-bag", bomb, user="arch", ok=False)
    assert r.exit_code == 2 and "not a DA/T 48 metadata.xml" in r.output
    assert fresh("ls", "--json", user="arch").output.strip() == ""
    assert_store_valid(tmp_path / "fresh" / "store")


def test_kill_9_mid_import_then_rerun_files_each_record_once_with_its_provenance(package, tmp_path):
    import signal
    from destruction_helpers import run
    cli, ids, bag, _ = package
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh_root = tmp_path / "fresh"
    fresh = Cli(fresh_root)
    n, crashed = 1, 0
    while True:
        r = run(fresh_root, "import-bag", bag, crash=n)
        if r.returncode not in (0, 5):
            assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
            crashed += 1
            assert run(fresh_root, "ls").returncode == 0                 # the next command recovers
            n += 1
            assert n < 60, "import-bag never finished"
            continue
        break
    assert crashed >= 3
    listed = [json.loads(x) for x in fresh("ls", "--json", user="arch").output.splitlines()]
    assert len(listed) == 3
    imports = [json.loads(x) for x in fresh("audit", "log", "--json", "--action", "record.import",
                                            user="arch").output.splitlines()]
    assert sorted(e["details"]["source_id"] for e in imports) == sorted(ids)      # each once, none lost
    new = {e["details"]["source_id"]: e["object"] for e in imports}
    for rid in ids:
        old = json.loads(cli("show", rid, "--json", user="arch").output)
        now = json.loads(fresh("show", new[rid], "--json", user="arch").output)
        assert {k: old[k] for k in KEYS} == {k: now[k] for k in KEYS}
    fresh("check", user="arch")
    fresh("audit", "verify", user="arch")
    assert_store_valid(fresh_root / "store")


def _sig(xml_path):
    root = ET.parse(xml_path).getroot()
    return root, root.find("e:电子签名块/e:电子签名", NS)


def _resave(bag):
    bagit.Bag(str(bag)).save(manifests=True)          # a valid bag again: only the signature can tell


def test_each_metadata_xml_is_signed_with_the_archives_key_named_on_the_register(package, tmp_path):
    cli, ids, bag, out = package
    from dangan.core.management.transfer_sign import signed_digest
    fp = out["signing_key"]
    assert fp and len(fp.replace("-", "")) == 32
    for rid in ids:
        root, sig = _sig(bag / "data" / rid / "metadata.xml")
        assert sig is not None and sig.find("e:签名算法标识", NS).text == "Ed25519"
        assert sig.find("e:摘要", NS).text == signed_digest(root, "x")
        assert sig.find("e:证书块/e:证书引证", NS).text == fp
        assert sig.find("e:签名人", NS).text.startswith("arch") and sig.find("e:签名时间", NS).text.endswith("Z")
        assert sig.find("e:签名结果", NS).text
    assert f"Transfer-Signing-Key: {fp}" in (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert fp in pdf_text(bag / "移交清单.pdf")
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh = Cli(tmp_path / "fresh")
    got = [json.loads(x) for x in fresh("import-bag", bag, "--signer-key", fp, "--require-signature", "--json",
                                        user="arch").output.splitlines()]
    assert [o["signed_by_key"] for o in got] == [fp] * 3
    ev = json.loads(fresh("audit", "log", "--json", "--action", "record.import", "--limit", "1",
                          user="arch").output)
    assert ev["details"]["signature"]["signed"] is True and ev["details"]["signature"]["key"] == fp


def test_a_package_changed_after_signing_is_refused_and_imports_nothing(package, tmp_path):
    cli, ids, bag, out = package
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dangan.core.management.transfer_sign import fingerprint, public_bytes, signed_digest
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh = Cli(tmp_path / "fresh")

    def tampered(name):
        d = tmp_path / name
        shutil.copytree(bag, d)
        xml = d / "data" / ids[1] / "metadata.xml"
        xml.write_text(xml.read_text(encoding="utf-8").replace("关于购置办公设备的请示", "关于购置车辆的请示"),
                       encoding="utf-8")
        return d, xml

    changed, _ = tampered("changed")                    # the title changed, the manifests made valid again
    _resave(changed)
    r = fresh("import-bag", changed, user="arch", ok=False)
    assert r.exit_code == 2 and "changed after it was signed" in r.output
    forged, xml = tampered("forged")                    # ... and the digest recomputed: the signature fails
    root = ET.parse(xml).getroot()
    text = xml.read_text(encoding="utf-8")
    old = _sig(xml)[1].find("e:摘要", NS).text
    xml.write_text(text.replace(old, signed_digest(root, "x")), encoding="utf-8")
    _resave(forged)
    r = fresh("import-bag", forged, user="arch", ok=False)
    assert r.exit_code == 2 and "does not verify" in r.output
    resigned, xml = tampered("resigned")                # ... re-signed with another key: only a pinned key tells
    root = ET.parse(xml).getroot()
    digest = signed_digest(root, "x")
    other = Ed25519PrivateKey.generate()
    sig = _sig(xml)[1]
    text = xml.read_text(encoding="utf-8")
    for tag, new in (("e:摘要", digest), ("e:签名结果", base64.b64encode(other.sign(digest.encode())).decode()),
                     ("e:证书块/e:证书", base64.b64encode(public_bytes(other)).decode()),
                     ("e:证书块/e:证书引证", fingerprint(public_bytes(other)))):
        text = text.replace(sig.find(tag, NS).text, new)
    xml.write_text(text, encoding="utf-8")
    _resave(resigned)
    r = fresh("import-bag", resigned, "--signer-key", out["signing_key"], user="arch", ok=False)
    assert r.exit_code == 2 and f"not by {out['signing_key']}" in r.output
    unsigned = tmp_path / "unsigned"                    # the signature block removed: refused when required
    shutil.copytree(bag, unsigned)
    for rid in ids:
        xml = unsigned / "data" / rid / "metadata.xml"
        text = xml.read_text(encoding="utf-8")
        xml.write_text(text[:text.index(" <电子签名块>")] + "</电子文件封装包>\n", encoding="utf-8")
    _resave(unsigned)
    r = fresh("import-bag", unsigned, "--require-signature", user="arch", ok=False)
    assert r.exit_code == 2 and "no 电子签名块" in r.output
    assert fresh("ls", "--json", user="arch").output.strip() == ""
    got = [json.loads(x) for x in fresh("import-bag", unsigned, "--json", user="arch").output.splitlines()]
    assert [o["status"] for o in got] == ["archived"] * 3 and not any(o["signed_by_key"] for o in got)
    assert_store_valid(tmp_path / "fresh" / "store")
