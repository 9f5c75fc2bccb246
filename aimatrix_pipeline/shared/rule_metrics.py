"""The metric registry: metric name -> the asset that holds it and the SQL that computes it.

A rule names a metric; the registry says which asset the rule's check attaches to (so the check
runs right after that asset materializes, in the same run) and which file under
`sql/warehouse/alerts/` computes the per-project value inside DuckDB. Each file takes `$project`
and returns at most one row whose `value` column is the metric; any other columns are evidence
that ends up in the check metadata and can be used as `{placeholders}` in the rule's message.

Keeping this mapping in one table makes "checks for the rules whose target asset exists" a lookup
instead of knowledge scattered through the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Metric:
    name: str
    asset_key: tuple[str, ...]
    sql_file: str  # relative to sql/
    unit: str
    description: str

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.asset_key))

    @property
    def asset_key_str(self) -> str:
        return "/".join(self.asset_key)


def _m(name: str, asset: str, unit: str, description: str) -> Metric:
    return Metric(name, tuple(asset.split("/")), f"warehouse/alerts/{name}.sql", unit, description)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _m("slow_query_avg_ms", "analytics/slow_queries_summary", "ms",
           "call-weighted mean execution time of the newest pg_stat_statements interval and query log load "
           "(no data once nothing ran in them)"),
        _m("cache_hit_ratio", "analytics/database_health", "ratio",
           "heap buffer cache hit ratio of the newest interval between snapshots (no data when it read nothing)"),
        _m("connection_utilisation", "raw/database_stats", "ratio",
           "connections in use / usable connections of the newest snapshot (judged in the statistics run)"),
        _m("long_running_query_minutes", "raw/activity", "min",
           "longest-running active statement"),
        _m("vector_p95_ms", "analytics/vector_health", "ms",
           "worst p95 vector query time of the newest vector query log load"),
        _m("embedding_error_rate", "analytics/embedding_stats", "ratio",
           "failed embedding generations / all, newest day (no data once a load finds none)"),
        _m("error_rate_spike", "analytics/error_stats", "x",
           "errors in the last hour / mean hourly errors over 24 h (0 once a load finds no error)"),
        _m("extract_age_minutes", "raw/database_stats", "min",
           "minutes since the newest extraction"),
        _m("pg_stat_statements_null_keys", "raw/pg_stat_statements", "rows",
           "snapshot rows without queryid/dbid/userid"),
        _m("statements_evicted", "analytics/pg_stat_statements_deltas", "statements",
           "statements pg_stat_statements evicted (pg_stat_statements.max full) in the newest three intervals"),
        _m("query_log_null_keys", "raw/query_performance_logs", "rows",
           "rows of the newest query log load without query_hash/text_hash"),
    )
}

# The asset keys other domains agreed to build (shared keys list). A rule's check is only built
# when its target is one of these, so a typo in the registry cannot invent an asset.
AGREED_ASSET_KEYS: frozenset[str] = frozenset(
    [
        "raw/pg_stat_statements", "raw/table_stats", "raw/index_stats", "raw/database_stats",
        "raw/sequences", "raw/activity", "raw/foreign_keys", "raw/vector_indexes",
        "raw/query_performance_logs", "raw/vector_query_logs", "raw/embedding_generation_logs",
        "raw/error_events",
        "analytics/pg_stat_statements_deltas", "analytics/slow_queries_summary",
        "analytics/query_regressions", "analytics/database_health", "analytics/table_health",
        "analytics/vector_health", "analytics/embedding_stats", "analytics/error_stats",
        "analytics/optimization_recommendations",
    ]
)
