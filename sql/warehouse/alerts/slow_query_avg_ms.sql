-- Mean execution time (ms) of the project's statements in the NEWEST PERIOD: the newest
-- pg_stat_statements interval (analytics.pg_stat_statements_deltas, the monitoring role's own
-- statements left out) and the newest app query log load (the rows it brought), weighted by calls.
-- Parameters: $project. Returns one row: value (+ the extra columns below, usable as
-- {placeholders}); value NULL (no data: the rule passes) when nothing ran in the newest period.
-- Why the newest period and not the hour: an hour that held a slow burst kept its mean above the
-- threshold for the rest of the hour, so after the alert resolved on a quiet interval, one fast
-- statement in a later interval (a DBA's pg_stat_statements_reset(), a health check) judged the
-- hour again and fired it again; the newest period judges what ran since the previous snapshot, as
-- cache_hit_ratio_low judges the newest interval.
-- Before any interval or log load exists (a warehouse of summaries only), the hour of the newest
-- snapshot taken (raw.snapshot_runs) is judged from analytics.slow_queries_summary.
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
statements as (
    select coalesce(sum(d.calls), 0) as calls, coalesce(sum(d.total_time_ms), 0) as time_ms,
           max(d.interval_max_exec_time_ms) as max_ms
    from analytics.pg_stat_statements_deltas d, last_interval i
    where d.project = $project and d.snapshot_at = i.ts
      and d.userid not in (select monitor_userid from raw.pg_stat_statements_info
                           where project = $project and monitor_userid is not null)
),
logged as (
    select count(*) as calls, coalesce(sum(l.execution_time_ms), 0) as time_ms, max(l.execution_time_ms) as max_ms
    from raw.query_performance_logs l, last_load
    where l.project = $project and l.extracted_at = last_load.ts
),
period as (
    select s.calls as statement_calls, g.calls as logged_calls, s.time_ms + g.time_ms as time_ms,
           greatest(s.max_ms, g.max_ms) as max_ms,
           (select ts from last_interval) is not null or (select ts from last_load) is not null as known
    from statements s, logged g
),
hour as (
    select sum(s.total_time_ms) as time_ms, sum(s.calls) as calls, max(s.max_time_ms) as max_ms
    from latest join analytics.slow_queries_summary s on s.project = $project and s.hour_bucket = latest.h
)
select
    case when p.known then p.time_ms / nullif(p.statement_calls + p.logged_calls, 0)
         else hour.time_ms / nullif(hour.calls, 0) end as value,
    case when p.known then p.statement_calls + p.logged_calls else hour.calls end as calls,
    case when p.known then p.max_ms else hour.max_ms end as max_ms,
    latest.h as hour_bucket,
    p.statement_calls + p.logged_calls as calls_in_latest_period
from period p cross join hour cross join latest
