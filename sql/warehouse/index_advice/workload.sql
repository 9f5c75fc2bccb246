-- The fingerprints that cost the most in the window, with a text to plan: pg_stat_statements
-- deltas (normalised texts with $n placeholders; the advice reads the full text of their queryids
-- from the source, the preview is the fallback), and the app's query log where it has rows (its
-- normalised previews). A fingerprint in both counts once, from pg_stat_statements.
-- Parameters: $project, $since, $until, $top.
with pgss as (
    select fingerprint, 'pg_stat_statements' as source,
           arg_max(query_preview, total_time_ms) as query_text,
           sum(calls)::bigint as calls, sum(total_exec_time_ms) as total_ms,
           list(distinct queryid order by queryid) as queryids
    from analytics.pg_stat_statements_deltas
    where project = $project and snapshot_at > $since and snapshot_at <= $until
      and fingerprint is not null and coalesce(toplevel, true)
    group by fingerprint
),
pgss_span as (
    select min(prev_snapshot_at) as t0, max(snapshot_at) as t1
    from analytics.pg_stat_statements_deltas
    where project = $project and snapshot_at > $since and snapshot_at <= $until
),
app as (
    select t.fingerprint, 'app_log' as source, any_value(t.query_preview) as query_text,
           count(*)::bigint as calls, sum(l.execution_time_ms) as total_ms, []::bigint[] as queryids
    from raw.query_performance_logs l
    join raw.query_texts t on t.project = l.project and t.text_hash = l.text_hash
    where l.project = $project and l.created_at > $since and l.created_at <= $until
      and t.parse_ok and t.fingerprint is not null
      and t.fingerprint not in (select fingerprint from pgss)
    group by t.fingerprint
),
both_sources as (
    select p.*, greatest(epoch(s.t1) - epoch(greatest(s.t0, $since)), 1) as span_seconds
    from pgss p, pgss_span s
    union all
    select a.*, greatest(epoch($until::timestamptz) - epoch($since::timestamptz), 1) as span_seconds
    from app a
)
select fingerprint, source, query_text, calls, total_ms, total_ms / calls as mean_ms,
       calls * 86400.0 / span_seconds as calls_per_day, queryids
from both_sources
where calls > 0 and total_ms > 0
order by total_ms desc, fingerprint
limit $top
