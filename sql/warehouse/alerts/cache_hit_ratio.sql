-- Buffer cache hit ratio of the newest raw.database_stats snapshot: blks_hit / (blks_hit + blks_read)
-- (cumulative since the statistics reset, as Supabase's own "cache hit rate" report computes it).
-- Parameters: $project. Returns one row: value in [0, 1], NULL when there is no snapshot or no I/O.
with latest as (
    select max(snapshot_at) as at from raw.database_stats where project = $project
)
select
    sum(d.blks_hit)::double / nullif(sum(d.blks_hit) + sum(d.blks_read), 0) as value,
    sum(d.blks_hit) as blks_hit,
    sum(d.blks_read) as blks_read,
    any_value(latest.at) as snapshot_at
from raw.database_stats d, latest
where d.project = $project and d.snapshot_at = latest.at
