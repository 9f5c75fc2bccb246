-- Share of usable connections in use, from the project's newest raw.database_stats snapshot.
-- Parameters: $project.
-- Read from the raw snapshot, not analytics.database_health, so that the rule is judged inside
-- the statistics run that took the snapshot (a check on raw/database_stats) instead of a hop
-- later, after the automation sensor has launched the analytics run: connection saturation is a
-- page, and that hop was the largest part of its latency (docs/alerts.md, "Latency").
-- The formula is analytics.database_health's `connection_utilisation`
-- (sql/warehouse/analytics/database_health.sql); tests/alerts/test_rules_and_checks.py holds the
-- two to the same value.
select
    conn_total::double / nullif(max_connections - coalesce(superuser_reserved_connections, 0), 0) as value,
    conn_total as connections,
    max_connections,
    max_connections - coalesce(superuser_reserved_connections, 0) as usable_connections,
    snapshot_at
from raw.database_stats
where project = $project
order by snapshot_at desc
limit 1
