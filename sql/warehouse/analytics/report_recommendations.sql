-- `aimatrix-pipeline report recommendations`: current findings, highest impact first.
-- Parameters: $project (NULL = all), $limit.
select project, id, name, level, impact, effort, object_schema, object_name, title,
       first_seen, remediation_sql
from analytics.optimization_recommendations
where $project is null or project = $project
order by impact desc, effort, project, name, object_key
limit $limit
