-- Dashboard: the 10 statements with the most total time over the last 24 hours of data, per
-- project and for the fleet (project = '*'), from pg_stat_statements deltas and the app's query
-- logs (source). Query text is the literal-free preview.
with bounds as (select max(hour_bucket) as last_hour from analytics.slow_queries_summary),
per_query as (
    select project, source, fingerprint, min(query_preview) as query_preview,
           sum(calls) as calls, sum(total_time_ms) as total_time_ms, max(max_time_ms) as max_time_ms
    from analytics.slow_queries_summary, bounds
    where hour_bucket > bounds.last_hour - interval 24 hour
    group by project, source, fingerprint
),
ranked as (
    select *, row_number() over (partition by project order by total_time_ms desc, source, fingerprint) as project_rank,
           row_number() over (order by total_time_ms desc, project, source, fingerprint) as fleet_rank
    from per_query
)
select scope as project, rank, project as source_project, source, left(query_preview, 200) as query_preview,
       calls, round(total_time_ms, 1) as total_time_ms,
       round(total_time_ms / nullif(calls, 0), 2) as mean_time_ms, round(max_time_ms, 1) as max_time_ms
from (
    select project as scope, project_rank as rank, * from ranked where project_rank <= 10
    union all
    select '*' as scope, fleet_rank as rank, * from ranked where fleet_rank <= 10
)
order by scope, rank
