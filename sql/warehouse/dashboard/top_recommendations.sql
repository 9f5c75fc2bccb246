-- Dashboard: the 10 highest-impact recommendations per project and for the fleet (project = '*'),
-- database findings, index suggestions and API findings together, with their paste-safe remediation SQL.
with recs as (
    select project, id, category, level, title, detail, remediation_sql, impact, effort, first_seen
    from analytics.optimization_recommendations
    union all
    select project, id, category, level, title, detail, remediation_sql, impact, effort, first_seen
    from analytics.api_recommendations
    union all
    select project, id, category, level, title, detail, remediation_sql, impact, effort, first_seen
    from analytics.index_suggestions
),
ranked as (
    select *,
           row_number() over (partition by project order by impact desc, effort, level, id) as project_rank,
           row_number() over (order by impact desc, effort, level, project, id) as fleet_rank
    from recs
)
select scope as project, rank, project as source_project, level, category, title, detail,
       remediation_sql, impact, effort, first_seen
from (
    select project as scope, project_rank as rank, * from ranked where project_rank <= 10
    union all
    select '*' as scope, fleet_rank as rank, * from ranked where fleet_rank <= 10
)
order by scope, rank
