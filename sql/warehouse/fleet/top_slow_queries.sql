-- The slowest statements across every project of the fleet (mean time per call since $since).
-- Parameters: $since (timestamptz), $limit (e.g. 20). Organization from cost.projects, which the
-- cost assets keep in sync with the projects file (NULL for a project cost never saw).
select s.project,
       p.organization,
       s.source,
       s.fingerprint,
       min(s.query_preview) as query_preview,
       sum(s.calls) as calls,
       sum(s.total_time_ms) as total_time_ms,
       sum(s.total_time_ms) / nullif(sum(s.calls), 0) as mean_time_ms,
       max(s.max_time_ms) as max_time_ms,
       max(s.p95_ms) as worst_hour_p95_ms
from analytics.slow_queries_summary s
left join (select project, any_value(organization) as organization from cost.projects group by project) p
    using (project)
where s.hour_bucket >= $since
group by all
order by mean_time_ms desc nulls last, total_time_ms desc
limit $limit
