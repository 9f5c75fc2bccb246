"""The shape of a run over a range of project partitions (aimatrix_pipeline/shared/batch.py), on a
real Dagster instance: what is stored per partition when every project succeeds, when one fails,
when one passes its deadline, and what downstream automation and the UI's partition status see.

The assets here are small stand-ins with their own partitions (the real ones are partitioned by the
projects file at import; tests/fleet/test_batch_runs.py runs them against real sources).
"""

import threading

import dagster as dg
import pytest
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from aimatrix_pipeline.shared.batch import ProjectResult, cancel_on_deadline, materialize, run_projects

PARTITIONS = dg.StaticPartitionsDefinition(["p1", "p2", "p3"])
X = dg.AssetKey(["raw", "x"])
Y = dg.AssetKey(["raw", "y"])
OWN_CHECK = dg.AssetCheckSpec("own_check", asset=X, partitions_def=PARTITIONS)


class SourceDown(RuntimeError):
    """Stands for an expected source error."""


class Plan:
    """What each project's work does in the next run: 'ok', 'fail', 'bug' or 'hang'."""

    def __init__(self):
        self.behaviour: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.cancelled: list[str] = []
        self.deadline_s = 30.0


PLAN = Plan()


def _work(asset: str):
    def work(project: str, log) -> ProjectResult:
        PLAN.calls.append((asset, project))
        what = PLAN.behaviour.get(project, "ok")
        if what == "fail":
            raise SourceDown(f"cannot connect to {project}")
        if what == "bug":
            raise KeyError("no such key")
        if what == "hang":
            released = threading.Event()

            def cancel():
                PLAN.cancelled.append(project)
                released.set()

            with cancel_on_deadline(cancel):
                released.wait(60)
            raise SourceDown(f"{project}: query cancelled")
        log.summary(f"{asset}: 1 row")
        return ProjectResult({"project": project, "asset": asset},
                             [dg.AssetCheckResult(check_name="own_check", passed=project != "p3",
                                                  metadata={"project": project})] if asset == "x" else [])
    return work


@dg.asset(key=X, partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run(), check_specs=[OWN_CHECK])
def x(context: dg.AssetExecutionContext):
    outcomes = run_projects(context, _work("x"), (SourceDown,), workers=2, deadline_s=PLAN.deadline_s,
                            give_up_on=(SourceDown,))
    yield from materialize(context, outcomes)


@dg.asset(key=Y, partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def y(context: dg.AssetExecutionContext):
    outcomes = run_projects(context, _work("y"), (SourceDown,), workers=2, deadline_s=PLAN.deadline_s)
    yield from materialize(context, outcomes)


@dg.asset(partitions_def=PARTITIONS, deps=[X], automation_condition=dg.AutomationCondition.eager())
def downstream(context: dg.AssetExecutionContext) -> None:
    pass


JOB = dg.define_asset_job("batch", selection=dg.AssetSelection.assets(X, Y), partitions_def=PARTITIONS)
DEFS = dg.Definitions(assets=[x, y, downstream], jobs=[JOB])
RANGE = {"dagster/asset_partition_range_start": "p1", "dagster/asset_partition_range_end": "p3"}


@pytest.fixture
def instance():
    PLAN.behaviour, PLAN.calls, PLAN.cancelled, PLAN.deadline_s = {}, [], [], 30.0
    with dg.instance_for_test() as inst:
        yield inst


def _run(instance, **kwargs):
    return DEFS.get_job_def("batch").execute_in_process(instance=instance, raise_on_error=False, **kwargs)


def _materializations(instance, key) -> dict[str, dict]:
    out = {}
    for record in instance.fetch_materializations(key, limit=100).records:
        m = record.asset_materialization
        out[m.partition] = {k: v.value for k, v in m.metadata.items()}
    return out


def _failed_partitions(instance, key) -> set[str]:
    status = get_and_update_asset_status_cache_value(instance, key, PARTITIONS)
    return set(status.deserialize_failed_partition_subsets(PARTITIONS).get_partition_keys())


def _checks(instance) -> dict[str, tuple[str, bool | None]]:
    history = instance.event_log_storage.get_asset_check_execution_history(OWN_CHECK.key, limit=100)
    return {r.partition: (r.status.value, r.evaluation.passed if r.status.value != "PLANNED" else None)
            for r in history}


def test_a_healthy_range_materializes_every_partition_with_its_own_metadata_and_checks(instance):
    result = _run(instance, tags=RANGE)
    assert result.success
    for key, asset in ((X, "x"), (Y, "y")):
        assert _materializations(instance, key) == {p: {"project": p, "asset": asset} for p in ("p1", "p2", "p3")}
    assert _checks(instance) == {"p1": ("SUCCEEDED", True), "p2": ("SUCCEEDED", True), "p3": ("FAILED", False)}
    assert _failed_partitions(instance, X) == set()


def test_one_failed_project_fails_its_own_partition_and_the_others_are_stored(instance):
    PLAN.behaviour = {"p2": "fail"}
    result = _run(instance, tags=RANGE)
    assert not result.success
    failures = {e.step_key: e.step_failure_data for e in result.get_step_failure_events()}
    assert set(failures) == {"raw__x", "raw__y"}
    text = failures["raw__x"].user_failure_data.description
    assert text.startswith("1 of 3 project(s) failed, the others were materialized: p2: cannot connect to p2")
    assert failures["raw__x"].user_failure_data.metadata["failed_projects"].value == "p2"
    # the healthy partitions were materialized (stored although the step failed), the failed one not
    assert _materializations(instance, X) == {p: {"project": p, "asset": "x"} for p in ("p1", "p3")}
    assert _failed_partitions(instance, X) == {"p2"}
    # the healthy projects' checks report per partition; the failed one's stays planned
    assert _checks(instance) == {"p1": ("SUCCEEDED", True), "p2": ("PLANNED", None), "p3": ("FAILED", False)}
    # a project given up by one step is not tried again by the next step of the same run
    assert ("y", "p2") not in PLAN.calls and {("y", "p1"), ("y", "p3")} <= set(PLAN.calls)
    assert "given up earlier in this run" in failures["raw__y"].user_failure_data.description


def test_downstream_automation_sees_the_healthy_partitions_of_a_failed_batch(instance):
    before = dg.evaluate_automation_conditions(defs=DEFS, instance=instance)
    assert before.get_requested_partitions(dg.AssetKey("downstream")) == set()  # nothing upstream yet
    PLAN.behaviour = {"p2": "fail"}
    _run(instance, tags=RANGE)
    after = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=before.cursor)
    assert after.get_requested_partitions(dg.AssetKey("downstream")) == {"p1", "p3"}


