"""The cost domain loads in the code location with its contract: keys, groups, partitions, policies."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from aimatrix_pipeline.cost import schedules
from aimatrix_pipeline.cost.definitions import defs as cost_defs
from aimatrix_pipeline.cost.partitions import DAILY_PARTITIONS, MONTHLY_PARTITIONS
from aimatrix_pipeline.resources import shared_resources


def test_assets_have_the_agreed_keys_groups_and_single_run_backfills():
    defs = dg.Definitions.merge(cost_defs, dg.Definitions(resources=shared_resources()))
    defs.resolve_all_job_defs()
    graph = defs.resolve_asset_graph()
    expect = {
        ("raw", "usage_daily"): ("extract", DAILY_PARTITIONS),
        ("cost", "price_book"): ("cost", None),
        ("cost", "cost_breakdown_daily"): ("cost", DAILY_PARTITIONS),
        ("cost", "monthly_cost_report"): ("cost", MONTHLY_PARTITIONS),
        ("cost", "query_cost_daily"): ("cost", DAILY_PARTITIONS),
    }
    for path, (group, parts) in expect.items():
        node = graph.get(dg.AssetKey(list(path)))
        assert node.group_name == group
        assert node.partitions_def == parts
        assert node.description and node.kinds
        if parts is not None:
            assert node.backfill_policy == dg.BackfillPolicy.single_run()
    check_keys = {k.name for k in graph.asset_check_keys}
    assert "monthly_budget_not_exceeded" in check_keys


def test_schedules_request_yesterday_and_the_running_month():
    when = dt.datetime(2026, 3, 1, 2, 15, tzinfo=dt.UTC)
    ctx = dg.build_schedule_context(scheduled_execution_time=when)
    assert schedules.cost_daily_schedule(ctx).partition_key == "2026-02-28"
    ctx = dg.build_schedule_context(scheduled_execution_time=when.replace(minute=45))
    assert schedules.cost_report_schedule(ctx).partition_key == "2026-02-01"
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 9, 2, 45, tzinfo=dt.UTC))
    assert schedules.cost_report_schedule(ctx).partition_key == "2026-03-01"
