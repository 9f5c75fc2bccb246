"""The index advice job: one run per shard of projects (or one project), planning on the monitored database (bounded)."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.extract.index_advice.assets import INDEX_SUGGESTIONS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

INDEX_ADVICE_JOB = dg.define_asset_job(
    "index_advice",
    selection=dg.AssetSelection.assets(INDEX_SUGGESTIONS),
    partitions_def=PROJECTS_PARTITIONS,
    executor_def=dg.in_process_executor,
    description="Suggest the indexes the project's costliest statements need, verified with hypopg where "
    "installed, into analytics.index_suggestions.",
)
