"""The cost assets run by Dagster: single-run backfills, idempotent re-runs, degraded days, failures."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from aimatrix_pipeline.cost.assets import (
    cost_breakdown_daily,
    monthly_cost_report,
    price_book,
    query_cost_daily,
    usage_daily,
)
from aimatrix_pipeline.cost.checks import BUDGET_CHECK_NAME, monthly_budget_not_exceeded
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from tests.cost import seed as S

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture
def fleet(tmp_path, monkeypatch, source_db18, fake_api):
    """Projects file: org acme (pro, budget $30) with one project backed by a seeded database;
    the API reports a Micro instance, no other add-on, and the included 8 GB disk."""
    fake_api.addons["selected_addons"] = [
        {"type": "compute_instance", "variant": {"id": "ci_micro", "name": "Micro", "price": {
            "description": "$0.01344/hour", "type": "usage", "interval": "hourly", "amount": 0.01344}}}]
    fake_api.disk["attributes"]["size_gb"] = 8
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    path = tmp_path / "projects.yaml"
    path.write_text(
        "organizations:\n  - {slug: acme, plan: pro, monthly_budget_usd: 30}\n"
        f"projects:\n  - {{name: app, organization: acme, db_url_env: APP_DB_URL, ref: {S.REF}, "
        "compute_size: micro}\n"
    )
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(path))
    monkeypatch.delenv("AIMATRIX_PRICE_BOOK_OVERRIDES", raising=False)
    return path


def _resources(warehouse, api_resource):
    return {"warehouse": warehouse, "source": SourcePostgresResource(), "supabase_api": api_resource,
            "settings": SettingsResource()}


def _snapshot(warehouse):
    """Every row the cost assets own, minus the run timestamps (computed_at / extracted_at)."""
    out = {}
    with warehouse.reader() as conn:
        for table, order in (("raw.usage_daily", "project, usage_date, metric, dimension"),
                             ("cost.cost_breakdown_daily", "organization, date, project nulls first, line_item"),
                             ("cost.monthly_cost_report", "organization, month, line_item"),
                             ("cost.monthly_project_cost", "organization, month, project, line_item")):
            out[table] = conn.execute(
                f"select * exclude (computed_at) from {table} order by {order}"
                if table != "raw.usage_daily" else
                f"select * exclude (extracted_at) from {table} order by {order}").fetchall()
    return out


def test_three_month_backfill_in_one_run_rerun_is_identical(fleet, warehouse, fake_api, api_resource):
    for i in range(92):  # March-May 2026: 3 GB egress a day, small compute
        day = dt.date(2026, 3, 1) + dt.timedelta(days=i)
        fake_api.add_daily(S.REF, day, "EGRESS", 3.0)
        fake_api.add_daily(S.REF, day, "COMPUTE_HOURS_MICRO", 24)
    resources = _resources(warehouse, api_resource)

    def backfill():
        r1 = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            tags={RANGE_START: "2026-03-01", RANGE_END: "2026-05-31"})
        r2 = dg.materialize([monthly_cost_report, monthly_budget_not_exceeded], resources=resources,
                            selection=[monthly_cost_report.key],
                            tags={RANGE_START: "2026-03-01", RANGE_END: "2026-05-01"})
        assert r1.success and r2.success
        return r1, r2

    r1, _ = backfill()
    # one run, one usage-API call for the whole range
    assert fake_api.count("/platform/organizations/acme/usage/daily") == 1
    first = _snapshot(warehouse)
    backfill()
    assert _snapshot(warehouse) == first

    with warehouse.reader() as conn:
        days = conn.execute("select count(distinct date) from cost.cost_breakdown_daily").fetchone()[0]
        months = conn.execute(
            "select strftime(month, '%Y-%m'), round(sum(cost_usd), 2) from cost.monthly_cost_report "
            "group by 1 order by 1").fetchall()
        mau = conn.execute("select strftime(month, '%Y-%m'), usage from cost.monthly_cost_report "
                           "where line_item = 'mau' order by 1").fetchall()
    assert days == 92
    # compute (micro 0.01344/h) is covered by the credit; egress 3 GB/day stays below 250 GB; MAU
    # far below quota: every month costs the $25 plan fee
    assert months == [("2026-03", 25.0), ("2026-04", 25.0), ("2026-05", 25.0)]
    # MAU rebuilt from the audit log: March u1,u2,u3,u5; April u1,u4; May u5
    assert mau == [("2026-03", 4.0), ("2026-04", 2.0), ("2026-05", 1.0)]
    mat = r1.asset_materializations_for_node("raw__usage_daily")[0]
    assert mat.metadata["dagster/row_count"].value > 0


def test_day_without_api_access_still_materializes_with_unknown_items(fleet, warehouse, fake_api,
                                                                      api_resource, monkeypatch):
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN")
    resources = _resources(warehouse, api_resource)
    result = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            partition_key="2026-03-02")
    assert result.success
    with warehouse.reader() as conn:
        rows = dict(conn.execute(
            "select line_item, status from cost.cost_breakdown_daily where project = 'app'").fetchall())
        costs = dict(conn.execute(
            "select line_item, cost_usd from cost.cost_breakdown_daily where project = 'app'").fetchall())
    assert rows["egress"] == "unknown" and costs["egress"] is None
    assert rows["disk_gb_hours_gp3"] == "unknown" and rows["addon_all"] == "unknown"
    assert rows["mau"] == "known" and rows["compute_hours_micro"] == "known"
    meta = result.asset_materializations_for_node("raw__usage_daily")[0].metadata
    assert meta["unknown_rows"].value > 0


def test_401_fails_the_usage_asset_with_a_configuration_error(fleet, warehouse, fake_api, api_resource,
                                                              monkeypatch):
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_revoked_token")
    result = dg.materialize([usage_daily], resources=_resources(warehouse, api_resource),
                            partition_key="2026-03-02", raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("raw__usage_daily")
    text = str(failure.user_failure_data.description if failure.user_failure_data else failure.error)
    assert "configuration error" in text and "401" in text and "sbp_revoked_token" not in text


def test_malformed_api_body_fails_the_usage_asset_and_writes_nothing(fleet, warehouse, fake_api, api_resource):
    fake_api.script("/platform/organizations/acme/usage/daily", (200, {}, json.dumps({"usage": []})))
    result = dg.materialize([usage_daily], resources=_resources(warehouse, api_resource),
                            partition_key="2026-03-02", raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("raw__usage_daily")
    assert "malformed" in str(failure.user_failure_data.description)
    with warehouse.transaction() as conn:
        assert conn.execute("select count(*) from raw.usage_daily").fetchone()[0] == 0


@pytest.mark.fails_check("cost/monthly_cost_report:monthly_budget_not_exceeded")
def test_budget_check_fails_when_the_month_exceeds_budget(fleet, warehouse, fake_api, api_resource):
    """April 2026 (closed, so projected = cost): 12 GB egress a day = 360 GB -> 110 GB over at $0.09
    = $9.90, plus the $25 fee = $34.90 > the org's $30 budget (compute is covered by the credit)."""
    april = [dt.date(2026, 4, 1) + dt.timedelta(days=i) for i in range(30)]
    for day in april:
        fake_api.add_daily(S.REF, day, "EGRESS", 12.0)
    resources = _resources(warehouse, api_resource)
    assert dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                          tags={RANGE_START: "2026-04-01", RANGE_END: "2026-04-30"}).success
    result = dg.materialize([monthly_cost_report, monthly_budget_not_exceeded], resources=resources,
                            partition_key="2026-04-01")
    evals = result.get_asset_check_evaluations()
    assert [e.check_name for e in evals] == [BUDGET_CHECK_NAME]
    assert evals[0].passed is False
    over = evals[0].metadata["over_budget"].value
    assert over == [{"scope": "organization", "name": "acme", "budget_usd": 30.0, "projected_cost_usd": 34.9}]


