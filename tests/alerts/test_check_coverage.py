"""Every asset check runs in every run that materializes its asset, whatever launches the run.

Generic over the real code location: for every job, and for the runs the automation sensor
`derive_analytics_when_raw_data_lands` would launch, the check keys of each materialized asset are
compared with the execution plan of that run. A check added the wrong way (a separate check on an
asset the automation sensor materializes, a job that selects an asset but not its checks) fails
here; `test_the_comparison_catches_a_check_left_out_of_automation_runs` shows it does.

The automation run plan is computed the way the daemon computes it: evaluate the sensor's
conditions twice (a baseline tick, then a tick after every upstream asset materialized), turn the
requested subsets into run requests with Dagster's own `build_run_requests`, subset the implicit
asset job with each request's asset and check selection (what the code server does), and read the
entity keys off the execution plan snapshot (what the daemon verifies before it creates a run).
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.submit_asset_runs import _get_execution_plan_entity_keys
from dagster._core.snap import snapshot_from_execution_plan

AUTOMATION_SENSOR = "derive_analytics_when_raw_data_lands"


def planned_entities(job: dg.JobDefinition) -> set:
    """Asset and check keys the job's execution plan executes."""
    plan = create_execution_plan(job)
    return set(_get_execution_plan_entity_keys(snapshot_from_execution_plan(plan, job.get_job_snapshot_id())))


def checks_left_out(repo, entities: set) -> set[str]:
    """Checks on an asset the run materializes that the run does not execute."""
    graph = repo.asset_graph
    missing = set()
    for key in entities:
        if isinstance(key, dg.AssetKey):
            missing |= {c for c in graph.get_check_keys_for_assets({key}) if c not in entities}
    return {f"{c.asset_key.to_user_string()}:{c.name}" for c in missing}


def automation_run_plans(defs: dg.Definitions, sensor_name: str) -> tuple[set, list[set]]:
    """(assets the sensor requested, the planned entity keys of each run it would launch)."""
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def(sensor_name)
    graph = repo.asset_graph
    targeted = sensor.asset_selection.resolve(graph)
    parents = (dg.AssetSelection.assets(*targeted).upstream(depth=1)
               - dg.AssetSelection.assets(*targeted)).resolve(graph)
    # Dagster's in-memory instance: the same event-log code as a file's, without loading the
    # alembic migration history for each database it would create
    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  asset_selection=sensor.asset_selection)
        for key in parents:  # new data lands in every parent (the newest partition of each)
            node = graph.get(key)
            partition = node.partitions_def.get_partition_keys()[-1] if node.partitions_def else None
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor,
                                                   asset_selection=sensor.asset_selection)
        subsets = list(result._requested_subsets)
    requested = {s.key for s in subsets if isinstance(s.key, dg.AssetKey)}
    implicit = repo.get_implicit_global_asset_job_def()
    plans = []
    for rr in build_run_requests(subsets, graph, run_tags={}, emit_backfills=False):
        job = implicit.get_subset(
            asset_selection=set(rr.asset_selection or []),
            asset_check_selection=None if rr.asset_check_keys is None else set(rr.asset_check_keys))
        plans.append(planned_entities(job))
    return requested, plans


def test_every_job_executes_every_check_of_the_assets_it_materializes():
    from aimatrix_pipeline.definitions import defs

    repo = defs.get_repository_def()
    jobs = list(repo.get_all_jobs())
    assert {"analytics_job", "extract_statistics", "__ASSET_JOB"} <= {j.name for j in jobs}
    left_out = {job.name: checks_left_out(repo, planned_entities(job)) for job in jobs}
    assert {name: sorted(c) for name, c in left_out.items() if c} == {}
    # the comparison is not vacuous: the rule checks are in the plans
    assert "analytics__database_health" in {s.name for s in repo.get_job("analytics_job").graph.nodes}
    assert {dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), "connection_utilisation_high"),
            dg.AssetCheckKey(dg.AssetKey(["raw", "activity"]), "long_running_query")} <= (
        planned_entities(repo.get_job("analytics_job")) | planned_entities(repo.get_job("extract_statistics")))


def test_the_automation_sensor_runs_execute_every_check_of_the_assets_they_materialize():
    from aimatrix_pipeline.definitions import defs

    repo = defs.get_repository_def()
    requested, plans = automation_run_plans(defs, AUTOMATION_SENSOR)
    graph = repo.asset_graph
    automated = {k for k in repo.get_sensor_def(AUTOMATION_SENSOR).asset_selection.resolve(graph)
                 if graph.get(k).automation_condition is not None and graph.get(k).partitions_def is not None}
    assert automated and automated <= requested, "the sensor should request every automated analytics asset"
    assert plans
    assert sorted(set().union(*(checks_left_out(repo, p) for p in plans))) == []
    executed = set().union(*plans)
    every_rule_check = {c for c in graph.asset_check_keys if graph.get(c).key.asset_key in requested}
    assert dg.AssetCheckKey(dg.AssetKey(["analytics", "database_health"]), "cache_hit_ratio_low") in executed
    assert every_rule_check <= executed


def test_the_comparison_catches_a_check_left_out_of_automation_runs():
    """A separate check on an asset that also has its own check spec: the way the rule checks on
    analytics assets used to be built. Its automation runs carry only the own spec."""
    parts = dg.StaticPartitionsDefinition(["p1"])

    @dg.asset(partitions_def=parts)
    def raw_thing():
        return None

    @dg.asset(deps=[raw_thing], partitions_def=parts, automation_condition=dg.AutomationCondition.eager(),
              check_specs=[dg.AssetCheckSpec("own", asset="derived")])
    def derived():
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="own", passed=True)])

    @dg.asset(deps=[raw_thing], partitions_def=parts, automation_condition=dg.AutomationCondition.eager())
    def other():
        return None

    @dg.asset_check(asset=other, blocking=False)
    def separate_on_other():
        return dg.AssetCheckResult(passed=True)

    sensor = dg.AutomationConditionSensorDefinition(
        "automate", target=dg.AssetSelection.assets(derived, other), default_status=dg.DefaultSensorStatus.RUNNING)
    defs = dg.Definitions(assets=[raw_thing, derived, other], asset_checks=[separate_on_other], sensors=[sensor])
    requested, plans = automation_run_plans(defs, "automate")
    assert requested == {dg.AssetKey("derived"), dg.AssetKey("other")}
    repo = defs.get_repository_def()
    assert set().union(*(checks_left_out(repo, p) for p in plans)) == {"other:separate_on_other"}
