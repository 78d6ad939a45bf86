"""Backups of an archive whose catalogue is on PostgreSQL: tests/backup's tests run again.  The snapshot keeps
the catalogue in the same SQLite image as an embedded archive's (read from PostgreSQL in one REPEATABLE READ
snapshot, core/catalogue/transfer.snapshot_to_sqlite), so a restore gives a working embedded archive."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("backup/test_backup.py"))
globals().update(collected_again("backup/test_backup_destruction.py"))
