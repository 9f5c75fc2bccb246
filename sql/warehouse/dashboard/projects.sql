-- Dashboard: the projects the warehouse knows (configured ones and any that have data), for the
-- project selector, with each project's latest snapshot time.
select project, max(last_seen) as last_seen
from (
    select project, null::timestamptz as last_seen from cost.projects
    union all select project, max(snapshot_at) from analytics.database_health group by project
    union all select project, max(hour_bucket) from analytics.slow_queries_summary group by project
    union all select project, max(scraped_at) from raw.project_metrics group by project
)
group by project
order by project
