"""Insurance customer-information authenticity (客户信息真实性), regulation 4 (KFB).

Art.5: key fields must be complete before a policy is accepted — metadata
``policyholder_name``, ``policyholder_sex``, ``policyholder_birth_date``,
``policyholder_id_number``, ``policyholder_address``, ``policyholder_phone``;
``insured_name``, ``insured_sex``, ``insured_birth_date``, ``insured_id_number``
(not required for an insured under 18 on the record date).  Optional:
``policyholder_id_type`` / ``insured_id_type`` (``resident-id`` default; other
documents are not checked), ``bank_account``.

Art.6: resident ID numbers must pass the national rules (python-stdnum
``cn.ric``: length, check digit, birth date, region) and the sex and birth date
given must agree with the number (sex: 17th digit odd = male).

Art.7: report ``suspicious_customers``: the same phone or bank account in the
records of two different customers, as of a date (T+1).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from ...model import Record
from ..hookspecs import hookimpl
from ..types import Category, Issue, ReportContext, ReportResult, ReportSpec, Scheme, error

DEPT = "KFB"
PREFIX = "KH-"
#: The roles this plugin gives meaning to: none of its own (core's roles apply).
ROLES: dict[str, str] = {}
POLICY = "KH-TB"
POLICYHOLDER = ("name", "sex", "birth_date", "id_number", "address", "phone")
INSURED = ("name", "sex", "birth_date", "id_number")
_SEX = {"m": "male", "male": "male", "男": "male", "f": "female", "female": "female", "女": "female"}

CATEGORIES = (
    Category(POLICY, "投保客户信息资料", "long-term", "internal",
             tuple(f"policyholder_{f}" for f in POLICYHOLDER) + tuple(f"insured_{f}" for f in INSURED[:3]),
             DEPT, "KH", "Art.5 key fields; insured ID number may be absent for minors",
             (("insured_id_number", "unless the insured is under 18"),)),
    Category("KH-HF", "电话回访记录", "short-term", "internal", (), DEPT, "KH"),
    Category("KH-KY", "可疑客户排查资料", "long-term", "internal", (), DEPT, "KH"),
)
SCHEME = Scheme("insurance_customers", "客户服务部 客户信息真实性", CATEGORIES, DEPT)


def normalise_sex(value: str) -> str | None:
    return _SEX.get(str(value).strip().lower())


def id_sex(number: str) -> str:
    """Sex encoded in a resident ID number: the 17th digit, odd = male."""
    return "male" if int(ric.compact(number)[16]) % 2 else "female"


def check_resident_id(number: str, birth_date: str | None, sex: str | None, who: str) -> list[str]:
    """Problems with a resident ID number and its agreement with birth date and sex."""
    try:
        number = ric.validate(number)
    except ValidationError as e:
        return [f"{who} ID number {number!r} is not a valid resident ID number: {e.message}"]
    problems = []
    born = ric.get_birth_date(number)
    if birth_date and birth_date[:10] != born.isoformat():
        problems.append(f"{who} birth date {birth_date} does not agree with the ID number ({born.isoformat()})")
    if sex and normalise_sex(sex) and normalise_sex(sex) != id_sex(number):
        problems.append(f"{who} sex {sex} does not agree with the ID number ({id_sex(number)})")
    return problems


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


@hookimpl
def dangan_validate(record: Record, category: Category | None) -> list[Issue] | None:
    if record.category != POLICY:
        return None
    meta, issues = record.metadata, []
    on = date.fromisoformat(record.date[:10]) if record.date else date.today()
    for who in ("policyholder", "insured"):
        sex, born = meta.get(f"{who}_sex", ""), meta.get(f"{who}_birth_date", "")
        if sex and normalise_sex(sex) is None:
            issues.append(error(f"{who} sex {sex!r} must be male/female (男/女)", f"{who}_sex"))
        try:
            birth = date.fromisoformat(born[:10]) if born else None
        except ValueError:
            issues.append(error(f"{who} birth date {born!r} is not an ISO date", f"{who}_birth_date"))
            birth = None
        number = str(meta.get(f"{who}_id_number", "")).strip()
        if not number:
            minor = who == "insured" and birth is not None and age_on(birth, on) < 18
            if who == "insured" and not minor:
                issues.append(error("insured_id_number is required (only minors may lack one):"
                                    " give --meta insured_id_number=VALUE", "insured_id_number"))
            continue
        if meta.get(f"{who}_id_type", "resident-id") != "resident-id":
            continue
        for message in check_resident_id(number, born or None, sex or None, who):
            issues.append(error(message, f"{who}_id_number"))
    return issues


def _customer(record: Record, who: str) -> str | None:
    meta = record.metadata
    number = str(meta.get(f"{who}_id_number", "")).strip()
    if number:
        return "id:" + ric.compact(number)
    name = str(meta.get(f"{who}_name", "")).strip()
    return f"name:{name}|{meta.get(f'{who}_birth_date', '')}" if name else None


def _digits(value: str) -> str:
    return "".join(c for c in str(value) if c.isdigit())


def suspicious_customers(context: ReportContext) -> ReportResult:
    """Art.7: phones and bank accounts shared by two or more different customers,
    over the records archived up to ``context.as_of`` (run it on T+1)."""
    seen: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in context.records(category=POLICY):
        ref = record.archival_code or record.id
        holder = _customer(record, "policyholder")
        for kind, key, who in (("phone", "policyholder_phone", holder),
                               ("bank_account", "bank_account", holder),
                               ("phone", "insured_phone", _customer(record, "insured"))):
            value = _digits(record.metadata.get(key, ""))
            if value and who:
                seen[(kind, value)][who].add(ref)
    rows = []
    for (kind, value), customers in sorted(seen.items()):
        if len(customers) >= 2:
            rows.append({"kind": kind, "value": value, "customers": len(customers),
                         "records": ", ".join(sorted(r for refs in customers.values() for r in refs))})
    return ReportResult(["kind", "value", "customers", "records"], rows,
                        title=f"可疑客户信息清单 as of {context.as_of.isoformat()}")


@hookimpl
def dangan_register_reports(register: Callable[[ReportSpec], None]) -> None:
    register(ReportSpec("suspicious_customers",
                        "可疑客户: same phone or bank account on two different customers (T+1)",
                        suspicious_customers))