def test_budget_check_passes_within_budget(fleet, warehouse, fake_api, api_resource):
    april = [dt.date(2026, 4, 1) + dt.timedelta(days=i) for i in range(30)]
    for day in april:
        fake_api.add_daily(S.REF, day, "EGRESS", 10.0)  # 300 GB -> $4.50 + $25 = $29.50 <= $30
    resources = _resources(warehouse, api_resource)
    assert dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                          tags={RANGE_START: "2026-04-01", RANGE_END: "2026-04-30"}).success
    result = dg.materialize([monthly_cost_report, monthly_budget_not_exceeded], resources=resources,
                            partition_key="2026-04-01")
    assert result.get_asset_check_evaluations()[0].passed is True


def test_query_cost_attributes_compute_by_execution_time(fleet, warehouse, fake_api, api_resource):
    day = dt.date(2026, 3, 2)
    resources = _resources(warehouse, api_resource)
    assert dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                          partition_key=day.isoformat()).success
    with warehouse.transaction() as conn:
        conn.execute(
            "insert into analytics.pg_stat_statements_deltas (project, snapshot_at, dbid, queryid, userid, "
            "toplevel, fingerprint, query_preview, calls, total_exec_time_ms) values "
            "('app', '2026-03-02 10:00:00+00', 1, 11, 10, true, 'fa', 'select $1', 100, 300.0),"
            "('app', '2026-03-02 11:00:00+00', 1, 11, 10, true, 'fa', 'select $1', 50, 300.0),"
            "('app', '2026-03-02 11:00:00+00', 1, 22, 10, true, 'fb', 'update t set x = $1', 5, 400.0),"
            "('app', '2026-03-03 00:10:00+00', 1, 22, 10, true, 'fb', 'update t set x = $1', 5, 9999.0)")
    assert dg.materialize([query_cost_daily], resources=resources, partition_key=day.isoformat()).success
    with warehouse.reader() as conn:
        rows = conn.execute("select fingerprint, calls, share_of_exec_time, compute_cost_usd, monthly_cost_usd "
                            "from cost.query_cost_daily order by fingerprint").fetchall()
    # compute that day: billing/addons says Micro -> 24 h x $0.01344 = $0.32256; fa 600/1000 ms,
    # fb 400/1000 (its 9,999 ms the next day belong to March 3)
    assert [(r[0], r[1]) for r in rows] == [("fa", 150), ("fb", 5)]
    assert [round(r[2], 6) for r in rows] == [0.6, 0.4]
    assert [round(r[3], 6) for r in rows] == [round(0.32256 * 0.6, 6), round(0.32256 * 0.4, 6)]
    assert round(rows[0][4], 6) == round(0.32256 * 0.6 * 31, 6)
