"""`dangan ingest DIR --manifest meta.csv|meta.xlsx`: one row of fields per file, every row checked
before anything is filed; a bad row files nothing and is named with its column."""
from __future__ import annotations

import json

import pytest
from openpyxl import Workbook


def folder(tmp_path):
    d = tmp_path / "移交"
    (d / "二季度").mkdir(parents=True)
    (d / "会议纪要.txt").write_text("第一次办公会议纪要", encoding="utf-8")
    (d / "二季度" / "通知.txt").write_text("关于档案整理的通知", encoding="utf-8")
    return d


def write_csv(path, text, encoding="utf-8-sig"):
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def listed(cli):
    return {r["title"]: r for r in map(json.loads, cli("ls", "--json").output.splitlines())}


def test_a_csv_manifest_files_each_file_with_its_own_fields_in_row_order(cli, tmp_path):
    d = folder(tmp_path)
    meta = write_csv(tmp_path / "meta.csv",
                     "文件,题名,日期,机构,门类,保管期限,文号,责任者,标签\n"
                     "二季度/通知.txt,关于档案整理的通知,2021-04-02,BGS,WS,D30,办发〔2021〕3号,办公室,整理;通知\n"
                     "会议纪要.txt,2021年第一次办公会议纪要,2021年1月10日,BGS,WS,永久,,办公室,\n")
    out = [json.loads(x) for x in cli("ingest", d, "--manifest", meta, "--json").output.splitlines()]
    assert [o["status"] for o in out] == ["archived", "archived"]
    assert out[0]["source"].endswith("通知.txt")                    # the manifest's order, not the folder's
    recs = listed(cli)
    notice, minutes = recs["关于档案整理的通知"], recs["2021年第一次办公会议纪要"]
    assert notice["date"] == "2021-04-02" and notice["retention"] == "long-term"
    assert notice["metadata"]["doc_number"] == "办发〔2021〕3号" and notice["metadata"]["author"] == "办公室"
    assert notice["tags"] == ["整理", "通知"]
    assert minutes["date"] == "2021-01-10" and minutes["retention"] == "permanent"


def test_an_xlsx_manifest_with_cli_defaults_under_its_rows(cli, tmp_path):
    import datetime as dt
    d = folder(tmp_path)
    wb = Workbook()
    ws = wb.active
    ws.append(["file", "title", "date", "门类"])
    ws.append(["会议纪要.txt", "纪要", dt.datetime(2021, 3, 1), "WS"])
    ws.append(["二季度/通知.txt", "通知", "2021-03-02", "WS"])
    wb.save(tmp_path / "meta.xlsx")
    cli("ingest", d, "--manifest", tmp_path / "meta.xlsx", "--dept", "BGS", "--retention", "D10")
    recs = listed(cli)
    assert recs["纪要"]["date"] == "2021-03-01" and recs["纪要"]["department"] == "BGS"
    assert recs["通知"]["retention"] == "short-term"


def test_a_manifest_with_bad_rows_files_nothing_and_names_each_row_and_column(cli, tmp_path):
    d = folder(tmp_path)
    (d / "多余.txt").write_text("not in the manifest", encoding="utf-8")
    meta = write_csv(tmp_path / "meta.csv",
                     "文件,题名,日期,密级,案卷\n"
                     "会议纪要.txt,纪要,2021-02-30,,\n"
                     "二季度/通知.txt,通知,2021-03-01,绝顶机密,\n"
                     "../meta.csv,越界,2021-03-01,,\n"
                     "会议纪要.txt,又一次,2021-03-01,,\n"
                     "缺失.txt,不存在,2021-03-01,,NO-SUCH-VOLUME\n")
    r = cli("ingest", d, "--manifest", meta, "--category", "WS", "--dept", "BGS", ok=False)
    assert r.exit_code == 10
    for part in ("row 2, column 日期", "row 3, column 密级", "row 4, column 文件", "is on row 2 already",
                 "row 6, column 文件", "row 6, column 案卷", "多余.txt: a file of the folder with no row",
                 "nothing was filed"):
        assert part in r.output, part
    assert cli("ls", "--json").output == ""
    assert not [e for e in map(json.loads, cli("audit", "log", "--json").output.splitlines())
                if e["action"] == "record.ingest"]


def test_a_row_the_scheme_refuses_stops_the_whole_manifest(cli, tmp_path):
    d = folder(tmp_path)
    meta = write_csv(tmp_path / "meta.csv",
                     "文件,题名,门类,机构\n会议纪要.txt,纪要,WS,BGS\n二季度/通知.txt,通知,WS,\n")
    r = cli("ingest", d, "--manifest", meta, ok=False)
    assert r.exit_code == 10 and "row 3:" in r.output and "department" in r.output
    assert cli("ls", "--json").output == ""


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_csv_saved_by_excel_without_a_bom_or_in_gb18030_reads(cli, tmp_path, encoding):
    d = folder(tmp_path)
    meta = write_csv(tmp_path / "meta.csv", "文件,题名\n会议纪要.txt,纪要甲\n二季度/通知.txt,通知乙\n", encoding)
    cli("ingest", d, "--manifest", meta)
    assert set(listed(cli)) == {"纪要甲", "通知乙"}
