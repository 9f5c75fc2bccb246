-- Database health per snapshot. Parameters: $project, $long_running_query_seconds,
-- $sequence_usage_max.
-- Ratios are cumulative since the statistics were last reset (what pg_stat_database reports);
-- *_delta columns are changes since the previous snapshot, NULL after a counter reset.
-- The heap block deltas are reset-aware like the statement deltas: when the database's
-- stats_reset moved inside the interval, everything counted since the reset is the interval's
-- (delta = current); a counter that went down without a reset (a dropped table, a crash) makes
-- the interval unknown (NULL). interval_heap_cache_hit_ratio is the newest interval's own ratio,
-- which moves when the workload changes, unlike the cumulative heap_cache_hit_ratio.
-- Activity and sequences come from their own snapshots, matched to the nearest database
-- snapshot at or before them (assets snapshot at slightly different moments).
with db as (
    select * from raw.database_stats where project = $project
),
act as (
    select snapshot_at,
           count(*) filter (where coalesce(state, '') <> 'idle'
                              and query_seconds > $long_running_query_seconds) as long_running_queries,
           max(query_seconds) filter (where coalesce(state, '') <> 'idle') as longest_query_seconds,
           count(*) filter (where len(coalesce(blocked_by, [])) > 0) as blocked_backends,
           coalesce(sum(len(coalesce(blocked_by, []))), 0) as blocking_pairs
    from raw.activity
    where project = $project
    group by snapshot_at
),
seqs as (
    select snapshot_at,
           -- against the smaller of the sequence's maximum and that of the column type it feeds
           max(last_value::double / nullif(least(max_value, coalesce(column_max_value, max_value)), 0))
               filter (where increment_by > 0) as max_sequence_usage_ratio,
           count(*) filter (where increment_by > 0 and not coalesce(cycle, false)
                              and last_value::double / nullif(least(max_value, coalesce(column_max_value, max_value)), 0)
                                  > $sequence_usage_max) as sequences_near_limit
    from raw.sequences
    where project = $project
    group by snapshot_at
),
joined as (
    select db.*,
           a.long_running_queries, a.longest_query_seconds, a.blocked_backends, a.blocking_pairs,
           s.max_sequence_usage_ratio, s.sequences_near_limit
    from db
    asof left join act a on db.snapshot_at >= a.snapshot_at
    asof left join seqs s on db.snapshot_at >= s.snapshot_at
),
lagged as (
    select *,
           lag(xact_commit) over w as prev_commit,
           lag(xact_rollback) over w as prev_rollback,
           lag(deadlocks) over w as prev_deadlocks,
           lag(coalesce(heap_blks_hit, blks_hit)) over w as prev_heap_hit,
           lag(coalesce(heap_blks_read, blks_read)) over w as prev_heap_read,
           lag(stats_reset) over w as prev_stats_reset,
           lag(snapshot_at) over w as prev_snapshot_at
    from joined
    window w as (partition by datname order by snapshot_at)
),
deltas as (
    select *,
           case
               when prev_snapshot_at is null then null
               when stats_reset is distinct from prev_stats_reset and stats_reset > prev_snapshot_at
                   then coalesce(heap_blks_hit, blks_hit)
               when coalesce(heap_blks_hit, blks_hit) >= prev_heap_hit
                and coalesce(heap_blks_read, blks_read) >= prev_heap_read
                   then coalesce(heap_blks_hit, blks_hit) - prev_heap_hit
           end as heap_hit_delta,
           case
               when prev_snapshot_at is null then null
               when stats_reset is distinct from prev_stats_reset and stats_reset > prev_snapshot_at
                   then coalesce(heap_blks_read, blks_read)
               when coalesce(heap_blks_hit, blks_hit) >= prev_heap_hit
                and coalesce(heap_blks_read, blks_read) >= prev_heap_read
                   then coalesce(heap_blks_read, blks_read) - prev_heap_read
           end as heap_read_delta
    from lagged
)
select $project as project,
       snapshot_at,
       datname,
       max_connections,
       max_connections - coalesce(superuser_reserved_connections, 0) as usable_connections,
       conn_total, conn_active, conn_idle, conn_idle_in_transaction, conn_waiting,
       conn_total::double / nullif(max_connections - coalesce(superuser_reserved_connections, 0), 0)
           as connection_utilisation,
       coalesce(heap_blks_hit, blks_hit)::double
           / nullif(coalesce(heap_blks_hit, blks_hit) + coalesce(heap_blks_read, blks_read), 0) as heap_cache_hit_ratio,
       idx_blks_hit::double / nullif(idx_blks_hit + idx_blks_read, 0) as index_cache_hit_ratio,
       heap_hit_delta as heap_blks_hit_delta,
       heap_read_delta as heap_blks_read_delta,
       heap_hit_delta::double / nullif(heap_hit_delta + heap_read_delta, 0) as interval_heap_cache_hit_ratio,
       xact_commit, xact_rollback,
       case when xact_commit >= prev_commit then xact_commit - prev_commit end as commits_delta,
       case when xact_rollback >= prev_rollback then xact_rollback - prev_rollback end as rollbacks_delta,
       xact_rollback::double / nullif(xact_commit + xact_rollback, 0) as rollback_ratio,
       deadlocks,
       case when deadlocks >= prev_deadlocks then deadlocks - prev_deadlocks end as deadlocks_delta,
       database_bytes,
       coalesce(long_running_queries, 0) as long_running_queries,
       longest_query_seconds,
       coalesce(blocked_backends, 0) as blocked_backends,
       coalesce(blocking_pairs, 0) as blocking_pairs,
       datfrozenxid_age as xid_age,
       datfrozenxid_age / 2147483648.0 as xid_wraparound_ratio,
       max_sequence_usage_ratio,
       coalesce(sequences_near_limit, 0) as sequences_near_limit
from deltas
