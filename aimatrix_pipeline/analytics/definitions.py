"""Definitions of the analytics domain (resources are bound at the top level)."""

import dagster as dg

from aimatrix_pipeline.analytics.assets import ASSETS
from aimatrix_pipeline.analytics.jobs import ANALYTICS_JOB
from aimatrix_pipeline.analytics.sensors import DERIVE_ANALYTICS_SENSOR

defs = dg.Definitions(assets=ASSETS, jobs=[ANALYTICS_JOB], sensors=[DERIVE_ANALYTICS_SENSOR])
