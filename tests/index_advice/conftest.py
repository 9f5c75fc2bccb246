"""The index-advice fixture database on PG 18 (no hypopg), shared by the modules here."""

from __future__ import annotations

import pytest

from tests.index_advice import workload


@pytest.fixture
def pg18_plain(pg18):
    """A fresh source database with the advice workload's tables (tests/index_advice/workload.py)."""
    from tests.conftest import make_source_db

    db = make_source_db(pg18, "advice")
    workload.install(db.url)
    yield db
    pg18.drop_database(db.name)
