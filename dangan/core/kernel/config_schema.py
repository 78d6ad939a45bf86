"""Every key ``dangan.toml`` may hold, with its type: the one place configuration is validated.

A wrong type is a :class:`~dangan.errors.UsageError` (exit 2) naming the key and what it must be;
an unknown section or key is a warning, with a "did you mean" when a known name is close.

**Adding a key**: add one entry to :data:`SCHEMA` under its section, e.g.::

    "ingest": Table({
        "jobs": Int(minimum=1),
        "max_file_mb": Number(minimum=0, exclusive=True),       # ← the new key
    }),

and read it where it is used (``archive.config.raw["ingest"].get("max_file_mb", 2048)``, or a
typed field on :class:`~dangan.core.kernel.config.Config`).  A new section is a new ``Table``.  The
building blocks: :class:`Str`, :class:`Int`, :class:`Number`, :class:`Bool`, :class:`StrList`,
:class:`Choice`, :class:`Either`, :class:`Table` (fixed keys), :class:`TablesOf` (tables under
names the user chooses, ``[users."NAME"]``), :class:`ArrayOf` (``[[watch.folders]]``) and
:class:`Free` (any table, for free-form maps such as ``metadata``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dangan.errors import UsageError


class Spec:
    """What one value must be; ``problem`` answers None or the expected type, in words."""

    @property
    def expected(self) -> str:
        return "a value"

    def problem(self, value: Any) -> str | None:
        return None

    def walk(self, value: Any, where: str, out: "Findings") -> None:
        problem = self.problem(value)
        if problem is not None:
            out.error(where, problem, value)


@dataclass
class Str(Spec):
    nonempty: bool = False

    @property
    def expected(self) -> str:
        return "a non-empty string" if self.nonempty else "a string"

    def problem(self, value):
        if not isinstance(value, str) or (self.nonempty and not value.strip()):
            return self.expected
        return None


@dataclass
class Int(Spec):
    minimum: int | None = None

    @property
    def expected(self) -> str:
        return "a whole number" + (f" ≥ {self.minimum}" if self.minimum is not None else "")

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            return self.expected
        if self.minimum is not None and value < self.minimum:
            return self.expected
        return None


@dataclass
class Number(Spec):
    minimum: float | None = None
    exclusive: bool = False
    unit: str = ""

    @property
    def expected(self) -> str:
        text = "a number" + (f" of {self.unit}" if self.unit else "")
        if self.minimum is not None:
            text += f" {'>' if self.exclusive else '≥'} {self.minimum:g}"
        return text

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.expected
        if self.minimum is not None and (value <= self.minimum if self.exclusive else value < self.minimum):
            return self.expected
        return None


class Bool(Spec):
    expected = "true or false"

    def problem(self, value):
        return None if isinstance(value, bool) else self.expected


class StrList(Spec):
    expected = "a list of strings"

    def problem(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return self.expected
        return None

    def walk(self, value, where, out):
        if not isinstance(value, list):
            out.error(where, self.expected, value)
            return
        for i, v in enumerate(value):
            if not isinstance(v, str):
                out.error(f"{where}[{i}]", f"a string (in {self.expected})", v)
                return


@dataclass
class Choice(Spec):
    choices: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(f'"{c}"' for c in self.choices)

    def problem(self, value):
        return None if isinstance(value, str) and value in self.choices else self.expected


@dataclass
class Either(Spec):
    options: tuple[Spec, ...] = ()

    @property
    def expected(self) -> str:
        return " or ".join(o.expected for o in self.options)

    def problem(self, value):
        return None if any(o.problem(value) is None for o in self.options) else self.expected


class Free(Spec):
    """Any table (free-form maps whose keys the user chooses)."""

    expected = "a table"

    def problem(self, value):
        return None if isinstance(value, dict) else self.expected


@dataclass
class Table(Spec):
    keys: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    expected = "a table"

    def problem(self, value):
        return None if isinstance(value, dict) else self.expected

    def walk(self, value, where, out):
        if not isinstance(value, dict):
            out.error(where, self.expected, value)
            return
        for name in self.required:
            if name not in value:
                out.missing(f"{where} {name}")
        for name, v in value.items():
            spec = self.keys.get(name)
            if spec is None:
                out.unknown(where, name, self.keys)
            else:
                spec.walk(v, f"{where} {name}", out)


@dataclass
class TablesOf(Spec):
    """``[section."NAME"]`` tables: any name, each one a ``Table``."""

    each: Table = field(default_factory=Table)
    expected = "a table of tables"

    def walk(self, value, where, out):
        if not isinstance(value, dict):
            out.error(where, self.expected, value)
            return
        for name, v in value.items():
            self.each.walk(v, f"{where[:-1]}.{_quote(name)}]", out)


@dataclass
class ArrayOf(Spec):
    """``[[section.key]]``: an array of tables."""

    each: Table = field(default_factory=Table)
    expected = "an array of tables ([[...]])"

    def walk(self, value, where, out):
        if not isinstance(value, list):
            out.error(where, self.expected, value)
            return
        head = "[[" + where.strip("[]").replace("] ", ".") + "]]"       # [watch] folders → [[watch.folders]]
        for i, v in enumerate(value, 1):
            self.each.walk(v, f"{head} #{i}", out)


def _quote(name: str) -> str:
    return f'"{name}"'


POSITIVE_DAYS = Int(minimum=1)
_FOLDER_TEXT = ("department", "category", "date", "retention", "secrecy", "volume", "pattern", "done_dir")
WATCH_FOLDER = Table({
    "path": Str(nonempty=True), **{k: Str() for k in _FOLDER_TEXT}, "year": Int(),
    "tags": StrList(), "metadata": Free(), "values": Free(), "include": StrList(), "exclude": StrList(),
    "duplicates": Choice(("skip", "quarantine", "archive")), "after": Choice(("done", "delete")),
    "settle_seconds": Number(minimum=0, unit="seconds"), "poll": Bool(),
}, required=("path",))

#: section → its keys.  Keep in step with what the code reads (and with ``initial_config``).
SCHEMA: dict[str, Spec] = {
    "archive": Table({"id": Str(), "fonds": Str(nonempty=True), "name": Str()}, required=("fonds",)),
    "keystore": Table({"path": Str(nonempty=True), "unlock_minutes": Number(minimum=0, exclusive=True,
                                                                             unit="minutes")}),
    "extraction": Table({
        "ocr_languages": Str(nonempty=True),
        "timeout_seconds": Number(minimum=0, exclusive=True, unit="seconds"),
        "memory_mb": Int(minimum=16),
        "tesseract": Str(nonempty=True),
        "thumbnail_px": Int(minimum=0),             # longer side of PNG thumbnails (derivatives); 0: none
    }),
    "plugins": Table({"enabled": StrList(), "disabled": StrList()}),
    "ingest": Table({"jobs": Int(minimum=1), "workers": Int(minimum=0), "max_file_mb": Number(unit="MiB"),    # max_file_mb ≤ 0: no limit
                     # "workers": archive now, extract later (`dangan worker`; kernel/pipeline.extraction_mode)
                     "extraction": Choice(("inline", "workers"))}),
    "index": Table({"engine": Choice(("tantivy", "whoosh")),        # the search engine (core.search.indexing)
                    # the change log's retention (core.catalogue.outbox): kept this long after every node applied it;
                    # a node unseen this long no longer holds it back (it rebuilds its index when it returns)
                    "change_log_keep_hours": Number(minimum=0, unit="hours"),
                    "node_forget_days": Number(minimum=0, exclusive=True, unit="days")}),
    "catalogue": Table({"url": Str(nonempty=True)}),  # postgresql://… (core/catalogue/db.py); absent: catalogue.sqlite       # the search engine (core.search.indexing)
    "departments": Free(),                          # department code → its name (declares the departments)
    "policy": Table({
        "loan_required_from": Str(nonempty=True),   # a secrecy level, or "none"
        "loan_required_categories": Free(),         # category code (or prefix) → secrecy level
        "declassify_approver_roles": Either((Str(nonempty=True), StrList())),
    }),
    "security": Table({"separation_of_duties": Bool()}),   # 三员分立 (core/policy/separation.py)
    "audit": Table({"key_path": Str(nonempty=True), "checkpoint_log": Str(nonempty=True), "notarise_command": Str()}),
    "store": Table({"url": Str(nonempty=True), "endpoint_url": Str(nonempty=True)}),   # S3 (repository/ocfl_s3)
    "backup": Table({"repo": Str(nonempty=True), "endpoint_url": Str(nonempty=True), "interval_hours": Number(minimum=0, exclusive=True, unit="hours")}),
    "lending": Table({"max_days": POSITIVE_DAYS, "default_days": POSITIVE_DAYS}),
    "disposition": Table({"approver_roles": Either((Str(nonempty=True), StrList()))}),
    "inspection": Table({"months": Int(minimum=1)}),
    "formats": Table({"identify": Bool(), "preservation": StrList()}),    # PRONOM identification, format policy
    "alerts": Table({"notify_command": Str()}),
    "serve": Table({                                # dangan serve (issue 16; core/policy/credentials.py)
        "session_hours": Int(minimum=1), "signin_failures": Int(minimum=1), "signin_window_minutes": Int(minimum=1),
        "max_upload_mb": Int(minimum=1), "secure_cookies": Bool(),
        "follow_changes_seconds": Number(minimum=0, unit="seconds"),    # the index follows the change log (0: off)
    }),
    "watch": Table({
        "settle_seconds": Number(minimum=0, unit="seconds"),
        "rescan_seconds": Number(minimum=0, exclusive=True, unit="seconds"),
        "poll": Bool(), "duplicates": WATCH_FOLDER.keys["duplicates"], "after": WATCH_FOLDER.keys["after"],
        "folders": ArrayOf(WATCH_FOLDER),
    }),
    "separators": Table({"enabled": Bool(), "barcode": Str(nonempty=True), "dpi": Int(minimum=36),
                         "max_pages": Int(minimum=2), "prefixes": Free()}),
    "pdfa": Table({"enabled": Choice(("auto", "on", "off")), "languages": Str(nonempty=True),
                   "sealed": Choice(("memory", "off"))}),
    "antivirus": Table({"enabled": Choice(("auto", "on", "off")), "socket": Str(), "database": Str(),
                        "clamscan": Str(nonempty=True), "timeout_seconds": Number(minimum=0, exclusive=True,
                                                                                  unit="seconds")}),
    "users": TablesOf(Table({"display_name": Str(), "department": Str(), "roles": StrList(),
                             "clearance": Str(nonempty=True)})),
}


class Findings:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, where: str, expected: str, value: Any) -> None:
        self.errors.append(f"{self.source}: {where} must be {expected}, not {_show(value)}")

    def missing(self, where: str) -> None:
        self.errors.append(f"{self.source}: {where} is missing")

    def unknown(self, where: str, name: str, known: dict) -> None:
        import difflib
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.warnings.append(f"{self.source}: unknown key {name} in {where}{hint}; it is ignored")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else f'"{value[:37]}..."'
    return repr(value)


def validate(raw: dict[str, Any], source: str = "dangan.toml") -> list[str]:
    """Check ``raw`` (parsed TOML) against :data:`SCHEMA`; raise on the first error, return the warnings."""
    out = Findings(source)
    for section, value in raw.items():
        spec = SCHEMA.get(section)
        if spec is None:
            import difflib
            close = difflib.get_close_matches(section, list(SCHEMA), n=1, cutoff=0.6)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            out.warnings.append(f"{source}: unknown section [{section}]{hint}; it is ignored")
            continue
        spec.walk(value, f"[{section}]", out)
    if "archive" not in raw:
        out.missing("[archive] fonds")
    if out.errors:
        raise UsageError(out.errors[0])
    return out.warnings
