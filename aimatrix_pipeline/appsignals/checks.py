"""Asset checks on analytics/api_latency_summary: p95 and 5xx-rate thresholds per endpoint.

They read the findings the same step just wrote (analytics.api_recommendations), so the check
result, the finding and its evidence always agree. The alerts domain's metric registry is keyed
to its agreed asset list; until it lists these assets, these checks are where API latency and
error thresholds surface (a failed check shows up in the UI and in check history).
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.sql_files import load_sql

API_P95_WITHIN_THRESHOLD = "api_p95_within_threshold"
API_5XX_RATE_WITHIN_THRESHOLD = "api_5xx_rate_within_threshold"

_ASSET = dg.AssetKey(["analytics", "api_latency_summary"])
_FINDING_OF = {API_P95_WITHIN_THRESHOLD: "api_slow_endpoint", API_5XX_RATE_WITHIN_THRESHOLD: "api_error_endpoint"}

CHECK_SPECS = [
    dg.AssetCheckSpec(API_P95_WITHIN_THRESHOLD, asset=_ASSET, partitions_def=PROJECTS_PARTITIONS,
                      description="No endpoint's p95 response time over the window is above the threshold."),
    dg.AssetCheckSpec(API_5XX_RATE_WITHIN_THRESHOLD, asset=_ASSET, partitions_def=PROJECTS_PARTITIONS,
                      description="No endpoint's share of 5xx answers over the window is above the threshold."),
]


def evaluate(conn, project: str) -> list[dg.AssetCheckResult]:
    results = []
    for check, finding in _FINDING_OF.items():
        row = conn.execute(load_sql("warehouse/appsignals/check_api_findings.sql"),
                           {"project": project, "name": finding}).fetchone()
        count, worst, p95, rate, requests = row
        meta = {"project": project, "findings": int(count)}
        if count:
            meta.update({"worst": worst or "", "worst_p95_ms": float(p95 or 0),
                         "worst_error_rate_5xx": float(rate or 0), "worst_requests": int(float(requests or 0))})
        results.append(dg.AssetCheckResult(
            check_name=check, asset_key=_ASSET, passed=count == 0,
            severity=dg.AssetCheckSeverity.WARN, metadata=meta,
        ))
    return results
