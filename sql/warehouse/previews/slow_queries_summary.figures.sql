-- Figures for analytics/slow_queries_summary's materialization (plotted over runs): the project's
-- last 24 hours of data. Parameter: $project.
with b as (select max(hour_bucket) as last_hour from analytics.slow_queries_summary where project = $project)
select round(sum(total_time_ms) filter (where source = 'pg_stat_statements'), 1) as total_time_ms_24h,
       sum(calls) filter (where source = 'pg_stat_statements') as calls_24h,
       round(max(p95_ms) filter (where source = 'app_log'), 1) as worst_hour_p95_ms,
       count(distinct fingerprint) as statements_24h
from analytics.slow_queries_summary, b
where project = $project and hour_bucket > b.last_hour - interval 24 hour
