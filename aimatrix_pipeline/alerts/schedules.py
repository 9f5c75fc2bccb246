"""Schedules of the alerts domain: the extraction freshness checks, on their own clock.

Checks attached to assets run when the asset materializes; "extraction stopped" and "extraction
stale" are exactly the cases where nothing materializes, so these checks run on a clock
(AIMATRIX_FRESHNESS_CRON): the fleet-wide one in one run, the per-project one in one run per
project.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.jobs import PARTITION_TAG, alert_freshness_job, alert_staleness_job
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

# AIMATRIX_FRESHNESS_CRON, default every 30 minutes
FRESHNESS_CRON = current_settings().schedules.freshness

alert_freshness_schedule = dg.ScheduleDefinition(
    name="alert_freshness_schedule",
    job=alert_freshness_job,
    cron_schedule=FRESHNESS_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Is every configured project's extraction recent enough? (AIMATRIX_FRESHNESS_CRON)",
)



@dg.schedule(
    name="alert_staleness_schedule",
    job=alert_staleness_job,
    cron_schedule=FRESHNESS_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="How long ago was each project extracted? Rule extraction_stale, one run per project "
    "(AIMATRIX_FRESHNESS_CRON).",
)
def alert_staleness_schedule(context: dg.ScheduleEvaluationContext):
    # Without `aimatrix/project`: that tag's concurrency limit caps the runs that connect to a
    # source, and this one only reads the warehouse, so it never takes an extraction's slot.
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
    return [dg.RunRequest(run_key=f"{project}@{tick}", tags={PARTITION_TAG: project})
            for project in PROJECTS_PARTITIONS.get_partition_keys()]
