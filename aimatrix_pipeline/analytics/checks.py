"""Data-quality checks the analytics assets run on their own output, in the same step.

They are declared as check specs on the assets (so they work per project partition) and
evaluated right after the write, reading only the project's rows. Each one guards an invariant
the derivations promise, so a regression in the SQL shows up as a failed check, not as a quietly
wrong number. (Alerting rules on these tables belong to the alerts domain.)
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import duckdb

DELTAS_NEVER_NEGATIVE = "deltas_never_negative"
SHARES_WITHIN_ONE = "shares_within_one"
RECOMMENDATIONS_WELL_FORMED = "recommendations_well_formed"


@dataclass(frozen=True)
class QualityCheck:
    name: str
    asset: str
    description: str
    sql: str  # counts offending rows of $project; 0 passes


CHECKS: tuple[QualityCheck, ...] = (
    QualityCheck(
        DELTAS_NEVER_NEGATIVE, "pg_stat_statements_deltas",
        "No interval delta is negative or empty (resets, evictions and restarts are handled).",
        "select count(*) from analytics.pg_stat_statements_deltas where project = $project and "
        "(calls <= 0 or total_time_ms < 0 or rows < 0 or shared_blks_hit < 0 or shared_blks_read < 0)",
    ),
    QualityCheck(
        SHARES_WITHIN_ONE, "slow_queries_summary",
        "Every share_of_total_time is within [0, 1] and every group has calls.",
        "select count(*) from analytics.slow_queries_summary where project = $project and "
        "(share_of_total_time < 0 or share_of_total_time > 1.000001 or calls <= 0)",
    ),
    QualityCheck(
        RECOMMENDATIONS_WELL_FORMED, "optimization_recommendations",
        "Finding ids are unique, scores are within 1..10 and first_seen <= last_seen.",
        "select (select count(*) - count(distinct id) from analytics.optimization_recommendations "
        "        where project = $project) "
        "     + (select count(*) from analytics.optimization_recommendations where project = $project "
        "        and (impact not between 1 and 10 or effort not between 1 and 10 or first_seen > last_seen))",
    ),
)


def check_specs(asset_key: dg.AssetKey, asset_name: str,
                partitions_def: dg.PartitionsDefinition | None = None) -> list[dg.AssetCheckSpec]:
    """The asset's data-quality specs, partitioned like it: a run over a range of projects records
    each project's evaluation under its own partition."""
    return [
        dg.AssetCheckSpec(c.name, asset=asset_key, description=c.description, partitions_def=partitions_def)
        for c in CHECKS if c.asset == asset_name
    ]


def evaluate(conn: duckdb.DuckDBPyConnection, asset_name: str, project: str) -> list[dg.AssetCheckResult]:
    results = []
    for c in CHECKS:
        if c.asset != asset_name:
            continue
        offending = conn.execute(c.sql, {"project": project}).fetchone()[0]
        results.append(
            dg.AssetCheckResult(
                check_name=c.name, passed=offending == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"offending_rows": int(offending), "project": project},
            )
        )
    return results
