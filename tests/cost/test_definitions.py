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


def test_the_usage_extract_runs_apart_without_the_warehouse_pool_and_its_days_are_priced_after():
    """dagster.yaml enforces pools per run: a pooled step anywhere in the extract's run would hold
    the warehouse slot while the extract waits on Supabase's APIs. The schedule launches the
    extract alone; the sensor prices exactly the days of each successful extract run."""
    from aimatrix_pipeline.cost.sensors import RANGE_END_TAG, RANGE_START_TAG, price_extracted_usage
    from aimatrix_pipeline.resources import WAREHOUSE_POOL

    defs = dg.Definitions.merge(cost_defs, dg.Definitions(resources=shared_resources()))
    repo = defs.get_repository_def()
    extract, pricing = repo.get_job("usage_daily"), repo.get_job("cost_daily")
    assert {n.name: n.definition.pool for n in extract.graph.nodes} == {"raw__usage_daily": None}
    assert {n.name: n.definition.pool for n in pricing.graph.nodes} == {
        "cost__price_book": WAREHOUSE_POOL, "cost__cost_breakdown_daily": WAREHOUSE_POOL,
        "cost__query_cost_daily": WAREHOUSE_POOL}
    assert repo.get_schedule_def("price_yesterdays_usage").job_name == "usage_daily"
    sensor = repo.get_sensor_def("price_extracted_usage")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert [t.job_name for t in sensor.targets] == ["cost_daily"]

    success = dg.DagsterEvent(event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name="usage_daily")
    with dg.DagsterInstance.ephemeral() as instance:  # in memory: no migration history to load
        def request(tags):
            run = instance.create_run_for_job(extract, tags=tags)
            return run, price_extracted_usage(dg.build_run_status_sensor_context(
                sensor_name="price_extracted_usage", dagster_event=success, dagster_instance=instance,
                dagster_run=run, repository_def=repo))

        run, day = request({"dagster/partition": "2026-03-02"})
        assert (day.partition_key, day.run_key) == ("2026-03-02", f"priced_after@{run.run_id}")
        run, days = request({RANGE_START_TAG: "2026-03-01", RANGE_END_TAG: "2026-03-31"})
        assert days.partition_key is None and days.run_key == f"priced_after@{run.run_id}"
        assert (days.tags[RANGE_START_TAG], days.tags[RANGE_END_TAG]) == ("2026-03-01", "2026-03-31")
        _, nothing = request({})
        assert isinstance(nothing, dg.SkipReason) and "no day or range" in nothing.skip_message


def test_every_tick_of_the_report_schedule_rebuilds_the_report():
    """An operator's hourly AIMATRIX_COST_REPORT_CRON rebuilds (and judges the budget) every hour:
    ticks of one day do not share a run key, which the daemon would skip as a duplicate."""
    ticks = [dt.datetime(2026, 3, 9, h, 45, tzinfo=dt.UTC) for h in (2, 3)]
    requests = [schedules.cost_report_schedule(dg.build_schedule_context(scheduled_execution_time=t)) for t in ticks]
    assert {r.partition_key for r in requests} == {"2026-03-01"}
    assert requests[0].run_key != requests[1].run_key
