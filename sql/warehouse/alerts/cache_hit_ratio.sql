-- Heap buffer cache hit ratio of the newest interval (0..1): user-table heap blocks found in
-- shared buffers / all read, between the project's two newest analytics.database_health
-- snapshots. Not the cumulative ratio since the statistics reset: that one barely moves after
-- months of counting, so a working set that stopped fitting in memory (or one that fits again)
-- would go unnoticed. Parameters: $project. NULL (no data) when the newest interval touched no
-- heap block, is the first snapshot, or follows a counter drop without a reset.
select
    interval_heap_cache_hit_ratio as value,
    heap_blks_hit_delta as blocks_hit,
    heap_blks_read_delta as blocks_read,
    heap_cache_hit_ratio as cumulative_ratio,
    index_cache_hit_ratio,
    snapshot_at
from analytics.database_health
where project = $project
order by snapshot_at desc
limit 1
