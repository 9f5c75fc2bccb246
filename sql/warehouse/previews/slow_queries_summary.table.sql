-- Markdown preview: the project's 10 statements with the most total time over its last 24 hours.
with b as (select max(hour_bucket) as last_hour from analytics.slow_queries_summary where project = $project)
select left(min(query_preview), 90) as query, sum(calls) as calls,
       round(sum(total_time_ms), 1) as total_ms, round(sum(total_time_ms) / nullif(sum(calls), 0), 2) as mean_ms
from analytics.slow_queries_summary, b
where project = $project and source = 'pg_stat_statements' and hour_bucket > b.last_hour - interval 24 hour
group by fingerprint
order by sum(total_time_ms) desc
limit 10
