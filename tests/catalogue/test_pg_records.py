"""Users, clearance and destruction on PostgreSQL: tests/policy's user register and tests/management's
destruction tests, run again with the catalogue on PostgreSQL (the rebuild test deletes catalogue.sqlite:
it stays with SQLite)."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("policy/test_mgmt_users.py"))
globals().update(collected_again("management/test_destruction.py",
                                 leave_out=("test_rebuild_brings_back_the_tombstone_never_the_record",)))
