-- Dashboard: application errors per project and hour (raw.error_events) next to the hour's
-- database query volume from the app's query logs, and errors per 1000 logged queries.
with bounds as (
    select greatest((select max(created_at) from raw.error_events),
                    (select max(created_at) from raw.query_performance_logs)) as last_at
),
errors as (
    select project, date_trunc('hour', created_at) as hour, count(*) as errors,
           count(*) filter (where severity in ('error', 'critical', 'fatal')) as severe
    from raw.error_events, bounds where created_at > bounds.last_at - interval 7 day group by all
),
queries as (
    select project, date_trunc('hour', created_at) as hour, count(*) as queries
    from raw.query_performance_logs, bounds where created_at > bounds.last_at - interval 7 day group by all
)
select project, hour, coalesce(e.errors, 0) as errors, coalesce(e.severe, 0) as severe_errors,
       coalesce(q.queries, 0) as logged_queries,
       round(1000.0 * coalesce(e.errors, 0) / nullif(q.queries, 0), 2) as errors_per_1000_queries
from errors e full join queries q using (project, hour)
order by project, hour
