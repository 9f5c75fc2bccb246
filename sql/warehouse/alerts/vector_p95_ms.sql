-- p95 of vector query time (ms) over the last hour of raw.vector_query_logs that has data.
-- Parameters: $project.
with latest as (
    select max(created_at) as at from raw.vector_query_logs where project = $project
)
select
    quantile_cont(v.query_time_ms, 0.95) as value,
    count(*) as queries,
    avg(v.query_time_ms) as avg_ms
from raw.vector_query_logs v, latest
where v.project = $project and v.created_at > latest.at - interval 1 hour
