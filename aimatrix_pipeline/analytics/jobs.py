"""The analytics job: every analytics asset of one project partition, in dependency order.

The assets also carry an eager automation condition, so with the automation sensor on they
follow the extract by themselves; the job is for schedules, backfills and the demo.
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
    description="Derive every analytics.* table for one project from its raw.* rows.",
)
