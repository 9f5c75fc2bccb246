-- Mean execution time (ms) of the project's statements in the hour of the newest snapshot or load
-- TAKEN, weighted by calls, from analytics.slow_queries_summary (both sources: pg_stat_statements,
-- app_log). Parameters: $project. Returns one row: value (+ the extra columns below, usable as
-- {placeholders}); value NULL (no data: the rule passes) when that hour has no call.
-- The hour is that of the newest pg_stat_statements snapshot (raw.snapshot_runs, which records
-- empty snapshots too) or app query log load (raw.extract_state.updated_at, written by every load),
-- whichever is newer: not the newest hour that has rows, which on a quiet source would stay the
-- last busy hour and keep the alert firing until the summary window dropped it.
with taken as (
    select greatest(
        (select max(snapshot_at) from raw.snapshot_runs where project = $project and name = 'pg_stat_statements'),
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'query_performance_logs')) as ts
),
latest as (
    select coalesce(to_timestamp(floor(epoch((select ts from taken)) / 3600) * 3600),
                    (select max(hour_bucket) from analytics.slow_queries_summary where project = $project)) as h
)
select
    sum(s.total_time_ms) / nullif(sum(s.calls), 0) as value,
    sum(s.calls) as calls,
    max(s.max_time_ms) as max_ms,
    (select h from latest) as hour_bucket
from latest left join analytics.slow_queries_summary s on s.project = $project and s.hour_bucket = latest.h
