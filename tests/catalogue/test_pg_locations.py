"""Paper originals, boxes and paper on loan on PostgreSQL: tests/management/test_locations.py collected again
here and run with the catalogue on PostgreSQL."""
from __future__ import annotations

import pytest

from catalogue_helpers import collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("management/test_locations.py"))
