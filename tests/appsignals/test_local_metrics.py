"""The demo's local metrics endpoint: real series from a real database, scraped like Supabase's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from aimatrix_pipeline.appsignals import derive, metrics
from aimatrix_pipeline.demo.local_metrics import LocalMetricsEndpoint
from aimatrix_pipeline.settings import Project


def test_local_endpoint_serves_the_database_and_is_scraped_into_the_warehouse(source_db18, warehouse, monkeypatch):
    endpoint = LocalMetricsEndpoint(source_db18.url, "local-key").start()
    try:
        assert httpx.get(endpoint.url, auth=("service_role", "wrong")).status_code == 401
        monkeypatch.setenv("DEMO_SERVICE_ROLE_KEY", "local-key")
        project = Project(name="demo", organization="o", db_url_env="X",
                          extra={"metrics_url": endpoint.url, "service_role_key_env": "DEMO_SERVICE_ROLE_KEY"})
        result = metrics.scrape_metrics(warehouse, project, datetime(2026, 11, 20, tzinfo=UTC))
    finally:
        endpoint.stop()
    assert result.samples >= 8 and result.rows_quarantined == 0
    with warehouse.reader() as conn:
        rows = conn.execute("select metric, labels, value from raw.project_metrics where project = 'demo'").fetchall()
    by = {(m, json.dumps(json.loads(lab), sort_keys=True)): v for m, lab, v in rows}
    size = by[("pg_database_size_bytes", json.dumps({"datname": source_db18.name}))]
    actual = source_db18.execute("select pg_database_size(current_database())")[0][0]
    assert abs(size - actual) <= 0.05 * actual  # the same database (background writes may add a page)
    assert by[("realtime_connections_connected", "{}")] == 0
    with warehouse.transaction() as conn:
        assert derive.derive_realtime_health(conn, "demo") == 1
