"""The alerts domain: rule checks, the alert sensor, the delivery job and its assets."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.assets import alert_events, notification_deliveries
from aimatrix_pipeline.alerts.jobs import alert_delivery_job, alert_freshness_job, alert_staleness_job
from aimatrix_pipeline.alerts.schedules import alert_freshness_schedule, alert_staleness_schedule
from aimatrix_pipeline.alerts.sensors import alert_sensor
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS, SETTINGS
from aimatrix_pipeline.shared.rule_checks import (
    FRESHNESS_RULE_ID,
    build_fleet_freshness_check,
    build_rule_checks,
    own_spec_asset_keys,
)
from aimatrix_pipeline.shared.rules import load_rules

RULES = load_rules()
_freshness_rule = RULES.rule(FRESHNESS_RULE_ID)
_fleet_checks = ([build_fleet_freshness_check(_freshness_rule, SETTINGS.project_names)]
                 if _freshness_rule and _freshness_rule.metric else [])

defs = dg.Definitions(
    assets=[notification_deliveries, alert_events],
    # rules on analytics assets are those assets' own check specs (analytics/assets.py)
    asset_checks=[*build_rule_checks(RULES, PROJECTS_PARTITIONS, exclude_assets=own_spec_asset_keys()),
                  *_fleet_checks],
    jobs=[alert_delivery_job, *([alert_freshness_job, alert_staleness_job] if _fleet_checks else [])],
    schedules=[alert_freshness_schedule, alert_staleness_schedule] if _fleet_checks else [],
    sensors=[alert_sensor],
)
