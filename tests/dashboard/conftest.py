"""A warehouse with real data for the dashboard: a seeded PG 18 source, two statistics snapshots,
its app logs, the analytics derivations, two scrapes of the local metrics endpoint over HTTP, and
a few priced cost rows (the cost tables' contract) for two projects' organization."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from aimatrix_pipeline.appsignals.metrics import scrape_metrics
from aimatrix_pipeline.demo import seed_data
from aimatrix_pipeline.demo.local_metrics import LocalMetricsEndpoint
from aimatrix_pipeline.settings import Project
from tests.analytics.helpers import extract_logs, run_analytics, snapshot

COST_ROWS = [  # project, date, line_item, cost_usd
    ("p1", date(2026, 11, 1), "compute_hours", 0.50),
    ("p1", date(2026, 11, 2), "compute_hours", 0.25),
    ("p1", date(2026, 11, 2), "egress_gb", 1.25),
    (None, date(2026, 11, 2), "plan_fee", 0.83),
]


def fill_warehouse(warehouse, source_db, monkeypatch) -> Project:
    seed_data.seed(source_db.url, scale=0.02, seed=3)
    monkeypatch.setenv("AIMATRIX_TEST_P1_DB_URL", source_db.url)
    monkeypatch.setenv("AIMATRIX_TEST_P1_KEY", "k-test")
    endpoint = LocalMetricsEndpoint(source_db.url, "k-test").start()
    try:
        project = Project(name="p1", organization="o1", db_url_env="AIMATRIX_TEST_P1_DB_URL",
                          extra={"metrics_url": endpoint.url, "service_role_key_env": "AIMATRIX_TEST_P1_KEY"})
        t0 = datetime.now(UTC) - timedelta(minutes=10)
        snapshot(warehouse, project, at=t0)
        scrape_metrics(warehouse, project, scraped_at=t0)
        with source_db.connect(autocommit=True) as conn:
            for _ in range(30):
                conn.execute("select count(*) from pg_class a, pg_class b where a.oid > b.oid").fetchall()
        time.sleep(1.0)  # a measurable CPU interval between the two scrapes
        snapshot(warehouse, project, at=t0 + timedelta(minutes=5))
        scrape_metrics(warehouse, project, scraped_at=t0 + timedelta(minutes=5))
    finally:
        endpoint.stop()
    extract_logs(warehouse, project)
    run_analytics(warehouse, project)
    with warehouse.transaction() as conn:
        for p, d, item, cost in COST_ROWS:
            conn.execute(
                "insert into cost.cost_breakdown_daily (project, organization, date, line_item, cost_usd, status) "
                "values (?, 'o1', ?, ?, ?, 'known')", [p, d, item, cost])
        conn.execute(
            "insert into cost.monthly_cost_report (organization, month, line_item, cost_usd, projected_cost_usd, status) "
            "values ('o1', date '2026-11-01', 'compute_hours', 0.75, 11.25, 'known'), "
            "('o1', date '2026-11-01', 'egress_gb', 1.25, 18.75, 'known')")
        conn.execute("insert into cost.projects (project, organization) values ('p1', 'o1'), ('p2', 'o1')")
    return project


@pytest.fixture
def filled_warehouse(warehouse, source_db18, monkeypatch):
    fill_warehouse(warehouse, source_db18, monkeypatch)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    return warehouse
