-- Figures for analytics/database_health: the project's latest snapshot. Parameter: $project.
select heap_cache_hit_ratio as cache_hit_ratio, index_cache_hit_ratio, connection_utilisation,
       conn_total as connections, long_running_queries, database_bytes
from analytics.database_health where project = $project
order by snapshot_at desc limit 1
