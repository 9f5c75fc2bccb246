-- One recommendation by id, as `aimatrix-pipeline apply` shows it. Parameters: $id.
select id, project, name, level, title, detail, remediation_sql, object_schema, object_name, impact,
       last_seen, metadata::varchar as metadata
from analytics.optimization_recommendations
where id = $id
