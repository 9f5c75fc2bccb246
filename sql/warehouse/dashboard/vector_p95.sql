-- Dashboard: vector search latency per project and hour (p50/p95 of query_time_ms from the app's
-- vector_query_logs), last 7 days of data.
with bounds as (select max(created_at) as last_at from raw.vector_query_logs)
select project, date_trunc('hour', created_at) as hour,
       count(*) as queries,
       round(quantile_cont(query_time_ms, 0.5), 1) as p50_ms,
       round(quantile_cont(query_time_ms, 0.95), 1) as p95_ms,
       round(avg(case when index_used then 1.0 else 0.0 end), 3) as index_used_share
from raw.vector_query_logs, bounds
where created_at > bounds.last_at - interval 7 day
group by all
order by project, hour
