"""Analytics runs that carry many projects (analytics/assets.py, shared/batch.py).

A range run of the analytics job derives every project of the range in one run: each healthy
project is materialized as its own partition, with its own metadata and check evaluations, and a
project whose derivation raises (a damaged raw row) fails its own partition only. An extract run
derives its analytics in the same run, and the automation sensor then asks for nothing. And the
automation path (what follows a raw materialization that did not derive, a backfill or a manual
run): after one such run lands a shard of projects, the automation sensor's tick asks for ONE
backfill, and the backfill daemon launches ONE run over the range, not a run per project. Real DuckDB warehouse, real Dagster instance and backfill daemon iteration.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from tests.analytics import batch_location as location

RANGE = {"dagster/asset_partition_range_start": "p1", "dagster/asset_partition_range_end": "p4"}
DATABASE_HEALTH = dg.AssetKey(["analytics", "database_health"])
INT64_MAX = 2**63 - 1


def _snapshot(conn, project: str, at: datetime, hit: int, read: int, idx_hit: int = 50, idx_read: int = 5) -> None:
    conn.execute(
        "insert into raw.database_stats (project, snapshot_at, datname, xact_commit, xact_rollback, blks_hit, "
        "blks_read, heap_blks_hit, heap_blks_read, idx_blks_hit, idx_blks_read, max_connections, conn_total) "
        "values (?, ?, 'postgres', 10, 0, ?, ?, ?, ?, ?, ?, 100, 5)",
        [project, at, hit, read, hit, read, idx_hit, idx_read])


@pytest.fixture
def raw_rows(warehouse):
    """p1 and p2 have two statistics snapshots and an error event; p3's newest snapshot is
    damaged (index block counters at the top of BIGINT: deriving its health overflows); p4 has
    nothing yet."""
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        for project, ratio_hit in (("p1", 990), ("p2", 400)):
            _snapshot(conn, project, now - timedelta(minutes=10), 100, 10)
            _snapshot(conn, project, now - timedelta(minutes=5), 100 + ratio_hit, 10 + 1000 - ratio_hit)
            conn.execute("insert into raw.error_events (project, id, name, severity, message, created_at) "
                         "values (?, uuid(), 'TypeError', 'error', 'x', ?)", [project, now - timedelta(minutes=1)])
        _snapshot(conn, "p3", now - timedelta(minutes=10), 100, 10)
        _snapshot(conn, "p3", now - timedelta(minutes=5), 200, 20, idx_hit=INT64_MAX, idx_read=1)
    return now


def _by_partition(events) -> dict:
    return {e.partition: e for e in events}


def test_a_range_run_materializes_each_healthy_project_and_fails_only_the_broken_one(warehouse, raw_rows):
    defs = location.definitions(warehouse.path)
    job = defs.resolve_job_def("analytics_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, tags=RANGE, raise_on_error=False)
        assert not result.success
        mats: dict = {}
        for event in result.get_asset_materialization_events():
            m = event.materialization
            mats.setdefault(m.asset_key, {})[m.partition] = {k: v.value for k, v in m.metadata.items()}

        # the broken project's health failed alone: the others are stored, each with its own metadata
        health = mats[DATABASE_HEALTH]
        assert sorted(health) == ["p1", "p2", "p4"]
        assert {p: (m["project"], m["dagster/row_count"]) for p, m in health.items()} == \
            {"p1": ("p1", 2), "p2": ("p2", 2), "p4": ("p4", 0)}
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failure.step_key == "analytics__database_health"
        text = failure.step_failure_data.user_failure_data.description
        assert text.startswith("1 of 4 project(s) failed, the others were materialized: p3: ")
        assert "Overflow" in text and "p1:" not in text and "p2:" not in text
        # p3's transaction was rolled back; the healthy projects' rows are there
        with warehouse.reader() as conn:
            rows = dict(conn.execute("select project, count(*) from analytics.database_health group by 1").fetchall())
        assert rows == {"p1": 2, "p2": 2}

        # the assets that do not read database_health derived all four projects in the same run
        for name in ("table_health", "error_stats", "embedding_stats", "pg_stat_statements_deltas"):
            by_project = mats[dg.AssetKey(["analytics", name])]
            assert {p: m["project"] for p, m in by_project.items()} == {p: p for p in location.PROJECTS}, name
        errors = {p: m["dagster/row_count"] for p, m in mats[dg.AssetKey(["analytics", "error_stats"])].items()}
        assert errors["p1"] > errors["p4"]  # p1's error event has rows of its own (by type, by severity)
        # downstream of the failed step, Dagster runs nothing in this run (the automation sensor's
        # next tick derives the healthy projects' recommendations from their new health rows)
        assert dg.AssetKey(["analytics", "optimization_recommendations"]) not in mats

        evaluations = result.get_asset_check_evaluations()
        # the rule check on the health table: one evaluation per healthy project, judged on its own rows
        cache = _by_partition(e for e in evaluations if e.check_name == "cache_hit_ratio_low")
        assert sorted(cache) == ["p1", "p2", "p4"]
        assert cache["p1"].passed and not cache["p2"].passed
        assert cache["p2"].metadata["project"].value == "p2"
        assert cache["p4"].passed and cache["p4"].metadata["no_data"].value is True
        # a data-quality check: its own evaluation under every project's partition
        deltas = _by_partition(e for e in evaluations if e.check_name == "deltas_never_negative")
        assert sorted(deltas) == location.PROJECTS and all(e.passed for e in deltas.values())
        assert {p: e.metadata["project"].value for p, e in deltas.items()} == {p: p for p in location.PROJECTS}

        # what the UI shows per partition: materialized for the healthy ones, failed for p3
        status = instance.get_status_by_partition(DATABASE_HEALTH, location.PROJECTS, location.PARTITIONS)
        assert {p: s.value for p, s in status.items()} == \
            {"p1": "MATERIALIZED", "p2": "MATERIALIZED", "p3": "FAILED", "p4": "MATERIALIZED"}


def test_a_one_partition_run_behaves_as_before(warehouse, raw_rows):
    defs = location.definitions(warehouse.path)
    job = defs.resolve_job_def("analytics_job")
    with dg.instance_for_test() as instance:
        ok = job.execute_in_process(instance=instance, partition_key="p1")
        assert ok.success
        (health,) = [e.materialization for e in ok.get_asset_materialization_events()
                     if e.materialization.asset_key == DATABASE_HEALTH]
        assert health.partition == "p1" and health.metadata["dagster/row_count"].value == 2
        assert {e.partition for e in ok.get_asset_check_evaluations()} == {"p1"}
        # the broken project alone fails with the error's own text, as a one-project run always did
        broken = job.execute_in_process(instance=instance, partition_key="p3", raise_on_error=False)
        assert not broken.success
        (failure,) = [e for e in broken.all_events if e.event_type_value == "STEP_FAILURE"]
        text = failure.step_failure_data.user_failure_data.description
        assert "Overflow" in text and "project(s) failed" not in text


@pytest.fixture
def queued_instance():
    """A real instance whose runs stay queued (no run queue daemon here): what a tick launches is
    what the test reads back."""
    overrides = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


def _tick(defs, instance, cursor, evaluation_id: int):
    """One evaluation of the real automation sensor, as the asset daemon does it."""
    from dagster._core.definitions.automation_tick_evaluation_context import AutomationTickEvaluationContext

    sensor = location.DERIVE_ANALYTICS_SENSOR
    requests, cursor, _ = AutomationTickEvaluationContext(
        evaluation_id=evaluation_id, instance=instance, asset_graph=defs.resolve_asset_graph(),
        cursor=cursor, materialize_run_tags={}, observe_run_tags={}, auto_observe_asset_keys=set(),
        asset_selection=sensor.asset_selection, logger=logging.getLogger("test_automation_tick"),
        emit_backfills=sensor.emit_backfills,
    ).evaluate()
    return requests, cursor


def test_a_landed_extract_shard_gets_one_analytics_run_over_its_range(warehouse, queued_instance, monkeypatch):
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.backfill import execute_backfill_iteration

    instance = queued_instance
    defs = location.definitions(warehouse.path)
    assert location.DERIVE_ANALYTICS_SENSOR.emit_backfills  # the sensor as the code location defines it
    requests, cursor = _tick(defs, instance, AssetDaemonCursor.empty(), 1)
    assert requests == []  # nothing extracted yet: nothing to derive

    # one extract run over the shard p1..p4 (a range run, as the batched schedules request)
    extracted = defs.resolve_job_def("extract_shard_job").execute_in_process(instance=instance, tags=RANGE)
    assert extracted.success

    requests, cursor = _tick(defs, instance, cursor, 2)
    (request,) = requests  # ONE request for four projects of eleven assets
    assert request.requires_backfill_daemon()
    subset = request.asset_graph_subset
    analytics_keys = {a.key for a in location.ASSETS}
    assert subset.asset_keys == analytics_keys
    for key in analytics_keys:
        assert set(subset.get_partitions_subset(key).get_partition_keys()) == set(location.PROJECTS), key

    # the backfill the sensor emits, run through the backfill daemon's own iteration
    instance.add_backfill(PartitionBackfill.from_asset_graph_subset(
        backfill_id="analyticsbatch", dynamic_partitions_store=instance, backfill_timestamp=datetime.now(UTC).timestamp(),
        asset_graph_subset=subset, tags=dict(request.tags), title=None, description=None, run_config=None))
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    target = ModuleTarget(module_name="tests.analytics.batch_location", attribute="defs", working_directory=None,
                          location_name="analytics_batch")
    with create_test_daemon_workspace_context(target, instance) as workspace:
        for _ in range(2):  # a second iteration launches nothing more while the run waits in the queue
            list(execute_backfill_iteration(workspace, logging.getLogger("test_backfill_daemon")))
    analytics_runs = [r for r in instance.get_runs() if r.tags.get("dagster/backfill") == "analyticsbatch"]
    (run,) = analytics_runs  # one run, not one per project
    assert run.tags["dagster/asset_partition_range_start"] == "p1"
    assert run.tags["dagster/asset_partition_range_end"] == "p4"
    assert set(run.asset_selection) == analytics_keys  # every analytics asset, in dependency order in one run


def test_what_a_broken_project_held_up_in_a_range_run_is_derived_on_the_next_tick(warehouse, raw_rows):
    """A failed step skips its downstream steps for every project of the run. `eager()` alone would
    never ask for them again (their parents were updated by a run that targeted them); the analytics
    condition does, on the next tick, for the healthy projects, and asks for nothing the run did
    materialize."""
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

    defs = location.definitions(warehouse.path)
    recommendations = dg.AssetKey(["analytics", "optimization_recommendations"])
    with dg.instance_for_test() as instance:
        _, cursor = _tick(defs, instance, AssetDaemonCursor.empty(), 1)
        assert defs.resolve_job_def("extract_shard_job").execute_in_process(instance=instance, tags=RANGE).success
        (request,), cursor = _tick(defs, instance, cursor, 2)
        assert request.asset_graph_subset.asset_keys == {a.key for a in location.ASSETS}
        # the run the backfill launches: the whole range, every analytics asset; p3's health fails
        run = defs.resolve_job_def("analytics_job").execute_in_process(
            instance=instance, tags={**RANGE, **request.tags}, raise_on_error=False)
        assert not run.success
        assert recommendations not in {e.materialization.asset_key for e in run.get_asset_materialization_events()}

        (again,), cursor = _tick(defs, instance, cursor, 3)
        subset = again.asset_graph_subset
        assert subset.asset_keys == {recommendations}
        # p3 has no health rows at all yet: it waits for its own (a missing parent, as with eager())
        assert sorted(subset.get_partitions_subset(recommendations).get_partition_keys()) == ["p1", "p2", "p4"]
        rerun = defs.resolve_job_def("analytics_job").execute_in_process(
            instance=instance, asset_selection=[recommendations], tags={
                "dagster/asset_partition_range_start": "p1", "dagster/asset_partition_range_end": "p2",
                **again.tags})
        assert rerun.success
        # asked for once: nothing more on the next ticks
        later, cursor = _tick(defs, instance, cursor, 4)
        assert later == []
        assert _tick(defs, instance, cursor, 5)[0] == []


def test_a_healthy_range_run_is_not_asked_for_again(warehouse, raw_rows):
    """Every asset of the run materialized every project: the next ticks ask for nothing (the
    held-up trigger never doubles a run in which the child was derived with its parents)."""
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

    defs = location.definitions(warehouse.path)
    healthy = {"dagster/asset_partition_range_start": "p1", "dagster/asset_partition_range_end": "p2"}
    with dg.instance_for_test() as instance:
        _, cursor = _tick(defs, instance, AssetDaemonCursor.empty(), 1)
        assert defs.resolve_job_def("extract_shard_job").execute_in_process(instance=instance, tags=healthy).success
        (request,), cursor = _tick(defs, instance, cursor, 2)
        assert all(sorted(request.asset_graph_subset.get_partitions_subset(a.key).get_partition_keys()) == ["p1", "p2"]
                   for a in location.ASSETS)
        run = defs.resolve_job_def("analytics_job").execute_in_process(
            instance=instance, tags={**healthy, **request.tags},
            asset_selection=sorted(request.asset_graph_subset.asset_keys, key=str))
        assert run.success
        requests, cursor = _tick(defs, instance, cursor, 3)
        assert requests == []
        assert _tick(defs, instance, cursor, 4)[0] == []


def test_an_extract_run_derives_its_projects_analytics_in_the_same_run_and_nothing_is_asked_after(warehouse, raw_rows):
    """The extract jobs' shape (`derived_in_extract_runs`): the raw step, then every analytics asset
    it feeds, for the same range; each project its own partition. The automation sensor's next
    ticks ask for nothing: no second process, no sensor interval before the rules on analytics
    tables are judged."""
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

    defs = location.definitions(warehouse.path)
    healthy = {"dagster/asset_partition_range_start": "p1", "dagster/asset_partition_range_end": "p2"}
    job = defs.resolve_job_def("extract_and_derive_job")
    assert set(job.asset_layer.selected_asset_keys) == {a.key for a in location.ASSETS} | set(location.RAW_KEYS)
    with dg.instance_for_test() as instance:
        _, cursor = _tick(defs, instance, AssetDaemonCursor.empty(), 1)
        run = job.execute_in_process(instance=instance, tags=healthy)
        assert run.success
        mats: dict = {}
        for event in run.get_asset_materialization_events():
            m = event.materialization
            mats.setdefault(m.asset_key, {})[m.partition] = m.metadata.get("project")
        for asset in location.ASSETS:
            assert {p: getattr(v, "value", v) for p, v in mats[asset.key].items()} == {"p1": "p1", "p2": "p2"}, asset.key
        # the rule checks of the analytics tables were judged in that run, per project
        cache = _by_partition(e for e in run.get_asset_check_evaluations() if e.check_name == "cache_hit_ratio_low")
        assert sorted(cache) == ["p1", "p2"] and cache["p1"].passed and not cache["p2"].passed
        with warehouse.reader() as conn:
            rows = dict(conn.execute("select project, count(*) from analytics.database_health group by 1").fetchall())
        assert rows == {"p1": 2, "p2": 2}
        requests, cursor = _tick(defs, instance, cursor, 2)
        assert requests == []
        assert _tick(defs, instance, cursor, 3)[0] == []
