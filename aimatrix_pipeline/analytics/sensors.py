"""Sensors of the analytics domain.

Analytics assets carry `AutomationCondition.eager()`: each project's derivations re-run when that
project's raw data lands. Dagster only evaluates automation conditions through an automation
sensor, and the implicit default one starts STOPPED; this explicit one is on by default, so a
fresh deployment derives analytics without anyone having to find a toggle in the UI.
Its evaluation interval is `AIMATRIX_AUTOMATION_INTERVAL_S` (default 60 s).
"""

import dagster as dg

from aimatrix_pipeline.settings import current_settings

AUTOMATION_INTERVAL_S = current_settings().automation_interval_s

DERIVE_ANALYTICS_SENSOR = dg.AutomationConditionSensorDefinition(
    "derive_analytics_when_raw_data_lands",
    target=dg.AssetSelection.groups("analytics"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL_S,
    description="Re-derives a project's analytics tables after its raw extracts materialize.",
)
