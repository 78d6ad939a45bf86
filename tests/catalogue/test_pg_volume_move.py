"""Moves across a confidential volume's border on PostgreSQL: tests/confidential/test_volume_move.py collected
again here and run with the catalogue on PostgreSQL."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("confidential/test_volume_move.py"))
