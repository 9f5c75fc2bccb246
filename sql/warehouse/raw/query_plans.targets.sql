-- The statements whose plans a capture keeps: the top $top fingerprints by total time in the last
-- $window_hours of pg_stat_statements deltas (ending at the project's newest delta), each with the
-- queryid (and dbid) that took most of its time, whose text is then read from the source.
-- Parameters: $project, $top, $window_hours.
with recent as (
    select coalesce(fingerprint, 'queryid:' || queryid) as fingerprint, dbid, queryid, query_preview,
           calls, total_time_ms
    from analytics.pg_stat_statements_deltas
    where project = $project
      and snapshot_at > (select max(snapshot_at) from analytics.pg_stat_statements_deltas where project = $project)
                        - to_microseconds(cast($window_hours * 3600000000 as bigint))
),
per_query as (
    select fingerprint, dbid, queryid, min(query_preview) as query_preview,
           sum(calls) as calls, sum(total_time_ms) as total_time_ms
    from recent group by fingerprint, dbid, queryid
),
per_fingerprint as (
    select fingerprint,
           arg_max(dbid, total_time_ms) as dbid,
           arg_max(queryid, total_time_ms) as queryid,
           arg_max(query_preview, total_time_ms) as query_preview,
           sum(total_time_ms) as total_time_ms,
           sum(calls) as calls
    from per_query group by fingerprint
)
select fingerprint, dbid, queryid, query_preview, total_time_ms, calls,
       cast(row_number() over (order by total_time_ms desc, fingerprint) as integer) as rank
from per_fingerprint
order by rank
limit $top
