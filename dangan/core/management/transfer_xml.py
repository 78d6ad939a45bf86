"""DA/T 48-style XML metadata of one record, for a transfer package (移交, issue 19 item 6).

Each record of a bag gets ``data/<id>/metadata.xml``: an electronic-record encapsulation package
(电子文件封装包) in the words of DA/T 48-2009 and the metadata of DA/T 46-2009 —

* 来源 (the source archive and fonds), 电子文件号 (the record id), 档号 (the archival code with its
  parts: 全宗号, 类别号, 年度, 保管期限, 机构或问题, 案卷), 内容描述 (题名, 日期, 密级, 主题词 per
  tag, 文件编号 and 责任者 where the record has them), 形式特征 (件数, 页数), 扩展元数据 (every
  metadata field, so nothing is lost);
* 文档 per file: 计算机文件名, 计算机文件大小, 格式信息 (MIME, PRONOM PUID), 数字摘要 (sha512, the
  fixity the receiving side checks), 文档类型 主件/附件;
* 业务实体 per audit event about the record (the event history): 业务行为 (the action, with its
  PREMIS type), 行为时间, 行为人, 行为结果, 事件摘要 (the event's hash in the audit chain).

The file bytes are in the bag beside it (``files/``), not base64 inside the XML as DA/T 48's
原始型 package would carry them: the bag's sha512 manifests already bind them, and the XML's
数字摘要 names each one.  :func:`read_record_xml` reads it back (with defusedxml: a received
package is untrusted input) for ``import-bag``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from dangan.errors import UsageError

if TYPE_CHECKING:
    from dangan.core.catalogue.audit import AuditEvent
    from dangan.model import Record

NS = "urn:dangan:da-t-48"
DESCRIPTION = ("本封装包参照中华人民共和国档案行业标准 DA/T 48-2009《基于XML的电子文件封装规范》与 DA/T 46-2009"
               "《文书类电子文件元数据方案》生成，文件数据在同一 BagIt 包的 files/ 目录中")
#: metadata keys that DA/T 46 names in 内容描述 / 形式特征 (kept in 扩展元数据 too)
NAMED_METADATA = {"doc_number": "文件编号", "author": "责任者", "pages": "页数"}


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str | None) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text not in (None, ""):
        el.text = str(text)
    return el


def record_xml(rec: Record, events: list[AuditEvent], *, organisation: str, fonds: str, created: str) -> bytes:
    """The DA/T 48-style package of ``rec`` (catalogue fields, archival code, fixity, event history)."""
    from dangan.core.catalogue.audit import PREMIS
    root = ET.Element("电子文件封装包", {"xmlns": NS})
    _sub(root, "封装包格式描述", DESCRIPTION)
    _sub(root, "版本", "2009")
    signed = _sub(root, "被签名对象", eep版本="2009")
    _sub(signed, "封装包类型", "原始型")
    _sub(signed, "封装包创建时间", created)
    _sub(signed, "封装包创建单位", organisation)
    entity = _sub(_sub(_sub(signed, "封装内容"), "文件实体块"), "文件实体")
    _sub(entity, "聚合层次", "文件")
    source = _sub(entity, "来源")
    _sub(source, "档案馆名称", organisation)
    _sub(source, "全宗名称", organisation)
    _sub(source, "全宗号", rec.fonds or fonds)
    _sub(entity, "电子文件号", rec.id)
    code = _sub(entity, "档号")
    _sub(code, "档号全文", rec.archival_code)
    for tag, value in (("全宗号", rec.fonds or fonds), ("类别号", rec.category), ("年度", rec.year),
                       ("保管期限", rec.retention), ("机构或问题", rec.department), ("案卷", rec.volume)):
        _sub(code, tag, value)
    content = _sub(entity, "内容描述")
    _sub(content, "题名", rec.title)
    for tag in rec.tags:
        _sub(content, "主题词", tag)
    for key in ("doc_number", "author"):
        _sub(content, NAMED_METADATA[key], rec.metadata.get(key))
    _sub(content, "日期", rec.date)
    _sub(content, "密级", rec.secrecy)
    _sub(content, "保管期限", rec.retention)
    form = _sub(entity, "形式特征")
    _sub(form, "文件组合类型", "单件" if len(rec.files) <= 1 else "组合文件")
    _sub(form, "件数", 1)
    _sub(form, "页数", rec.metadata.get("pages"))
    extra = _sub(entity, "扩展元数据")
    for k, v in sorted(rec.metadata.items()):
        _sub(extra, "元数据项", v, 名称=k)
    _sub(entity, "状态", rec.status)
    _sub(entity, "版本号", rec.version)
    docs = _sub(entity, "文件数据")
    for n, f in enumerate(rec.files, 1):
        doc = _sub(docs, "文档", 文档序号=str(n))
        _sub(doc, "文档类型", "主件" if f.role == "main" else "附件")
        _sub(doc, "计算机文件名", f.path)
        _sub(doc, "计算机文件大小", f.size)
        fmt = _sub(doc, "格式信息", f.mime)
        if f.puid:
            fmt.set("PUID", f.puid)
        _sub(doc, "数字摘要", f.sha512, 摘要算法="sha512")
    business = _sub(entity, "业务实体块")
    for e in events:
        b = _sub(business, "业务实体", 序号=str(e.seq))
        _sub(b, "业务行为", e.action, PREMIS=PREMIS.get(e.action))
        _sub(b, "行为时间", e.time)
        _sub(b, "行为人", e.actor)
        _sub(b, "行为结果", e.outcome)
        _sub(b, "事件摘要", e.hash, 摘要算法="sha256")
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _text(el: Any, path: str) -> str | None:
    found = el.find(path, {"e": NS})
    return found.text if found is not None and found.text else None


def read_record_xml(data: bytes, where: str) -> dict[str, Any]:
    """The record ``record_xml`` wrote: ``{id, fonds, archival_code, fields, files, events}``; a package
    that is not one (or an XML bomb) is a UsageError naming ``where``."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException
    try:
        root = SafeET.fromstring(data)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise UsageError(f"{where}: not a DA/T 48 metadata.xml ({exc})") from None
    ent = root.find("e:被签名对象/e:封装内容/e:文件实体块/e:文件实体", {"e": NS})
    if ent is None:
        raise UsageError(f"{where}: no 文件实体 in this package")
    year = _text(ent, "e:档号/e:年度")
    fields: dict[str, Any] = {
        "title": _text(ent, "e:内容描述/e:题名") or "", "department": _text(ent, "e:档号/e:机构或问题"),
        "category": _text(ent, "e:档号/e:类别号"), "year": int(year) if year else None,
        "date": _text(ent, "e:内容描述/e:日期"), "retention": _text(ent, "e:档号/e:保管期限"),
        "secrecy": _text(ent, "e:内容描述/e:密级"), "volume": _text(ent, "e:档号/e:案卷"),
        "tags": [t.text for t in ent.findall("e:内容描述/e:主题词", {"e": NS}) if t.text],
        "metadata": {m.get("名称"): m.text or "" for m in ent.findall("e:扩展元数据/e:元数据项", {"e": NS})
                     if m.get("名称")}}
    files = [{"path": _text(d, "e:计算机文件名"), "size": int(_text(d, "e:计算机文件大小") or 0),
              "mime": _text(d, "e:格式信息"), "sha512": _text(d, "e:数字摘要"),
              "role": "main" if _text(d, "e:文档类型") == "主件" else "attachment"}
             for d in ent.findall("e:文件数据/e:文档", {"e": NS})]
    events = [{"seq": int(b.get("序号") or 0), "action": _text(b, "e:业务行为"), "time": _text(b, "e:行为时间"),
               "actor": _text(b, "e:行为人"), "outcome": _text(b, "e:行为结果"), "hash": _text(b, "e:事件摘要")}
              for b in ent.findall("e:业务实体块/e:业务实体", {"e": NS})]
    return {"id": _text(ent, "e:电子文件号"), "fonds": _text(ent, "e:来源/e:全宗号"),
            "archival_code": _text(ent, "e:档号/e:档号全文"), "fields": fields, "files": files, "events": events,
            "root": root}
