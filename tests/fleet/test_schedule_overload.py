"""Under overload the statistics go first and a tick that cannot be served is skipped, reported,
and not queued on top of the run still waiting (aimatrix_pipeline/shared/schedules.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg

from aimatrix_pipeline.appsignals.schedules import APPSIGNALS_SCHEDULE
from aimatrix_pipeline.extract.schedules import APP_LOGS_SCHEDULE, STATISTICS_SCHEDULE
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.schedules import PRIORITY_TAG, PROJECT_TAG, SCHEDULED_TIME_TAG, still_queued

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
