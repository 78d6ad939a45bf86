"""``--format`` with the file formats (``pdf``, ``xlsx``) beside table, csv and json, and ``-o FILE``.

``tabular_options(*formats)`` is ``output.format_options`` widened: ``fmt`` is one of ``formats`` and
``dest`` the ``-o`` path (required for pdf and xlsx, optional for csv).
"""
from __future__ import annotations

import functools
from pathlib import Path

import click


def tabular_options(*formats: str, short: bool = True):
    """``short=False``: ``--output`` only (a command whose arguments may start with ``-``)."""
    def deco(f):
        @functools.wraps(f)
        def inner(*args, as_json=False, fmt="table", dest=None, **kw):
            fmt = "json" if as_json else fmt
            if fmt in ("pdf", "xlsx") and dest is None:
                from ..errors import UsageError
                raise UsageError(f"--format {fmt} writes a file: give -o FILE (- for standard output)")
            return f(*args, fmt=fmt, dest=dest, **kw)
        inner = click.option(*(("-o", "--output") if short else ("--output",)), "dest", type=click.Path(path_type=Path, dir_okay=False,
                                                                       allow_dash=True),
                             help="Write to this file (needed for pdf and xlsx; - for standard output).")(inner)
        inner = click.option("--json", "as_json", is_flag=True, help="The same as --format json.")(inner)
        return click.option("--format", "fmt", type=click.Choice(list(formats)), default=formats[0],
                            show_default=True)(inner)
    return deco


def write_bytes(data: bytes, dest: Path, what: str) -> None:
    """Write ``data`` to ``dest`` (``-``: standard output) whole (a partial file never has the name)."""
    import sys

    from .output import line
    if str(dest) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    import errno

    from ..errors import StorageFull, UsageError
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"disk full while writing {dest}: it was not written; free space and retry") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise UsageError(f"cannot write {dest}: {exc.strerror or exc}") from None
    line(f"{what}: {dest} ({len(data)} bytes)", err=True)


def emit_table(archive, what: str, fmt: str, dest: Path | None, columns, rows) -> None:
    """``rows`` as csv or xlsx: to ``dest`` (a CSV file gets a BOM, so Excel reads its Chinese), or a
    CSV to standard output without one (for scripts)."""
    import sys

    from ..core.service.sheets import export_table
    if dest is None or str(dest) == "-":
        data = export_table(archive, what, fmt, columns, rows, bom=fmt == "csv" and dest is not None)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_bytes(export_table(archive, what, fmt, columns, rows), dest, f"{what} ({len(rows)} rows)")
