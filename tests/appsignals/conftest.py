"""Fixtures: the local logs API and metrics server, and a project that points at them."""

from __future__ import annotations

import pytest

from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource
from aimatrix_pipeline.settings import Project
from tests.appsignals.servers import LogsApi, MetricsServer

REF = "abcdefghijklmnopqrst"


@pytest.fixture
def logs_api(monkeypatch):
    server = LogsApi().start()
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", server.token)
    yield server
    server.stop()


@pytest.fixture
def api_resource() -> SupabaseApiResource:
    return SupabaseApiResource(backoff_s=0.01, max_retries=2, max_retry_after_s=0.05)


@pytest.fixture
def metrics_server(monkeypatch):
    server = MetricsServer().start()
    monkeypatch.setenv("P1_SERVICE_ROLE_KEY", server.key)
    yield server
    server.stop()


@pytest.fixture
def project(metrics_server) -> Project:
    return Project(name="p1", organization="o1", db_url_env="P1_DB_URL", ref=REF,
                   extra={"metrics_url": metrics_server.url, "service_role_key_env": "P1_SERVICE_ROLE_KEY"})
