-- Worst p95 vector query time (ms) across the project's vector columns in the newest
-- analytics.vector_health snapshot, and which table it is. Parameters: $project.
with latest as (
    select max(snapshot_at) as ts from analytics.vector_health where project = $project
)
select
    max(v.p95_query_ms) as value,
    arg_max(v.schemaname || '.' || v.relname, v.p95_query_ms) as vector_table,
    sum(v.queries) as queries
from analytics.vector_health v, latest
where v.project = $project and v.snapshot_at is not distinct from latest.ts
