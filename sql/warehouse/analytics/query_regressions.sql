-- Week over week: statements whose mean or total time grew past a threshold.
-- Parameters: $project, $as_of, $regression_mean_growth, $regression_total_growth,
-- $regression_min_calls.
-- Cause: a plan change of the fingerprint (analytics.plan_changes, written first in the same run)
-- that coincides with the current week (the capture that saw the new plan falls in it, or the
-- span between the two captures overlaps it) is named in plan_changed and cause; the latest wins.
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
),
plan_change as (
    select fingerprint,
           arg_max(changed_at, changed_at) as changed_at,
           arg_max(prev_captured_at, changed_at) as prev_captured_at,
           arg_max(plan_hash_before, changed_at) as plan_hash_before,
           arg_max(plan_hash_after, changed_at) as plan_hash_after,
           arg_max(indexes_removed, changed_at) as indexes_removed,
           arg_max(indexes_added, changed_at) as indexes_added,
           arg_max(mean_time_ms_before, changed_at) as mean_before,
           arg_max(mean_time_ms_after, changed_at) as mean_after
    from analytics.plan_changes
    where project = $project
      and changed_at >= $as_of - interval 7 days and prev_captured_at < $as_of
    group by fingerprint
)
select $project as project, source, g.fingerprint, query_preview,
       $as_of - interval 7 days as week_start,
       calls_prev, calls_curr, mean_time_ms_prev, mean_time_ms_curr,
       total_time_ms_prev, total_time_ms_curr, mean_growth, total_growth,
       coalesce(mean_growth >= $regression_mean_growth, false) as regressed_mean,
       coalesce(total_growth >= $regression_total_growth, false) as regressed_total,
       pc.fingerprint is not null as plan_changed,
       pc.changed_at as plan_changed_at,
       pc.plan_hash_before,
       pc.plan_hash_after,
       case when pc.fingerprint is not null then
           'plan changed between ' || strftime(pc.prev_captured_at at time zone 'UTC', '%Y-%m-%d %H:%M') || ' and '
           || strftime(pc.changed_at at time zone 'UTC', '%Y-%m-%d %H:%M') || ' UTC (plan ' || pc.plan_hash_before || ' -> '
           || pc.plan_hash_after || ')'
           || case when len(pc.indexes_removed) > 0
                   then '; no longer uses ' || array_to_string(pc.indexes_removed, ', ') else '' end
           || case when len(pc.indexes_added) > 0
                   then '; now uses ' || array_to_string(pc.indexes_added, ', ') else '' end
           || case when pc.mean_before is not null and pc.mean_after is not null
                   then '; mean ' || round(pc.mean_before, 2) || ' ms -> ' || round(pc.mean_after, 2) || ' ms'
                   else '' end
       end as cause
from growth g
left join plan_change pc on pc.fingerprint = g.fingerprint
where mean_growth >= $regression_mean_growth or total_growth >= $regression_total_growth
