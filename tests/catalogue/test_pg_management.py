"""Records management on PostgreSQL: the lending, disposition (destruction, holds) and user-register tests of
tests/management and tests/policy, collected again here and run with the catalogue on PostgreSQL."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("management/test_mgmt_lend.py"))
