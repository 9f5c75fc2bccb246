-- Figures for analytics/vector_health: the worst index p95 and total vector queries. Parameter: $project.
select max(p95_query_ms) as vector_p95_ms, sum(queries) as vector_queries
from analytics.vector_health
where project = $project and snapshot_at = (select max(snapshot_at) from analytics.vector_health where project = $project)
