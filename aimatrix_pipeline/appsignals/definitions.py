"""Definitions of the appsignals domain (resources are bound at the top level)."""

import dagster as dg

from aimatrix_pipeline.appsignals.assets import ALL_ASSETS
from aimatrix_pipeline.appsignals.jobs import APPSIGNALS_JOB
from aimatrix_pipeline.appsignals.schedules import APPSIGNALS_SCHEDULE

defs = dg.Definitions(assets=ALL_ASSETS, jobs=[APPSIGNALS_JOB], schedules=[APPSIGNALS_SCHEDULE])
