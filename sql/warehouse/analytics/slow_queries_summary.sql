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
--   The summary filter: keep a group when calls > $summary_min_calls or its mean is above
--   $summary_min_avg_ms. slow_calls counts calls above $slow_query_ms.
-- hour_bucket: the UTC hour (the start of the hour in UTC, whatever the session time zone). Hour
--   numbers are bigint: an int32 overflows past 2038 (hour * 3600), and PostgreSQL accepts any year
--   up to 294276.
-- share_of_total_time: the group's total / all time of the project, source and hour (computed
--   before the app_log filter, so shares are of all logged time).
-- The pipeline's own statements are left out unless $include_own_statements
--   (AIMATRIX_SLOW_QUERIES_INCLUDE_OWN): those of the role it reads as (raw.pg_stat_statements_info
--   .monitor_userid, recorded only for a dedicated role: not a superuser, not the database owner,
--   whose statements could be the app's), and those `aimatrix-pipeline apply` sent (fingerprints
--   recorded in ops.applied_recommendations.verification.own_fingerprints).
with own_roles as (
    select distinct monitor_userid as userid from raw.pg_stat_statements_info
    where project = $project and monitor_userid is not null
),
own_fingerprints as (
    select distinct fp as fingerprint from (
        select unnest(from_json(json_extract(verification, '$.own_fingerprints'), '["VARCHAR"]')) as fp
        from ops.applied_recommendations where project = $project
    ) where fp is not null
),
pgss as (
    select 'pg_stat_statements' as source,
           coalesce(fingerprint, 'queryid:' || queryid) as fingerprint,
           min(query_preview) as query_preview,
           to_timestamp(floor(epoch(snapshot_at) / 3600) * 3600) as hour_bucket,
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
      and ($include_own_statements
           or (not exists (select 1 from own_roles o where o.userid = pg_stat_statements_deltas.userid)
               and not exists (select 1 from own_fingerprints o
                               where o.fingerprint = pg_stat_statements_deltas.fingerprint)))
    group by all
),
app_texts as (
    -- one row per distinct text, with a small integer per fingerprint: grouping 10M rows by two
    -- integers is about twice as fast as by a string and a timestamp
    select text_hash, fingerprint, dense_rank() over (order by fingerprint)::integer as fid
    from (select text_hash, any_value(fingerprint) as fingerprint
          from raw.query_texts where project = $project group by text_hash)
),
app_fingerprints as (
    select t.fid, any_value(t.fingerprint) as fingerprint, min(q.query_preview) as query_preview
    from app_texts t
    join raw.query_texts q on q.project = $project and q.text_hash = t.text_hash
    group by t.fid
),
app_groups as (
    -- one pass over the log rows; texts missing from raw.query_texts keep their own group
    select coalesce(t.fid, -1) as fid,
           case when t.fid is null then l.text_hash end as orphan_hash,
           floor(epoch(l.created_at) / 3600)::bigint as hour_no,
           count(*) as calls,
           sum(l.execution_time_ms) as total_time_ms,
           max(l.execution_time_ms) as max_time_ms,
           sum(l.rows_returned) as rows,
           quantile_cont(l.execution_time_ms, [0.5, 0.95, 0.99]) as q,
           sum((l.execution_time_ms > $slow_query_ms)::integer) as slow_calls
    from raw.query_performance_logs l
    left join app_texts t on t.text_hash = l.text_hash
    where l.project = $project
      and l.created_at >= $as_of - to_hours(cast($summary_window_hours as bigint))
    group by all
),
app_with_q as (
    select 'app_log' as source,
           coalesce(f.fingerprint, 'text:' || g.orphan_hash) as fingerprint,
           f.query_preview,
           to_timestamp(g.hour_no * 3600) as hour_bucket,
           g.calls, g.total_time_ms, g.max_time_ms, g.rows, g.q, g.slow_calls,
           cast(null as bigint) as queryids
    from app_groups g
    left join app_fingerprints f on f.fid = g.fid
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
