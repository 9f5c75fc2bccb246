"""Under overload the statistics go first and a tick that cannot be served is skipped, reported,
and not queued on top of the run still waiting (aimatrix_pipeline/shared/schedules.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg

from aimatrix_pipeline.appsignals.schedules import APPSIGNALS_SCHEDULE
from aimatrix_pipeline.extract.schedules import APP_LOGS_SCHEDULE, STATISTICS_SCHEDULE
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.schedules import (
    PRIORITY_TAG,
    PROJECT_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SCHEDULED_TIME_TAG,
    SHARD_TAG,
    STATISTICS_PRIORITY,
    range_request,
    ranges,
    run_projects_of,
    shards,
    still_queued,
)

WHEN = dt.datetime(2026, 3, 2, 12, 5, tzinfo=dt.UTC)


def _requests(schedule, instance):
    from aimatrix_pipeline.definitions import defs

    with dg.build_schedule_context(instance=instance, scheduled_execution_time=WHEN,
                                   repository_def=defs.get_repository_def()) as ctx:
        return schedule.evaluate_tick(ctx)


def test_statistics_runs_outrank_app_log_runs():
    with dg.instance_for_test() as instance:
        stats = _requests(STATISTICS_SCHEDULE, instance).run_requests
        logs = _requests(APP_LOGS_SCHEDULE, instance).run_requests
        signals = _requests(APPSIGNALS_SCHEDULE, instance).run_requests
    projects = PROJECTS_PARTITIONS.get_partition_keys()
    assert [r.partition_key for r in stats] == projects
    assert {int(r.tags[PRIORITY_TAG]) for r in stats} == {10}
    assert {int(r.tags[PRIORITY_TAG]) for r in logs} == {0}
    assert {int(r.tags[PRIORITY_TAG]) for r in signals} == {0}


def test_a_project_whose_earlier_run_is_still_queued_is_skipped_and_reported():
    # (a run added outside a code location cannot be QUEUED, which needs a job origin; NOT_STARTED,
    # the state before the coordinator queues it, takes the same path)
    project = PROJECTS_PARTITIONS.get_partition_keys()[0]
    with dg.instance_for_test() as instance:
        instance.add_run(dg.DagsterRun(
            job_name=STATISTICS_SCHEDULE.job_name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.NOT_STARTED,
            tags={PROJECT_TAG: project, SCHEDULED_TIME_TAG: "2026-03-02T12:00:00+00:00"}))
        # a queued run of another job does not hold this schedule's project back
        instance.add_run(dg.DagsterRun(
            job_name=APP_LOGS_SCHEDULE.job_name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.NOT_STARTED,
            tags={PROJECT_TAG: project}))
        assert still_queued(instance, STATISTICS_SCHEDULE.job_name) == {project: "2026-03-02T12:00:00+00:00"}
        stats = _requests(STATISTICS_SCHEDULE, instance)
        logs = _requests(APP_LOGS_SCHEDULE, instance)
    others = [p for p in PROJECTS_PARTITIONS.get_partition_keys() if p != project]
    if others:
        assert [r.partition_key for r in stats.run_requests] == others
    else:
        assert not stats.run_requests
        assert "still queued" in stats.skip_message
    # its own queued run holds the app-log schedule's project back as well
    assert [r.partition_key for r in logs.run_requests] == others


def test_a_tick_requests_consecutive_shards_and_leaves_out_only_the_projects_still_queued():
    projects = [f"p{i}" for i in range(7)]
    assert shards(projects, 3) == [["p0", "p1", "p2"], ["p3", "p4", "p5"], ["p6"]]
    # p1 and p4 are still waiting in the queue: the rest of their shards are requested as ranges
    waiting = {"p1": "12:00", "p4": "12:00"}
    parts = [part for shard in shards(projects, 3) for part in ranges(shard, waiting)]
    assert parts == [["p0"], ["p2"], ["p3"], ["p5"], ["p6"]]
    assert [part for shard in shards(projects, 7) for part in ranges(shard, {"p3": "x"})] == \
        [["p0", "p1", "p2"], ["p4", "p5", "p6"]]


def test_a_shard_is_a_partition_range_run_and_a_shard_of_one_a_partition_run():
    batch = range_request(["p3", "p4", "p5"], "2026-03-02T12:05:00+00:00", STATISTICS_PRIORITY)
    assert batch.partition_key is None
    assert batch.partition_key_range == dg.PartitionKeyRange("p3", "p5")
    assert batch.tags[SHARD_TAG] == "p3..p5" and batch.tags[PRIORITY_TAG] == "10"
    assert PROJECT_TAG not in batch.tags
    assert batch.run_key == "p3..p5@2026-03-02T12:05:00+00:00"
    one = range_request(["p6"], "t", 0)
    assert one.partition_key == "p6" and one.tags[PROJECT_TAG] == "p6" and one.tags[SHARD_TAG] == "p6..p6"


def test_the_projects_a_queued_run_carries_come_from_its_range_partition_or_project_tag():
    keys = [f"p{i}" for i in range(5)]
    assert run_projects_of({RANGE_START_TAG: "p1", RANGE_END_TAG: "p3"}, keys) == ["p1", "p2", "p3"]
    assert run_projects_of({"dagster/partition": "p4"}, keys) == ["p4"]
    assert run_projects_of({PROJECT_TAG: "p0"}, keys) == ["p0"]
    assert run_projects_of({}, keys) == []
    # a range whose ends left the projects file: only what is still known
    assert run_projects_of({RANGE_START_TAG: "gone", RANGE_END_TAG: "p2"}, keys) == ["p2"]


def test_a_queued_range_run_holds_its_projects_back():
    project = PROJECTS_PARTITIONS.get_partition_keys()[0]
    with dg.instance_for_test() as instance:
        instance.add_run(dg.DagsterRun(
            job_name=STATISTICS_SCHEDULE.job_name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.NOT_STARTED,
            tags={RANGE_START_TAG: project, RANGE_END_TAG: project, SCHEDULED_TIME_TAG: "2026-03-02T12:00:00+00:00"}))
        assert still_queued(instance, STATISTICS_SCHEDULE.job_name) == {project: "2026-03-02T12:00:00+00:00"}
