"""Schedules of the alerts domain: the extraction freshness checks, on their own clock.

Checks attached to assets run when the asset materializes; "extraction stopped" and "extraction
stale" are exactly the cases where nothing materializes, so these checks run on a clock
(AIMATRIX_FRESHNESS_CRON): the fleet-wide one in one run, the per-project one in one run per
shard of `AIMATRIX_BATCH_SIZE` projects (a run is a process that loads the code location, ~2-3 s
of CPU, against one small warehouse query per project). A shard's run names its projects with
the partition-range tags; the check works through `context.partition_keys` and records each
project's evaluation under its own partition (shared/rule_checks.py `build_rule_check`), so the
alert sensor still judges, and alerts on, every project on its own.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.jobs import alert_freshness_job, alert_staleness_job
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.schedules import (
    PARTITION_TAG,
    PRIORITY_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    STATISTICS_PRIORITY,
    ranges,
    shards,
    still_queued,
)

# AIMATRIX_FRESHNESS_CRON, default every 30 minutes
FRESHNESS_CRON = current_settings().schedules.freshness

alert_freshness_schedule = dg.ScheduleDefinition(
    name="alert_freshness_schedule",
    job=alert_freshness_job,
    cron_schedule=FRESHNESS_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Is every configured project's extraction recent enough? (AIMATRIX_FRESHNESS_CRON)",
)


def staleness_request(projects: list[str], tick: str) -> dg.RunRequest:
    """A run of the check-only staleness job over `projects` (consecutive partitions).

    The job has no partitions definition (Dagster 1.13 drops it from a job that selects only
    checks), so the run names its projects with tags alone: `dagster/partition` for one project,
    the partition-range tags for more. Without `aimatrix/project` or `aimatrix/shard`: their
    concurrency limits (dagster.yaml) cap the runs that connect to a project's source, and this
    one only reads the warehouse, so it never takes an extraction's slot. Its priority is the
    statistics runs': an alert depends on it, and it is one small query per project."""
    first, last = projects[0], projects[-1]
    tags = {PRIORITY_TAG: str(STATISTICS_PRIORITY)}
    if len(projects) == 1:
        return dg.RunRequest(run_key=f"{first}@{tick}", tags={**tags, PARTITION_TAG: first})
    return dg.RunRequest(run_key=f"{first}..{last}@{tick}",
                         tags={**tags, RANGE_START_TAG: first, RANGE_END_TAG: last})


def build_staleness_schedule(job, partitions_def: dg.PartitionsDefinition, batch_size: int) -> dg.ScheduleDefinition:
    """The schedule of `job` (the check-only staleness job) over `partitions_def`'s projects."""

    @dg.schedule(
        name="alert_staleness_schedule",
        job=job,
        cron_schedule=FRESHNESS_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="How long ago was each project extracted? Rule extraction_stale, one run per shard of "
        "AIMATRIX_BATCH_SIZE projects, each project judged under its own partition (AIMATRIX_FRESHNESS_CRON).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        projects = partitions_def.get_partition_keys()
        # a project whose run from an earlier tick still waits in the queue is judged by that run
        waiting = still_queued(context.instance, job.name) if context.instance_ref is not None else {}
        requests = [staleness_request(part, tick) for shard in shards(projects, batch_size)
                    for part in ranges(shard, waiting)]
        if not requests and projects:
            return dg.SkipReason(f"every project's run of {job.name} from an earlier tick is still queued "
                                 f"({len(projects)} project(s)); this tick is skipped")
        return requests

    return _schedule


alert_staleness_schedule = build_staleness_schedule(alert_staleness_job, PROJECTS_PARTITIONS,
                                                    current_settings().batch_size)
