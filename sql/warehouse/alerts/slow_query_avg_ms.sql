-- Mean execution time (ms) of the project's statements over the most recent hour that has data,
-- weighted by calls, from analytics.slow_queries_summary (both sources: pg_stat_statements, app_log).
-- Parameters: $project. Returns one row: value (+ the extra columns below, usable as {placeholders}).
with latest as (
    select max(hour_bucket) as h from analytics.slow_queries_summary where project = $project
)
select
    sum(s.total_time_ms) / nullif(sum(s.calls), 0) as value,
    sum(s.calls) as calls,
    max(s.max_time_ms) as max_ms,
    (select h from latest) as hour_bucket
from analytics.slow_queries_summary s, latest
where s.project = $project and s.hour_bucket = latest.h