def test_a_project_past_its_deadline_is_cancelled_and_the_rest_of_the_batch_goes_on(instance):
    PLAN.behaviour = {"p1": "hang"}
    PLAN.deadline_s = 1.0
    result = _run(instance, tags=RANGE)
    assert not result.success
    assert PLAN.cancelled == ["p1"]  # its query was cancelled, not left to run on
    assert set(_materializations(instance, X)) == {"p2", "p3"}
    text = {e.step_key: e.step_failure_data.user_failure_data.description for e in result.get_step_failure_events()}
    assert "p1: no result within 1s on its source (AIMATRIX_PROJECT_DEADLINE_S)" in text["raw__x"]


def test_a_bug_in_a_batch_fails_its_project_only_and_is_logged_with_its_traceback(instance):
    PLAN.behaviour = {"p3": "bug"}
    result = _run(instance, tags=RANGE)
    assert set(_materializations(instance, X)) == {"p1", "p2"}
    logs = [e.message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    assert any("[p3] unexpected error" in m and "KeyError" in m and "Traceback" in m for m in logs)


def _step_logs(instance, run_id: str, step_key: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id) if e.dagster_event is None and e.step_key == step_key]


def test_a_batch_step_says_its_healthy_projects_in_one_summary_line_and_each_failure_on_its_own(instance):
    # every log line is an event the instance stores: a healthy project is a line of the summary
    result = _run(instance, tags=RANGE)
    logs = _step_logs(instance, result.run_id, "raw__x")
    summary = [m for m in logs if "project(s) done" in m]
    assert len(summary) == 1 and summary[0].startswith("3 of 3 project(s) done:")
    assert [line.split(" ", 1)[0] for line in summary[0].splitlines()[1:]] == ["[p1]", "[p2]", "[p3]"]
    assert all(line.endswith(": x: 1 row") for line in summary[0].splitlines()[1:])
    assert not any(m.startswith("[p") for m in logs)  # no line of its own for a healthy project
    PLAN.behaviour = {"p2": "fail"}
    result = _run(instance, tags=RANGE)
    logs = _step_logs(instance, result.run_id, "raw__x")
    assert [m for m in logs if m.startswith("[p2] failed after") and "cannot connect to p2" in m]
    assert [m.splitlines()[0] for m in logs if "project(s) done" in m] == ["2 of 3 project(s) done:"]


def test_a_one_project_run_works_as_before(instance):
    result = _run(instance, partition_key="p2")
    assert result.success
    assert set(_materializations(instance, X)) == {"p2"}
    # its own line, with what it did, as before batches
    assert [m for m in _step_logs(instance, result.run_id, "raw__x") if m.startswith("[p2] done in")][0].endswith(": x: 1 row")
    PLAN.behaviour = {"p3": "fail"}
    result = _run(instance, partition_key="p3")
    failure = result.get_step_failure_events()[0].step_failure_data
    # the error's own text, chained to its cause, as a one-project run always failed
    assert failure.user_failure_data.description == "cannot connect to p3"
    assert failure.error.cause is not None and "SourceDown" in failure.error.cause.cls_name
    PLAN.behaviour = {"p3": "bug"}
    failure = _run(instance, partition_key="p3").get_step_failure_events()[0].step_failure_data
    chain, error = [], failure.error
    while error is not None:
        chain, error = [*chain, error.cls_name], error.cause
    assert "KeyError" in chain and "Failure" not in chain, chain  # a bug is not disguised as a Failure
