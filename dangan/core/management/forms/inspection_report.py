"""The six-monthly inspection report (档案检查报告) as rows of section · item · value, and as a form.

:func:`report_rows` is also what ``dangan inspect report`` prints as a table or CSV, so the three
outputs cannot drift apart.
"""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Grid, Signatures


def report_rows(r: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    rows: list[tuple[Any, Any, Any]] = [
        ("fixity", "objects", r["fixity"]["objects"]), ("fixity", "tombstones", r["fixity"]["tombstones"]),
        ("fixity", "problems", len(r["fixity"]["problems"]))]
    rows += [("fixity", p["record_id"], p["message"]) for p in r["fixity"]["problems"]]
    rd = r["readability"]
    rows += [("readability", k, rd.get(k, 0)) for k in ("checked", "ok", "failed", "sealed")]
    rows += [("readability", u["record_id"], u["problem"]) for u in rd["unreadable"]]
    rows += [("extraction", k, v) for k, v in sorted(rd["extraction"].items())]
    rows += [("extraction", p["record_id"], f"{p['status']}: {p['message']}" if p["message"] else p["status"])
             for p in rd["extraction_problems"]]
    rows += [("catalogue-store", "agree", "yes" if r["catalogue_store"]["agree"] else "NO")]
    rows += [("records", "total", r["records"])]
    rows += [(f"by {k}", row[k], f"{row['records']} records, {row['bytes']} bytes")
             for k, by in r["by"].items() for row in by]
    rows += [("hold", h["id"], f"{h['scope']} ({h['records']} records; {h['authority']})") for h in r["holds"]]
    rows += [("overdue loan", b["loan"], f"{b['borrower']}, due {b['due']}, {b['days_overdue']} days")
             for b in r["overdue_loans"]]
    rows += [("disposition due", d["record_id"], f"{d['action']} due {d['due']}" + (" HELD" if d["held"] else ""))
             for d in r["disposition_due"]]
    rows += [("inspections due", "records", r["inspections_due"]), ("backup", "last", r["backup"]["message"])]
    loc = r.get("locations") or {}
    if loc:
        rows += [("locations", "boxes", loc["boxes"]), ("locations", "records placed", loc["placed"])]
        rows += [("paper out on loan", o["record_id"],
                  f"借出 loan {o['loan']} to {o['borrower']}, due {o['due']}, from box {o['box']}")
                 for o in loc["out_on_loan"]]
    fm = r.get("formats") or {}
    if fm:
        kept = {a["puid"] for a in fm.get("kept_as_copy", [])}
        at_risk = {a["puid"] for a in fm["at_risk"]}
        rows += [("format", f["puid"], f"{f['files']} files, {f['format_name']}" + (
                  "" if f["preservation"] else " AT RISK" if f["puid"] in at_risk or f["puid"] not in kept
                  else " (kept as PDF/A copies)")) for f in fm["by_puid"]]
        rows += [("format at risk", a["archival_code"] or a["record_id"], f"{a['path']}: {a['puid'] or '?'} "
                  f"{a['format_name'] or ''} ({a['reason']})") for a in fm["at_risk"]]
        rows += [("kept as PDF/A copy", a["archival_code"] or a["record_id"], f"{a['path']}: {a['puid'] or '?'} "
                  f"{a['format_name'] or ''}, copy {a['copy']} ({a['copy_puid']})") for a in fm.get("kept_as_copy", [])]
        if fm["not_identified"]:
            rows += [("format", "not identified", f"{fm['not_identified']} files (archived before identification)")]
    return rows


def inspection_report_form(r: dict[str, Any]) -> Form:
    name = r.get("archive") or r.get("fonds") or ""
    return Form("档案检查报告", [
        Fields([("档案馆（室）", name), ("全宗号", r.get("fonds") or ""), ("检查日期", r["as_of"]),
                ("结论", "未发现问题 (no findings)" if r["ok"] else "发现问题 (FINDINGS)")]),
        Grid(["检查项目 (section)", "项 (item)", "结果 (value)"], report_rows(r), [1.3, 1.5, 4]),
        Signatures(["检查人", "档案部门负责人"]),
    ], footer=name)
