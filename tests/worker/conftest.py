"""tests/worker: every test runs on the embedded catalogue.sqlite and on PostgreSQL (the pg_url fixture)."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogue_backend(request) -> str:
    return request.param
