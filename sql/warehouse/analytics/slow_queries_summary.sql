-- Per project, source, fingerprint and hour: calls, time, rows, share of the hour's time.
-- Parameters: $project, $as_of, $summary_window_hours, $slow_query_ms, $summary_min_calls,
-- $summary_min_avg_ms.
--
-- pg_stat_statements: from analytics.pg_stat_statements_deltas (interval ending in the hour);
--   statements with the same libpg_query fingerprint are folded (queryids = how many). Time =
--   execution + planning. max_time_ms is the largest max_exec_time that rose within an interval of
--   the hour, or the largest interval mean when no max is known. No percentiles (not in the view).
-- app_log: from raw.query_performance_logs joined to raw.query_texts (fingerprint and
--   literal-free preview computed once per distinct text at extract time); percentiles exact.
--   The seed's filter applies: keep a group when calls > $summary_min_calls or its mean is above
--   $summary_min_avg_ms. slow_calls counts calls above $slow_query_ms.
-- share_of_total_time: the group's total / all time of the project, source and hour (computed
--   before the app_log filter, so shares are of all logged time).
with pgss as (
    select 'pg_stat_statements' as source,
           coalesce(fingerprint, 'queryid:' || queryid) as fingerprint,
           min(query_preview) as query_preview,
           date_trunc('hour', snapshot_at) as hour_bucket,
           sum(calls) as calls,
           sum(total_time_ms) as total_time_ms,
           coalesce(max(interval_max_exec_time_ms), max(mean_time_ms)) as max_time_ms,
           sum(rows) as rows,
           cast(null as double) as p50_ms,
           cast(null as double) as p95_ms,
           cast(null as double) as p99_ms,
           cast(null as bigint) as slow_calls,
           count(distinct queryid) as queryids
    from analytics.pg_stat_statements_deltas
    where project = $project
      and snapshot_at >= $as_of - to_hours(cast($summary_window_hours as bigint))
    group by all
),
app_texts as (
    select text_hash, any_value(fingerprint) as fingerprint, any_value(query_preview) as query_preview
    from raw.query_texts
    where project = $project
    group by text_hash
),
app_with_q as (
    -- one pass over the log rows; the text lookup is a hash join on a few thousand rows
    select 'app_log' as source,
           coalesce(t.fingerprint, 'text:' || l.text_hash) as fingerprint,
           min(t.query_preview) as query_preview,
           date_trunc('hour', l.created_at) as hour_bucket,
           count(*) as calls,
           sum(l.execution_time_ms) as total_time_ms,
           max(l.execution_time_ms) as max_time_ms,
           sum(l.rows_returned) as rows,
           quantile_cont(l.execution_time_ms, [0.5, 0.95, 0.99]) as q,
           count(*) filter (where l.execution_time_ms > $slow_query_ms) as slow_calls,
           cast(null as bigint) as queryids
    from raw.query_performance_logs l
    left join app_texts t on t.text_hash = l.text_hash
    where l.project = $project
      and l.created_at >= $as_of - to_hours(cast($summary_window_hours as bigint))
    group by all
),
all_groups as (
    select * from pgss
    union all by name
    select * exclude (q), q[1] as p50_ms, q[2] as p95_ms, q[3] as p99_ms from app_with_q
),
shared as (
    select *,
           total_time_ms / calls as mean_time_ms,
           total_time_ms / nullif(sum(total_time_ms) over (partition by source, hour_bucket), 0)
               as share_of_total_time
    from all_groups
)
select $project as project, source, fingerprint, query_preview, hour_bucket, calls, total_time_ms,
       mean_time_ms, max_time_ms, rows, share_of_total_time, p50_ms, p95_ms, p99_ms, slow_calls,
       queryids
from shared
where source = 'pg_stat_statements'
   or calls > $summary_min_calls
   or mean_time_ms > $summary_min_avg_ms
