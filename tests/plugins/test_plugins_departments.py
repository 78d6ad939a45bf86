"""The department plugins, each against the rules of its regulation, through the facade."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from stdnum.cn import ric

from dangan.errors import PluginError
from dangan.model import Record
from dangan.plugins.departments import customer_confidentiality as kx
from dangan.plugins.departments import general_office as bgs
from dangan.plugins.manager import DEPARTMENT_NAMES, Plugins
from dangan.plugins.types import AccessContext, Actor, NullContext, VolumeInfo


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    p = Plugins.load(load_entrypoints=False, enabled=DEPARTMENT_NAMES)
    assert p.load_problems == []
    return p


def rec(category: str, rid: str = "r1", **kw) -> Record:
    kw.setdefault("date", "2021-05-06")
    return Record(rid, "Z109", title=kw.pop("title", "标题"), category=category, **kw)


def rid(region: str, born: str, seq: str) -> str:
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


# ------------------------------------------------------------ general office

@pytest.mark.parametrize("meta, year", [
    ({"doc_kind": "request", "request_date": "2020-12-20", "reply_date": "2021-01-10"}, 2021),
    ({"doc_kind": "request", "request_date": "2020-12-20"}, 2020),
    ({"doc_kind": "plan", "period_start": "2022", "period_end": "2024"}, 2022),
    ({"doc_kind": "summary", "period_start": "2019", "period_end": "2020"}, 2020),
    ({"doc_kind": "meeting", "meeting_opened": "2019-12-30"}, 2019),
    ({}, 2021),
])
def test_cross_year_filing(plugins, meta, year):
    c = plugins.classify(rec("BGS-QS", metadata=meta))
    assert c.record.year == year == c.filing.year
    assert c.archival_class == f"Z109-WS·{year}-Y-BGS"


def test_filing_scope_retention_and_av_class(plugins):
    assert plugins.classify(rec("BGS-XF")).record.retention == "short-term"
    assert plugins.classify(rec("BGS-HT")).record.retention == "long-term"
    c = plugins.classify(rec("BGS-SX"))
    assert c.archival_class == "Z109-SX·2021-Y-BGS"
    assert plugins.classify(rec("BGS-BM")).record.secrecy == "secret"
    # a filer may lengthen, never shorten, the category's retention
    assert plugins.classify(rec("BGS-XF", retention="permanent")).record.retention == "permanent"
    assert plugins.classify(rec("BGS-HY", retention="short-term")).record.retention == "permanent"


def test_order_inside_a_volume(plugins):
    rs = [
        rec("BGS-QS", "req", date="2021-01-02", metadata={"group": "g1", "doc_kind": "request"}),
        rec("BGS-QS", "rep", date="2021-02-01", metadata={"group": "g1", "doc_kind": "reply"}),
        rec("BGS-NB", "att", date="2021-01-01", metadata={"group": "g0", "part": "attachment"}),
        rec("BGS-NB", "main", date="2021-01-05", metadata={"group": "g0"}),
        rec("BGS-NB", "final", date="2021-03-01", metadata={"group": "g2", "stage": "final"}),
        rec("BGS-NB", "draft", date="2021-03-02", metadata={"group": "g2", "stage": "draft"}),
        rec("BGS-NB", "lone", date="2021-01-03"),
    ]
    order = [r.id for r in plugins.volume_order(list(reversed(rs)))]
    assert order == ["main", "att", "rep", "req", "lone", "draft", "final"]
    # a mixed volume is not the general office's: builtin orders by date
    mixed = rs[:2] + [rec("WS", "ws", date="2020-01-01")]
    assert [r.id for r in plugins.volume_order(mixed)] == ["ws", "req", "rep"]


def test_top_secret_only_in_top_secret_volumes(plugins):
    ctx = NullContext(volumes={"V1": VolumeInfo("V1", secrecy="secret"), "V2": VolumeInfo("V2", secrecy="top-secret")})
    c = plugins.classify(rec("BGS-BM", secrecy="top-secret"))
    assert c.filing.volume_secrecy == "top-secret" and c.filing.volume_key.endswith("绝密")
    bad = plugins.validate(rec("BGS-BM", secrecy="top-secret", volume="V1"), ctx)
    assert not bad.ok and "Art.23" in str(bad.errors[0])
    assert plugins.validate(rec("BGS-BM", secrecy="top-secret", volume="V2"), ctx).ok
    loose = plugins.validate(rec("BGS-NB", volume="V2"), ctx)
    assert loose.ok and loose.warnings
    assert not plugins.validate(rec("BGS-NB", metadata={"doc_kind": "memo"})).ok


def test_contents_list_and_reference_sheet(plugins):
    rs = [rec("BGS-QS", "req", volume="V", archival_code="Z109-WS·2021-Y-BGS-0002", date="2021-01-02",
              metadata={"group": "g", "doc_kind": "request", "pages": "3", "doc_number": "办〔2021〕1号"}),
          rec("BGS-QS", "rep", volume="V", archival_code="Z109-WS·2021-Y-BGS-0001", date="2021-02-01",
              metadata={"group": "g", "doc_kind": "reply", "pages": "2"}),
          rec("BGS-QS", "x", volume="V", metadata={})]
    ctx = NullContext(date(2022, 1, 1), rs, {"V": VolumeInfo("V", filer="张三", checker="李四", notes="完好")})
    contents = plugins.run_report("contents_list", ctx, volume="V")
    assert [r["档号"] for r in contents.rows][:2] == ["Z109-WS·2021-Y-BGS-0001", "Z109-WS·2021-Y-BGS-0002"]
    assert contents.columns[0] == "序号" and contents.rows[1]["文号"] == "办〔2021〕1号"
    sheet = {r["项目"]: r["内容"] for r in plugins.run_report("reference_sheet", ctx, volume="V").rows}
    assert sheet["文件数 (documents)"] == 3 and sheet["页数 (pages)"] == 5
    assert sheet["立卷人 (filer)"] == "张三" and sheet["检查人 (checker)"] == "李四"
    assert "1 document(s) without a page count" in sheet["说明 (notes)"]


# ------------------------------------------------------------ drug quality

def test_abnormal_quality_information_raises_a_10_hour_alert(plugins):
    now = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    [alert] = plugins.after_archive(rec("ZL-YC", metadata={"reported_by": "王"}), now)
    assert alert.due_at == now + timedelta(hours=10) and alert.recipient == "manager"
    assert alert.kind == "quality-abnormal" and alert.plugin == "drug_quality" and alert.record_id == "r1"
    assert plugins.after_archive(rec("ZL-TS", metadata={"abnormal": "是"}), now)
    assert plugins.after_archive(rec("ZL-TS"), now) == []
    assert plugins.after_archive(rec("BGS-NB", metadata={"abnormal": "yes"}), now) == []
    again = plugins.after_archive(rec("ZL-YC", metadata={"reported_by": "王"}), now)
    assert again[0].id == alert.id                                         # idempotent
    assert not plugins.validate(rec("ZL-YC")).ok                           # reported_by required


# ------------------------------------------------------------ construction

def test_construction_pending_until_manager_and_hidden(plugins):
    meta = {"valid_until": "2025-01-01", "secrecy": "内部", "custodian": "赵"}
    c = plugins.classify(rec("SG-JD", metadata=meta))
    assert c.record.status == "pending" and c.record.secrecy == "internal"
    assert plugins.validate(c.record).ok
    worker, pm = Actor("w", frozenset({"staff"})), Actor("m", frozenset({"project-manager"}))
    assert not plugins.may(worker, "view", c.record)
    assert plugins.may(pm, "view", c.record)
    assert not plugins.may(worker, "approve", c.record) and plugins.may(pm, "approve", c.record)
    from dataclasses import replace
    active = replace(c.record, status="active")
    assert plugins.may(worker, "view", active)
    assert plugins.classify(rec("BGS-NB")).record.status == "active"


def test_construction_requires_validity_and_secrecy(plugins):
    outcome = plugins.validate(plugins.classify(rec("SG-JL")).record)
    fields = {e.field for e in outcome.errors}
    assert {"valid_until", "secrecy", "custodian"} <= fields
    bad = plugins.validate(plugins.classify(rec("SG-JL", metadata={
        "valid_until": "2020-01-01", "secrecy": "机密", "custodian": "赵"})).record)
    assert {e.field for e in bad.errors} == {"valid_until", "secrecy"}


# ------------------------------------------------------------ insurance customers

def _policy(**over) -> dict[str, str]:
    holder = rid("110105", "19800101", "123")        # 3 odd: male
    insured = rid("110105", "20150606", "124")       # 4 even: female
    meta = {"policyholder_name": "张三", "policyholder_sex": "男", "policyholder_birth_date": "1980-01-01",
            "policyholder_id_number": holder, "policyholder_address": "北京", "policyholder_phone": "13800000000",
            "insured_name": "张小妹", "insured_sex": "女", "insured_birth_date": "2015-06-06",
            "insured_id_number": insured}
    meta.update(over)
    return meta


def test_insurance_key_fields_and_id_numbers(plugins):
    assert plugins.validate(plugins.classify(rec("KH-TB", metadata=_policy())).record).ok
    v = lambda **o: plugins.validate(plugins.classify(rec("KH-TB", metadata=_policy(**o))).record)  # noqa: E731
    assert "policyholder_phone" in {e.field for e in v(policyholder_phone="").errors}
    assert v(insured_id_number="").ok                                     # a minor may lack an ID
    adult = v(insured_id_number="", insured_birth_date="1990-01-01")
    assert "only minors" in str(adult.errors[0])
    holder = _policy()["policyholder_id_number"]
    broken = holder[:-1] + ("0" if holder[-1] != "0" else "1")
    assert "checksum" in str(v(policyholder_id_number=broken).errors[0]).lower()
    assert "does not agree" in str(v(policyholder_birth_date="1980-01-02").errors[0])
    assert "sex" in str(v(policyholder_sex="女").errors[0])
    assert v(policyholder_id_type="passport", policyholder_id_number="E12345678").ok


def test_suspicious_customers_report(plugins):
    a = rec("KH-TB", "a", metadata=_policy(bank_account="6222 0000 1111"), created="2024-05-01T10:00:00Z")
    b = rec("KH-TB", "b", metadata=_policy(policyholder_name="李四", policyholder_id_number=rid("110105", "19750505", "111"),
                                           policyholder_birth_date="1975-05-05", bank_account="62220000 1111",
                                           policyholder_phone="13900000000"), created="2024-05-02T10:00:00Z")
    c = rec("KH-TB", "c", metadata=_policy(policyholder_phone="13800000000"), created="2024-05-02T11:00:00Z")
    rows = plugins.run_report("suspicious_customers", NullContext(date(2024, 5, 3), [a, b, c])).rows
    assert [(r["kind"], r["value"], r["customers"]) for r in rows] == [("bank_account", "622200001111", 2)]
    assert rows[0]["records"] == "a, b"
    # as of 1 May, b was not yet there: nothing suspicious
    assert plugins.run_report("suspicious_customers", NullContext(date(2024, 5, 1), [a, b, c])).rows == []


# ------------------------------------------------------------ customer confidentiality

def test_confidentiality_markers_lending_and_approvals(plugins):
    r = plugins.classify(rec("KX-TS", metadata={"customer_name": "某律所"}, secrecy="confidential")).record
    assert plugins.listing_marker(r) == "【机密】"
    assert plugins.listing_marker(plugins.classify(rec("BGS-NB", secrecy="top-secret")).record) == ""
    staff = Actor("s")
    assert plugins.lending_limit_days(r, staff) == 3
    assert plugins.lending_limit_days(plugins.classify(rec("BGS-NB")).record, staff) is None
    assert not plugins.may(staff, "export", r)
    assert plugins.may(staff, "export", r, AccessContext(approvals=frozenset({"export"})))
    assert not plugins.may(staff, "copy", r, AccessContext(approvals=frozenset({"export"})))
    assert not plugins.may(staff, "read", r)
    assert plugins.may(Actor("m", frozenset({"customer-service-manager"})), "read", r)
    with pytest.raises(Exception, match="unknown action"):
        plugins.may(staff, "sell", r)


def test_inspection_due_every_six_months(plugins):
    r1 = rec("KX-YB", "k1", created="2024-01-31T00:00:00Z", archival_code="Z109-KX·2024-D30-KXB-0001")
    r2 = rec("KX-YB", "k2", created="2024-01-31T00:00:00Z")
    ctx = NullContext(date(2024, 8, 1), [r1, r2], events={("k2", "inspection"): datetime(2024, 6, 1)})
    rows = plugins.run_report("inspection_due", ctx).rows
    assert [(r["archival_code"], r["due"], r["last_inspection"]) for r in rows] == \
        [("Z109-KX·2024-D30-KXB-0001", "2024-07-31", "never")]
    assert kx.add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)


def test_report_parameters_are_checked(plugins):
    with pytest.raises(Exception, match="takes volume"):
        plugins.run_report("contents_list", NullContext(), colour="red")
    with pytest.raises(Exception, match="unknown report"):
        plugins.run_report("nope", NullContext())
    assert bgs.ours(rec("BGS-NB"))


def test_departments_disagreeing_on_filing_is_an_error_naming_both():
    from dangan.plugins import hookimpl
    from dangan.plugins.types import FilingDecision

    class Rival:
        @hookimpl
        def dangan_filing(self, record):
            return FilingDecision(1999, "rival")

    p = Plugins.load(load_entrypoints=False, enabled=["general_office"], extra_plugins=[("rival", Rival())])
    with pytest.raises(PluginError, match="general_office and rival disagree in dangan_filing"):
        p.classify(rec("BGS-NB"))
