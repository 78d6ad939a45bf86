"""OFD (GB/T 33190): text in reading order, DocInfo, pages, signatures; zip and XML bombs refused; searchable.

Real files from the ofdrw project's test resources (tests/data/corpus/ofd, Apache-2.0) and files built here
from the specification's structure (OFD.xml → Document.xml → pages, a template page, DocInfo).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from conftest import CORPUS
from dangan.core.store import mime as mimes
from dangan.model import ExtractOptions
from dangan.plugins.builtin.extractors import extract
from dangan.plugins.builtin.extractors.ofd import reading_order

OFD_DIR = CORPUS / "ofd"
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def _text_object(x: float, y: float, text: str, size: float = 4.0) -> str:
    return (f'<ofd:TextObject ID="9" Boundary="{x} {y} {len(text) * size} {size + 1}" Font="1" Size="{size}">'
            f'<ofd:TextCode X="0" Y="{size}">{text}</ofd:TextCode></ofd:TextObject>')


def build_ofd(path: Path, *, objects: list[str], template: list[str] = (), docinfo: str = "",
              ofd_xml: str | None = None, signed: bool = False) -> Path:
    """An OFD package laid out as the specification shows (relative and absolute BaseLocs both used)."""
    sig = "<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>" if signed else ""
    ofd = ofd_xml or (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {NS} Version="1.1" DocType="OFD">'
                      f'<ofd:DocBody><ofd:DocInfo><ofd:DocID>abc</ofd:DocID>{docinfo}</ofd:DocInfo>'
                      f'<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>{sig}</ofd:DocBody></ofd:OFD>')
    document = (f'<ofd:Document {NS}><ofd:CommonData><ofd:MaxUnitID>9</ofd:MaxUnitID>'
                '<ofd:TemplatePage ID="7" BaseLoc="Tpls/Tpl_0/Content.xml"/></ofd:CommonData>'
                '<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/>'
                '<ofd:Page ID="2" BaseLoc="/Doc_0/Pages/Page_1/Content.xml"/></ofd:Pages></ofd:Document>')

    def page(objs, tpl=False) -> str:
        ref = '<ofd:Template TemplateID="7" ZOrder="Background"/>' if tpl else ""
        return f'<ofd:Page {NS}>{ref}<ofd:Content><ofd:Layer ID="3">{"".join(objs)}</ofd:Layer></ofd:Content></ofd:Page>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("OFD.xml", ofd)
        zf.writestr("Doc_0/Document.xml", document)
        zf.writestr("Doc_0/Tpls/Tpl_0/Content.xml", page(list(template)))
        zf.writestr("Doc_0/Pages/Page_0/Content.xml", page(objects, tpl=bool(template)))
        zf.writestr("Doc_0/Pages/Page_1/Content.xml", page([_text_object(20, 20, "第二页的内容")]))
        if signed:
            zf.writestr("Doc_0/Signs/Signatures.xml", f'<ofd:Signatures {NS}><ofd:Signature ID="1" '
                        'BaseLoc="Sign_0/Signature.xml"/><ofd:Signature ID="2" BaseLoc="Sign_1/Signature.xml"/>'
                        '</ofd:Signatures>')
    return path


def test_real_ofd_files_give_text_pages_and_signatures():
    hello = extract(OFD_DIR / "keyword2.ofd", mimes.by_content(OFD_DIR / "keyword2.ofd"))
    assert hello.status == "ok" and hello.extractor == "ofd"
    # one line made of four TextObjects, joined in reading order without gaps
    assert "重庆市马上融资担保有限公司" in hello.text and "你好呀，OFD Reader&Writer！" in hello.text
    assert hello.metadata["pages"] == 2 and hello.metadata["signed"] is False
    assert hello.metadata["created"] == "2020-04-25" and hello.metadata["creator"] == "OFD R&W"

    signed = extract(OFD_DIR / "DigitalSign.ofd", "application/ofd")
    assert signed.metadata["signed"] is True and signed.metadata["signatures"] == 1

    invoice = extract(OFD_DIR / "v4signed.ofd", "application/ofd")
    assert invoice.status == "ok" and invoice.metadata["signed"] is True
    lines = invoice.text.splitlines()
    # the template's printed labels and the page's values interleave by position, as on paper
    assert "发票号码：99999951" in lines and "纳税人识别号：9150010807MGZHI002" in lines
    assert invoice.metadata["custom.购买方名称"] == "科游迈利有限公司"
    assert "发票号码: 99999951" in invoice.text          # custom data is searchable too
    assert lines.index("购买方") < lines.index("纳税人识别号：9150010807MGZHI002") < lines.index("合计 ¥300.00 ¥18.00")


def test_an_ofd_without_text_is_empty_with_its_page_count():
    shapes = extract(OFD_DIR / "Page5.ofd", "application/ofd")
    assert shapes.status == "empty" and shapes.metadata["pages"] == 5


def test_content_type_of_an_ofd_is_application_ofd(tmp_path):
    assert mimes.by_content(OFD_DIR / "helloworld.ofd") == "application/ofd"
    assert mimes.by_extension("发票.ofd") == "application/ofd"
    plain_zip = tmp_path / "x.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "not an OFD")
    assert mimes.by_content(plain_zip) == "application/zip"
    assert extract(plain_zip, "application/zip").extractor != "ofd"


def test_built_ofd_reading_order_docinfo_template_and_pages(tmp_path):
    docinfo = ("<ofd:Title>关于档案数字化的通知</ofd:Title><ofd:Author>办公室</ofd:Author>"
               "<ofd:CreationDate>2024-05-06</ofd:CreationDate><ofd:ModDate>2024-05-07</ofd:ModDate>"
               "<ofd:Keywords><ofd:Keyword>档案</ofd:Keyword><ofd:Keyword>数字化</ofd:Keyword></ofd:Keywords>")
    # written to the XML bottom line first, right half before left half
    objects = [_text_object(20, 80, "第三行"), _text_object(80, 30, "右半边"), _text_object(20, 30.5, "左半边"),
               _text_object(20, 50, "第二行")]
    path = build_ofd(tmp_path / "notice.ofd", objects=objects, template=[_text_object(20, 10, "模板标题")],
                     docinfo=docinfo, signed=True)
    result = extract(path, mimes.by_content(path))
    assert result.status == "ok"
    first, second = result.text.split("\f")
    assert [line for line in first.splitlines() if line] == ["模板标题", "左半边 右半边", "第二行", "第三行"]
    assert second.strip() == "第二页的内容"
    assert result.metadata["title"] == "关于档案数字化的通知" and result.metadata["author"] == "办公室"
    assert result.metadata["keywords"] == "档案; 数字化" and result.metadata["modified"] == "2024-05-07"
    assert result.metadata["pages"] == 2 and result.metadata["signatures"] == 2 and result.metadata["signed"]


def test_reading_order_keeps_a_line_of_small_pieces_together():
    codes = [(10.2, 40.0, 50.0, 4.0, "公司"), (10.0, 20.0, 40.0, 4.0, "档案"), (30.0, 5.0, 30.0, 4.0, "下一行")]
    assert reading_order(codes) == "档案公司\n下一行"


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    path = build_ofd(tmp_path / "bomb.ofd", objects=[_text_object(1, 1, "x")])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Doc_0/Res/zeros.bin", b"\0" * (4 * 1024 * 1024))
    result = extract(path, "application/ofd", ExtractOptions(max_unzipped_bytes=1024 * 1024))
    assert result.status == "failed" and "zip bomb" in result.message


def test_xml_entity_bomb_is_refused(tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE ofd [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
              f'<ofd:OFD {NS}><ofd:DocBody><ofd:DocInfo><ofd:Title>&c;</ofd:Title></ofd:DocInfo>'
              '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
    path = build_ofd(tmp_path / "laughs.ofd", objects=[_text_object(1, 1, "x")], ofd_xml=laughs)
    result = extract(path, "application/ofd")
    assert result.status == "failed" and "EntitiesForbidden" in result.message


@pytest.mark.parametrize("damage", ["missing-document", "not-xml"])
def test_a_damaged_ofd_is_a_clear_failure(tmp_path, damage):
    path = tmp_path / "broken.ofd"
    with zipfile.ZipFile(path, "w") as zf:
        if damage == "missing-document":
            zf.writestr("OFD.xml", f'<ofd:OFD {NS}><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
                                   '</ofd:DocBody></ofd:OFD>')
        else:
            zf.writestr("OFD.xml", "<ofd:OFD <<< not xml")
    result = extract(path, "application/ofd")
    assert result.status == "failed" and result.message.startswith("extraction failed: cannot read the OFD")


def test_an_ingested_ofd_is_found_by_its_text(cli, tmp_path):
    invoice = tmp_path / "电子发票.ofd"
    invoice.write_bytes((OFD_DIR / "v4signed.ofd").read_bytes())
    out = json.loads(cli("ingest", invoice, "--json").output.splitlines()[0])
    assert out["status"] == "archived"
    hits = [json.loads(line) for line in cli("search", "科游迈利", "--json").output.splitlines() if line.strip()]
    assert [h["record_id"] for h in hits] == [out["record_id"]] and hits[0]["mime"] == "application/ofd"
    shown = json.loads(cli("show", out["record_id"], "--json").output)
    assert shown["files"][0]["mime"] == "application/ofd" and not shown["files"][0]["mime_mismatch"]
    assert shown["metadata"]["x.signed"] == "True" and shown["metadata"]["x.pages"] == "1"
