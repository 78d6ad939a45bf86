"""The catalogue's rows and cursors on PostgreSQL, as the ``sqlite3`` module gives them (:mod:`.db` runs the
statements): a row read by position or by name, a cursor of rows already fetched, parameters as SQLite takes
them (``bool`` as 0/1)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator


class Row(tuple):
    """A result row read by position or (case-insensitive) name, like ``sqlite3.Row``."""
    _index: dict[str, int] = {}
    _names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key.lower()])
            except KeyError:
                raise IndexError(f"No item with that key: {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(n.lower(), i)
    return type("Row", (Row,), {"_index": index, "_names": names, "__slots__": ()})


def _value(v: Any, decimal: Any) -> Any:
    if isinstance(v, decimal):                   # sum() over BIGINT is NUMERIC on PostgreSQL
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def _row_factory(cursor):
    desc = cursor.description
    if desc is None:
        return lambda values: values
    from decimal import Decimal                  # PostgreSQL rows only (psycopg has imported it): not at start-up
    cls = _row_class(tuple(d.name for d in desc))
    return lambda values: cls(_value(v, Decimal) for v in values)


def _params(params: Any) -> Any:
    if params is None:
        return ()
    if isinstance(params, dict):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class PgCursor:
    """The result of one statement: rows fetched, ``lastrowid`` (the key an INSERT made), ``rowcount``."""

    def __init__(self, rows: list, description, rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._pos = 0
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self):
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list:
        out = self._rows[self._pos:]
        self._pos = len(self._rows)
        return out

    def fetchmany(self, size: int = 1) -> list:
        out = self._rows[self._pos:self._pos + size]
        self._pos += len(out)
        return out

    def __iter__(self) -> Iterator:
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def close(self) -> None:
        self._rows = []
