-- Mean execution time (ms) of the project's statements in the hour of the newest snapshot or load
-- TAKEN, weighted by calls, from analytics.slow_queries_summary (both sources: pg_stat_statements,
-- app_log). Parameters: $project. Returns one row: value (+ the extra columns below, usable as
-- {placeholders}); value NULL (no data: the rule passes) when nothing ran in the newest period.
-- The hour is that of the newest pg_stat_statements snapshot (raw.snapshot_runs, which records
-- empty snapshots too) or app query log load (raw.extract_state.updated_at, written by every load),
-- whichever is newer: not the newest hour that has rows, which on a quiet source would stay the
-- last busy hour and keep the alert firing until the summary window dropped it.
-- Quiet: the newest pg_stat_statements interval (analytics.pg_stat_statements_intervals) counted no
-- call but the monitoring role's own, and the newest query log load brought no row. An empty
-- period is a judgement too: the slow calls earlier in the hour no longer keep the alert firing.
with taken as (
    select greatest(
        (select max(snapshot_at) from raw.snapshot_runs where project = $project and name = 'pg_stat_statements'),
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'query_performance_logs')) as ts
),
latest as (
    select coalesce(to_timestamp(floor(epoch((select ts from taken)) / 3600) * 3600),
                    (select max(hour_bucket) from analytics.slow_queries_summary where project = $project)) as h
),
last_interval as (
    select max(snapshot_at) as ts from analytics.pg_stat_statements_intervals where project = $project
),
last_load as (
    select greatest(
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'query_performance_logs'),
        (select max(extracted_at) from raw.query_performance_logs where project = $project)) as ts
),
period as (
    select
        (select coalesce(sum(d.calls), 0) from analytics.pg_stat_statements_deltas d, last_interval i
         where d.project = $project and d.snapshot_at = i.ts
           and d.userid not in (select monitor_userid from raw.pg_stat_statements_info
                                where project = $project and monitor_userid is not null)) as statement_calls,
        (select count(*) from raw.query_performance_logs l, last_load
         where l.project = $project and l.extracted_at = last_load.ts) as logged_calls,
        (select ts from last_interval) is not null or (select ts from last_load) is not null as known
)
select
    case when not any_value(period.known and period.statement_calls = 0 and period.logged_calls = 0)
         then sum(s.total_time_ms) / nullif(sum(s.calls), 0) end as value,
    sum(s.calls) as calls,
    max(s.max_time_ms) as max_ms,
    any_value(latest.h) as hour_bucket,
    any_value(period.statement_calls + period.logged_calls) as calls_in_latest_period
from latest cross join period
left join analytics.slow_queries_summary s on s.project = $project and s.hour_bucket = latest.h
