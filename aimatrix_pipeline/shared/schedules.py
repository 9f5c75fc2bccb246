"""The per-project schedule shape the extract and appsignals domains share.

Every tick requests one run per monitored project. Runs carry `aimatrix/project`, which
dagster.yaml's tag concurrency limits use to cap how many runs (and so connections) hit one
source at once.

Under overload the queue decides what goes first, so each schedule gives its runs a
`dagster/priority` (the run queue launches higher values first): statistics snapshots, which most
alert rules judge, outrank the app-log loads and the application signals, so they never starve
behind them. And a tick that cannot be served in time is skipped, not queued on top of the one
still waiting: when a project's run of the same job from an earlier tick is still queued, this
tick requests nothing for that project and says so in the tick's log (the queued run serves the
project; the queue never grows without bound).
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

PROJECT_TAG = "aimatrix/project"
PRIORITY_TAG = "dagster/priority"
# The tick time the scheduler daemon stamps on every run it launches (a hidden system tag), and the
# visible spelling a run launched by hand or by a tool may carry to say which tick it stands for.
SCHEDULED_TIME_TAG = ".dagster/scheduled_execution_time"
GIVEN_TIME_TAG = "dagster/scheduled_execution_time"
# Higher runs first (Dagster's run queue orders by this tag, then by queue time).
STATISTICS_PRIORITY = 10
APP_LOGS_PRIORITY = 0
APPSIGNALS_PRIORITY = 0


def scheduled_time(tags) -> str | None:
    """The tick a run stands for (ISO text), or None for a run no tick launched. Snapshots are
    stamped with it, so a retried tick replaces its own snapshot and two projects of one tick
    share a time (reading only the visible tag, scheduled runs were stamped with their start)."""
    return tags.get(SCHEDULED_TIME_TAG) or tags.get(GIVEN_TIME_TAG)


def still_queued(instance: dg.DagsterInstance, job_name: str) -> dict[str, str]:
    """Project -> the scheduled time of its run of `job_name` that is still waiting in the queue."""
    records = instance.get_run_records(filters=dg.RunsFilter(
        job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]))
    waiting: dict[str, str] = {}
    for record in records:
        tags = record.dagster_run.tags
        if PROJECT_TAG in tags:
            waiting[tags[PROJECT_TAG]] = scheduled_time(tags) or "?"
    return waiting


def per_project_schedule(job, cron: str, name: str, description: str, priority: int = 0) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        cron_schedule=cron,
        name=name,
        description=description,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        waiting = still_queued(context.instance, job.name) if context.instance_ref is not None else {}
        projects = PROJECTS_PARTITIONS.get_partition_keys()
        skipped = [p for p in projects if p in waiting]
        if skipped:
            context.log.warning(
                f"tick {tick}: {len(skipped)} of {len(projects)} project(s) skipped, their run of "
                f"{job.name} from an earlier tick is still queued: "
                + ", ".join(f"{p} (queued since tick {waiting[p]})" for p in skipped[:20])
                + (" ..." if len(skipped) > 20 else "")
            )
        requests = [
            dg.RunRequest(run_key=f"{project}@{tick}", partition_key=project,
                          tags={PROJECT_TAG: project, PRIORITY_TAG: str(priority)})
            for project in projects if project not in waiting
        ]
        if not requests and skipped:
            return dg.SkipReason(f"every project's run of {job.name} from an earlier tick is still queued "
                                 f"({len(skipped)} project(s)); this tick is skipped")
        return requests

    return _schedule
