-- Evidence for the API threshold checks: how many findings of $name the project has and the worst
-- one (highest impact). Parameters: $project, $name.
select
    count(*) as findings,
    arg_max(title, impact) as worst,
    arg_max(metadata->>'p95_ms', impact) as worst_p95_ms,
    arg_max(metadata->>'error_rate_5xx', impact) as worst_error_rate_5xx,
    arg_max(metadata->>'requests', impact) as worst_requests
from analytics.api_recommendations
where project = $project and name = $name
