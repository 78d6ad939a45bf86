"""Retention, destruction lists with approval and legal holds on PostgreSQL (tests/management's, run again)."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("management/test_mgmt_disposition.py"))
