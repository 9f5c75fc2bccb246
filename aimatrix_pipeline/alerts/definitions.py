"""The alerts domain: rule checks, the alert sensor, the delivery job and its assets."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.assets import alert_events, notification_deliveries
from aimatrix_pipeline.alerts.checks import build_rule_checks
from aimatrix_pipeline.alerts.jobs import alert_delivery_job
from aimatrix_pipeline.alerts.rules import load_rules
from aimatrix_pipeline.alerts.sensors import alert_sensor
from aimatrix_pipeline.extract.partitions import PROJECTS_PARTITIONS

RULES = load_rules()

defs = dg.Definitions(
    assets=[notification_deliveries, alert_events],
    asset_checks=build_rule_checks(RULES, PROJECTS_PARTITIONS),
    jobs=[alert_delivery_job],
    sensors=[alert_sensor],
)
