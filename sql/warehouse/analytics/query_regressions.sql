-- Week over week: statements whose mean or total time grew past a threshold.
-- Parameters: $project, $as_of, $regression_mean_growth, $regression_total_growth,
-- $regression_min_calls.
-- Current week = [as_of - 7 d, as_of), previous week = the 7 days before. Both weeks need at least
-- $regression_min_calls calls. Sources: pg_stat_statements deltas and app logs, by fingerprint.
with events as (
    select 'pg_stat_statements' as source,
           coalesce(fingerprint, 'queryid:' || queryid) as fingerprint,
           query_preview, snapshot_at as event_at, calls, total_time_ms
    from analytics.pg_stat_statements_deltas
    where project = $project
      and snapshot_at >= $as_of - interval 14 days and snapshot_at < $as_of
    union all
    select 'app_log',
           coalesce(t.fingerprint, 'text:' || l.text_hash),
           t.query_preview, l.created_at, 1, l.execution_time_ms
    from raw.query_performance_logs l
    left join raw.query_texts t on t.project = l.project and t.text_hash = l.text_hash
    where l.project = $project
      and l.created_at >= $as_of - interval 14 days and l.created_at < $as_of
),
weeks as (
    select source, fingerprint, min(query_preview) as query_preview,
           sum(calls) filter (where event_at < $as_of - interval 7 days) as calls_prev,
           sum(calls) filter (where event_at >= $as_of - interval 7 days) as calls_curr,
           sum(total_time_ms) filter (where event_at < $as_of - interval 7 days) as total_time_ms_prev,
           sum(total_time_ms) filter (where event_at >= $as_of - interval 7 days) as total_time_ms_curr
    from events
    group by source, fingerprint
),
growth as (
    select *,
           total_time_ms_prev / calls_prev as mean_time_ms_prev,
           total_time_ms_curr / calls_curr as mean_time_ms_curr,
           (total_time_ms_curr / calls_curr) / nullif(total_time_ms_prev / calls_prev, 0) as mean_growth,
           total_time_ms_curr / nullif(total_time_ms_prev, 0) as total_growth
    from weeks
    where calls_prev >= $regression_min_calls and calls_curr >= $regression_min_calls
)
select $project as project, source, fingerprint, query_preview,
       $as_of - interval 7 days as week_start,
       calls_prev, calls_curr, mean_time_ms_prev, mean_time_ms_curr,
       total_time_ms_prev, total_time_ms_curr, mean_growth, total_growth,
       coalesce(mean_growth >= $regression_mean_growth, false) as regressed_mean,
       coalesce(total_growth >= $regression_total_growth, false) as regressed_total
from growth
where mean_growth >= $regression_mean_growth or total_growth >= $regression_total_growth
