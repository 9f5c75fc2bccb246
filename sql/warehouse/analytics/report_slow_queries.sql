-- `aimatrix-pipeline report slow-queries`: the slowest statements over the last $hours hours,
-- one row per project, source and fingerprint, ranked by total time. Parameters: $project
-- (NULL = all), $hours, $limit.
select project, source, fingerprint,
       sum(calls) as calls,
       round(sum(total_time_ms), 1) as total_time_ms,
       round(sum(total_time_ms) / sum(calls), 1) as mean_time_ms,
       round(max(max_time_ms), 1) as max_time_ms,
       round(max(p95_ms), 1) as worst_hour_p95_ms,
       left(min(query_preview), 120) as query_preview
from analytics.slow_queries_summary
where ($project is null or project = $project)
  and hour_bucket >= now() - to_hours(cast($hours as bigint))
group by project, source, fingerprint
order by sum(total_time_ms) desc
limit $limit
