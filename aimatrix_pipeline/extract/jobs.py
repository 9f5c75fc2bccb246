"""Jobs of the extract domain: statistics snapshots and incremental app logs, per project."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.extract.assets import APP_LOG_ASSETS, SNAPSHOT_ASSETS
from aimatrix_pipeline.extract.partitions import PROJECTS_PARTITIONS

EXTRACT_STATISTICS_JOB = dg.define_asset_job(
    "extract_statistics",
    selection=dg.AssetSelection.assets(*SNAPSHOT_ASSETS),
    partitions_def=PROJECTS_PARTITIONS,
    description="Snapshot pg_stat_statements, table/index/database stats, activity, foreign keys "
    "and vector indexes of one monitored project into raw.*.",
)

EXTRACT_APP_LOGS_JOB = dg.define_asset_job(
    "extract_app_logs",
    selection=dg.AssetSelection.assets(*APP_LOG_ASSETS),
    partitions_def=PROJECTS_PARTITIONS,
    description="Load new rows of the application's log tables of one monitored project into raw.*.",
)
