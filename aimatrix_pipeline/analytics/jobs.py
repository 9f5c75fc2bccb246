"""The analytics job: every analytics asset of a project partition, or of a range of them, in
dependency order.

The extract jobs derive what their raw assets feed in the same run (`derived_in_extract_runs`,
shared/selections.py). The assets also carry an eager automation condition: with the automation
sensor on, they follow a raw materialization that did not derive them (a backfill or a manual run
of a raw asset, or a range run whose step failed for one project and skipped its downstream
steps). This job is for backfills, manual runs and the demo. Every asset it selects has
`BackfillPolicy.single_run()`, so a backfill or a range run of the job derives all its projects in
one run (each one its own partition, analytics/assets.py).
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.selections import PROJECT_ANALYTICS

ANALYTICS_JOB = dg.define_asset_job(
    "analytics_job",
    selection=PROJECT_ANALYTICS,
    partitions_def=PROJECTS_PARTITIONS,
    description="Derive every analytics.* table for a project (or a range of projects, in one run) "
    "from its raw.* rows.",
)
