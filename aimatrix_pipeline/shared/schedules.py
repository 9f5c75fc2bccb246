"""The batched schedule shape the extract and appsignals domains share.

Every tick requests one run per shard: `AIMATRIX_BATCH_SIZE` consecutive project partitions of
PROJECTS_PARTITIONS, as a partition key range (the `dagster/asset_partition_range_start/end` tags;
the assets have `BackfillPolicy.single_run()` and work through the range with shared/batch.py).
A run process costs ~2-3 s of CPU to start against ~0.3 s of work per project, so one run per
project per tick was what ran out first on a busy machine. A shard of one project is a range of
one: a run of one project (a backfill, a manual materialization) works as it always did.

Runs carry `aimatrix/shard` (the range, `first..last`), which dagster.yaml's tag concurrency
limits use per value, and, for a shard of one project, `aimatrix/project` as before.

Under overload the queue decides what goes first, so each schedule gives its runs a
`dagster/priority` (the run queue launches higher values first): statistics snapshots, which most
alert rules judge, outrank the app-log loads and the application signals, so they never starve
behind them. And a tick that cannot be served in time is skipped, not queued on top of the one
still waiting: the projects whose run of the same job from an earlier tick is still queued are left
out of this tick (the queued run serves them; the queue never grows without bound) and the tick's
log names them; the shard's other projects are requested as the consecutive ranges they form.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

PROJECT_TAG = "aimatrix/project"
SHARD_TAG = "aimatrix/shard"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
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


def run_projects_of(tags, keys: list[str]) -> list[str]:
    """The project partitions a run carries, from its tags: a range, one partition, or the
    `aimatrix/project` tag of a run launched by a tool."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        if start in keys and end in keys:
            return keys[keys.index(start):keys.index(end) + 1]
        return [k for k in (start, end) if k in keys]
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    return [tags[PROJECT_TAG]] if PROJECT_TAG in tags else []


def still_queued(instance: dg.DagsterInstance, job_name: str) -> dict[str, str]:
    """Project -> the scheduled time of its run of `job_name` that is still waiting in the queue."""
    records = instance.get_run_records(filters=dg.RunsFilter(
        job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]))
    keys = PROJECTS_PARTITIONS.get_partition_keys()
    waiting: dict[str, str] = {}
    for record in records:
        tags = record.dagster_run.tags
        for project in run_projects_of(tags, keys):
            waiting[project] = scheduled_time(tags) or "?"
    return waiting


def shards(projects: list[str], size: int) -> list[list[str]]:
    """Consecutive shards of `size` projects (the last one may be shorter)."""
    return [projects[i:i + size] for i in range(0, len(projects), max(1, size))]


def ranges(shard: list[str], waiting) -> list[list[str]]:
    """The consecutive runs of a shard's projects that are not waiting in the queue."""
    out: list[list[str]] = []
    current: list[str] = []
    for project in shard:
        if project in waiting:
            if current:
                out.append(current)
            current = []
        else:
            current.append(project)
    if current:
        out.append(current)
    return out


def range_request(projects: list[str], tick: str, priority: int) -> dg.RunRequest:
    """A run over `projects` (consecutive partitions), tagged with its shard and priority."""
    first, last = projects[0], projects[-1]
    tags = {SHARD_TAG: f"{first}..{last}", PRIORITY_TAG: str(priority)}
    if len(projects) == 1:
        return dg.RunRequest(run_key=f"{first}@{tick}", partition_key=first, tags={**tags, PROJECT_TAG: first})
    return dg.RunRequest(run_key=f"{first}..{last}@{tick}",
                         tags={**tags, RANGE_START_TAG: first, RANGE_END_TAG: last})


def batched_schedule(job, cron: str, name: str, description: str, priority: int = 0,
                     batch_size: int | None = None) -> dg.ScheduleDefinition:
    size = batch_size or current_settings().batch_size

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
        requests = [range_request(part, tick, priority)
                    for shard in shards(projects, size) for part in ranges(shard, waiting)]
        if not requests and skipped:
            return dg.SkipReason(f"every project's run of {job.name} from an earlier tick is still queued "
                                 f"({len(skipped)} project(s)); this tick is skipped")
        return requests

    return _schedule
