"""Jobs of the fleet concern."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.fleet.assets import RETENTION_KEY

SNAPSHOT_RETENTION_JOB = dg.define_asset_job(
    "snapshot_retention",
    selection=dg.AssetSelection.assets(RETENTION_KEY),
    description="Downsample and expire raw snapshots for the whole fleet (one transaction).",
)
