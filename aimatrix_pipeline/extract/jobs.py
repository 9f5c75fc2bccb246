"""Jobs of the extract domain: statistics snapshots, incremental app logs and query plans, per
project or shard of projects, each followed in the same run by the analytics derived from them."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.extract.assets import APP_LOG_ASSETS, PLAN_ASSETS, SNAPSHOT_ASSETS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.selections import derived_in_extract_runs

# Every step of these jobs runs in the run's own process. With the default multiprocess executor
# each of the 8 statistics steps starts a Python process that loads the whole code location (~1-3 s
# of CPU each) to do ~40 ms of work, and the steps take turns on the warehouse lock anyway: on two
# shared cores a statistics run took ~57 s and one machine sustained ~12 projects at a 5-minute
# cadence (benchmarks/bench_fleet_queue.py). In process, a failed step still fails only itself.
EXECUTOR = dg.in_process_executor

EXTRACT_STATISTICS_JOB = dg.define_asset_job(
    "extract_statistics",
    selection=derived_in_extract_runs(dg.AssetSelection.assets(*SNAPSHOT_ASSETS)),
    partitions_def=PROJECTS_PARTITIONS,
    executor_def=EXECUTOR,
    description="Snapshot pg_stat_statements, table/index/database stats, activity, foreign keys "
    "and vector indexes of one monitored project (or a shard) into raw.*, then derive the analytics "
    "tables that read them (deltas, slow queries, health, recommendations).",
)

EXTRACT_APP_LOGS_JOB = dg.define_asset_job(
    "extract_app_logs",
    selection=derived_in_extract_runs(dg.AssetSelection.assets(*APP_LOG_ASSETS)),
    partitions_def=PROJECTS_PARTITIONS,
    executor_def=EXECUTOR,
    description="Load new rows of the application's log tables of one monitored project (or a shard) "
    "into raw.*, then derive the analytics tables that read them.",
)

CAPTURE_QUERY_PLANS_JOB = dg.define_asset_job(
    "capture_query_plans",
    selection=derived_in_extract_runs(dg.AssetSelection.assets(*PLAN_ASSETS)),
    partitions_def=PROJECTS_PARTITIONS,
    executor_def=EXECUTOR,
    description="Explain the top statements of one monitored project (generic plans, never executed) "
    "into raw.query_plans (the plan history), then derive plan changes, index impact and query "
    "regressions.",
)
