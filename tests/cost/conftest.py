"""Cost test fixtures: the local Supabase API server and a client resource pointed at it."""

from __future__ import annotations

import pytest

from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource
from tests.cost.api_server import FakeSupabaseApi


@pytest.fixture
def fake_api(monkeypatch):
    server = FakeSupabaseApi().start()
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", server.token)
    yield server
    server.stop()


@pytest.fixture
def api_resource() -> SupabaseApiResource:
    # small backoff so retry tests stay quick; Retry-After is honoured up to 2 s
    return SupabaseApiResource(backoff_s=0.01, max_retries=3, max_retry_after_s=2.0)
