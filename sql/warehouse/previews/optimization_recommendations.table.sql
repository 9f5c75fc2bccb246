-- Markdown preview: the project's 5 highest-impact recommendations with their remediation SQL.
select level, title, impact, effort, remediation_sql
from analytics.optimization_recommendations where project = $project
order by impact desc, effort, id
limit 5
