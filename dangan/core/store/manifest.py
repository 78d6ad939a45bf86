"""Ingest with a manifest: a CSV or xlsx sheet with one row of catalogue fields per file of a folder.

Every row is checked before anything is filed — the file (inside the folder, a regular file, named
once), each field (a date, a year, a secrecy, a department the archive knows, a volume that exists),
and the record the row would make against the scheme and the plugins' validation — so a manifest with
one bad row files nothing, and the error names every bad row and column.  The headers are the field
names or the Chinese headers ``dangan ls --format csv|xlsx`` writes (``services.exports``), so an
export can be edited and read back; a column that is not a field becomes a metadata field.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.core.catalogue.fields import RecordFields
from dangan.errors import DanganError, UsageError, ValidationFailed

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: Header → field.  The file column is ``file`` (文件); ``tags`` are separated by ``;`` or ``；``.
HEADERS = {
    "file": "file", "文件": "file", "文件名": "file", "path": "file",
    "title": "title", "题名": "title", "department": "department", "dept": "department", "机构": "department",
    "category": "category", "门类": "category", "year": "year", "年度": "year", "date": "date", "日期": "date",
    "retention": "retention", "保管期限": "retention", "secrecy": "secrecy", "密级": "secrecy",
    "volume": "volume", "案卷": "volume", "tags": "tags", "标签": "tags",
    "pages": "pages", "页数": "pages", "doc_number": "doc_number", "文号": "doc_number",
    "author": "author", "责任者": "author", "notes": "notes", "备注": "notes",
}
#: Columns an export writes that a manifest ignores (the archive assigns them).
IGNORED = {"档号", "archival_code", "档案ID", "id", "状态", "status", "归档时间", "created", "序号"}
FIELDS = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume")


@dataclass
class ManifestRow:
    row: int                  # the sheet's row number (the header is row 1)
    path: Path
    fields: RecordFields


def read_sheet(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, header → text) for every non-empty row of a CSV (UTF-8 with or without BOM, or GB18030)
    or xlsx file."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if path.suffix.lower() != ".csv":
        raise UsageError(f"manifest {path.name}: a .csv or .xlsx file is expected")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")        # saved by Excel on Chinese Windows as "CSV"
        except UnicodeDecodeError:
            raise UsageError(f"manifest {path.name}: neither UTF-8 nor GB18030 text") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return _keyed(path, rows)


def _read_xlsx(path: Path) -> list[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
        raise UsageError(f"manifest {path.name}: not a readable xlsx workbook ({type(exc).__name__})") from None
    try:
        rows = [[_text(v) for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()
    return _keyed(path, rows)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _keyed(path: Path, rows: list[list[str]]) -> list[tuple[int, dict[str, str]]]:
    if not rows:
        raise UsageError(f"manifest {path.name} is empty")
    header = [h.strip() for h in rows[0]]
    if not any(HEADERS.get(h) == "file" or HEADERS.get(h.lower()) == "file" for h in header):
        raise UsageError(f"manifest {path.name}: no file column (文件 or file) in the header row")
    seen: set[str] = set()
    for h in header:
        if h and h in seen:
            raise UsageError(f"manifest {path.name}: column {h!r} twice in the header row")
        seen.add(h)
    out = []
    for n, r in enumerate(rows[1:], 2):
        if not any((c or "").strip() for c in r):
            continue
        out.append((n, {h: (r[i] if i < len(r) else "").strip() for i, h in enumerate(header) if h}))
    return out


def _field(header: str) -> str | None:
    return HEADERS.get(header) or HEADERS.get(header.lower())


def validate(archive: Archive, folder: Path, manifest: Path, base: RecordFields, *, create_volume: bool = False,
             skip: tuple[Path, ...] = ()) -> list[ManifestRow]:
    """Every row checked; the rows to ingest, or ValidationFailed naming every bad row and column."""
    from dangan.core.catalogue.volumes import require_named_volume
    from dangan.core.kernel.plugin_host import Classifier
    from dangan.core.policy.departments import check_department
    from dangan.core.store.batch import expand
    from dangan.model import Record

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--manifest needs one folder to ingest, not {folder}")
    root = folder.resolve()
    errors: list[str] = []
    out: list[ManifestRow] = []
    named: dict[Path, int] = {}
    classifier = Classifier(archive, archive.plugins)
    for n, row in read_sheet(manifest):
        bad = len(errors)
        values: dict[str, Any] = {}
        meta: dict[str, str] = {}
        file_header = "file"
        for h, v in row.items():
            f = _field(h)
            if f == "file":
                file_header = h
            if h in IGNORED or not v:
                continue
            if f in FIELDS or f in ("file", "tags"):
                values[f] = v
            elif f:
                meta[f] = v
            else:
                meta[h] = v
        name = values.pop("file", "")
        path = (folder / name) if name else None
        if not name:
            errors.append(f"row {n}, column {file_header}: no file named")
        else:
            full = (folder / name).resolve()
            if not full.is_relative_to(root) or full == root:
                errors.append(f"row {n}, column {file_header}: {name!r} is not a file inside {folder}")
            elif not (folder / name).is_file() or (folder / name).is_symlink():
                errors.append(f"row {n}, column {file_header}: {name!r} is not a regular file in {folder}")
            elif full in named:
                errors.append(f"row {n}, column {file_header}: {name!r} is on row {named[full]} already")
            else:
                named[full] = n
        fields = RecordFields(tags=[t for t in values.pop("tags", "").replace("；", ";").split(";") if t.strip()],
                              metadata=meta)
        for f, v in values.items():
            try:
                setattr(fields, f, int(v) if f == "year" else v)
            except ValueError:
                errors.append(f"row {n}, column {_header_of(row, f)}: {v!r} is not a year")
                continue
            try:
                RecordFields(**{f: getattr(fields, f)}).normalised()
                if f == "department":
                    check_department(archive, fields.department)
                if f == "volume" and not create_volume:
                    require_named_volume(archive, v)
            except DanganError as exc:
                errors.append(f"row {n}, column {_header_of(row, f)}: {exc.message}")
        if len(errors) > bad:
            continue
        merged = fields.merged_over(base).normalised()
        rec = Record(id="manifest-check", fonds=archive.config.fonds, title=merged.title or Path(name).stem,
                     department=merged.department, category=merged.category,
                     year=merged.year or (int(merged.date[:4]) if merged.date else dt.date.today().year),
                     date=merged.date, retention=merged.retention, secrecy=merged.secrecy or "public",
                     volume=merged.volume, tags=merged.tags, metadata=dict(merged.metadata))
        try:
            classifier.prepare(rec, merged.secrecy)
        except DanganError as exc:
            errors.append(f"row {n}: {exc.message}")
            continue
        if path is not None:                # a row without a file is an error above: nothing to file
            out.append(ManifestRow(n, path, fields.merged_over(base)))
    skipped = {Path(p).resolve() for p in skip}
    for src in expand([folder]):
        full = src.path.resolve()
        if full not in named and full not in skipped:
            errors.append(f"{src.path.relative_to(folder)}: a file of the folder with no row in the manifest")
    if errors:
        raise ValidationFailed(f"manifest {Path(manifest).name}: {len(errors)} problem(s), nothing was filed: "
                               + "; ".join(errors))
    if not out:
        raise UsageError(f"manifest {Path(manifest).name} has no rows")
    return out


def _header_of(row: dict[str, str], field: str) -> str:
    for h in row:
        if _field(h) == field:
            return h
    return field
