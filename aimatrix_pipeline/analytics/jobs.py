"""The analytics job: every analytics asset of a project partition, or of a range of them, in
dependency order.

The assets also carry an eager automation condition, so with the automation sensor on they
follow the extract by themselves; the job is for schedules, backfills and the demo. Every asset
it selects has `BackfillPolicy.single_run()`, so a backfill or a range run of the job derives
all its projects in one run (each one its own partition, analytics/assets.py).
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

ANALYTICS_JOB = dg.define_asset_job(
    "analytics_job",
    # the monitoring dashboard (same group, not partitioned) has its own job and schedule
    selection=dg.AssetSelection.groups("analytics")
    - dg.AssetSelection.keys(dg.AssetKey(["analytics", "monitoring_dashboard"])),
    partitions_def=PROJECTS_PARTITIONS,
    description="Derive every analytics.* table for a project (or a range of projects, in one run) "
    "from its raw.* rows.",
)
