"""Definitions of the fleet concern: the retention asset, its job and daily schedule."""

import dagster as dg

from aimatrix_pipeline.fleet.assets import snapshot_retention
from aimatrix_pipeline.fleet.jobs import SNAPSHOT_RETENTION_JOB
from aimatrix_pipeline.fleet.schedules import RETENTION_SCHEDULE

defs = dg.Definitions(
    assets=[snapshot_retention],
    jobs=[SNAPSHOT_RETENTION_JOB],
    schedules=[RETENTION_SCHEDULE],
)
