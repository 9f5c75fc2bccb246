"""Fixtures for the browser tests: a warehouse filled by the real pipeline (see tests/dashboard)."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import fill_warehouse
from tests.ui.browser import require_browser


@pytest.fixture
def browser_warehouse(warehouse, source_db18, monkeypatch):
    require_browser()  # skip (locally) / fail (CI) before doing any work
    fill_warehouse(warehouse, source_db18, monkeypatch)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    return warehouse, source_db18
