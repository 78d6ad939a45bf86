"""One index-outbox insert and one catalogue time text, whichever writer queues the row."""
from __future__ import annotations

import datetime as dt
import re

from ocfl_helpers import assert_store_valid

from dangan.core.catalogue.outbox import queue_index
from dangan.core.kernel.clock import utc_now, utc_text
from dangan.core.store import recovery

CATALOGUE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_the_catalogue_time_text():
    when = dt.datetime(2026, 12, 3, 21, 45, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert utc_text(when) == "2026-12-03T13:45:07Z"
    assert utc_text(when.replace(tzinfo=None)) == "2026-12-03T21:45:07Z"     # a naive time is UTC
    assert utc_text(when, timespec="microseconds") == "2026-12-03T13:45:07.123456Z"
    assert CATALOGUE_TIME.match(utc_text()) and utc_now().tzinfo is dt.timezone.utc
    assert sorted([utc_text(when), utc_text(when + dt.timedelta(seconds=1))]) == \
        [utc_text(when), utc_text(when + dt.timedelta(seconds=1))]


def test_every_writer_queues_the_same_row(archive, samples):
    a = archive.ingest(samples / "contract.txt", index=False)           # the new-version protocol
    b = archive.ingest(samples / "会议纪要.txt", index=False)
    first = archive.conn.execute("SELECT queued FROM index_outbox").fetchall()
    assert len(first) == 2 and all(CATALOGUE_TIME.match(r["queued"]) for r in first)
    recovery.rebuild(archive)                                           # adoption from the store
    rows = archive.conn.execute("SELECT record_id, op, queued FROM index_outbox ORDER BY seq").fetchall()
    assert sorted((r["record_id"], r["op"]) for r in rows) == sorted([(a.id, "upsert"), (b.id, "upsert")])
    assert all(CATALOGUE_TIME.match(r["queued"]) for r in rows)          # before: datetime('now'), a space, no Z
    with archive.transaction() as conn:
        queue_index(conn, [a.id, b.id], "delete")
        queue_index(conn, a.id, queued="2026-01-01T00:00:00Z")
    rows = archive.conn.execute("SELECT record_id, op, queued FROM index_outbox ORDER BY seq").fetchall()
    assert [(r["record_id"], r["op"]) for r in rows[-3:]] == [(a.id, "delete"), (b.id, "delete"), (a.id, "upsert")]
    assert rows[-1]["queued"] == "2026-01-01T00:00:00Z"
    assert_store_valid(archive.store.root)
