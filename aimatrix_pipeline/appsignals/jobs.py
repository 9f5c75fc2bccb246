"""Jobs of the appsignals domain: API logs/counts and metrics, then their derived tables, per project."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.appsignals.assets import ALL_ASSETS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

APPSIGNALS_JOB = dg.define_asset_job(
    "appsignals",
    selection=dg.AssetSelection.assets(*ALL_ASSETS),
    partitions_def=PROJECTS_PARTITIONS,
    description="Load one project's API request logs, API counts and metrics scrape, then derive the "
    "API latency summary, API findings and realtime health.",
)
