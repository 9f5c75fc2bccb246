"""The per-project schedule shape the extract and appsignals domains share.

Every tick requests one run per monitored project. Runs carry `aimatrix/project`, which
dagster.yaml's tag concurrency limits use to cap how many runs (and so connections) hit one
source at once.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

PROJECT_TAG = "aimatrix/project"


def per_project_schedule(job, cron: str, name: str, description: str) -> dg.ScheduleDefinition:
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
        for project in PROJECTS_PARTITIONS.get_partition_keys():
            yield dg.RunRequest(
                run_key=f"{project}@{tick}",
                partition_key=project,
                tags={PROJECT_TAG: project},
            )

    return _schedule
