-- One recommendation by id, as `aimatrix-pipeline apply` shows it: a finding of
-- analytics.optimization_recommendations or an index suggestion. Parameters: $id.
select id, project, name, level, title, detail, remediation_sql, object_schema, object_name, impact,
       last_seen, metadata::varchar as metadata
from analytics.optimization_recommendations
where id = $id
union all
select id, project, name, level, title, detail, remediation_sql, object_schema, object_name, impact,
       last_seen, metadata::varchar as metadata
from analytics.index_suggestions
where id = $id and name = 'index_suggestion'
