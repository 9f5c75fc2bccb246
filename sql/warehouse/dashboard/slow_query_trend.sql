-- Dashboard: statement time per project, source and hour over the last 7 days of data
-- (source pg_stat_statements: interval deltas; app_log: the app's own query logs).
with bounds as (select max(hour_bucket) as last_hour from analytics.slow_queries_summary)
select project, source, hour_bucket as hour,
       round(sum(total_time_ms), 1) as total_time_ms,
       sum(calls) as calls,
       round(max(p95_ms), 1) as worst_p95_ms
from analytics.slow_queries_summary, bounds
where hour_bucket > bounds.last_hour - interval 7 day
group by all
order by project, source, hour
