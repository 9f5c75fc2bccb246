-- Heap buffer cache hit ratio of the project's newest analytics.database_health row (0..1),
-- with the index hit ratio as evidence. Parameters: $project. NULL when there is no row yet.
select
    heap_cache_hit_ratio as value,
    index_cache_hit_ratio,
    snapshot_at
from analytics.database_health
where project = $project
order by snapshot_at desc
limit 1
