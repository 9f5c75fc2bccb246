-- Worst p95 vector query time (ms) across the project's vector tables in the newest
-- raw.vector_query_logs load TAKEN, and which table it is. Parameters: $project.
-- analytics.vector_health's p95 is over every logged query ever loaded, so a slow week would keep
-- the alert firing long after queries became fast or stopped. The newest load taken
-- (raw.extract_state.updated_at, written by every load, also an empty one) is judged instead:
-- value NULL (no data: the rule passes) when it brought no vector query. Rows carry their load's
-- time as extracted_at (rows without any load record are all judged); the check runs with analytics/vector_health, derived after each load.
with latest_load as (
    select greatest(
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'vector_query_logs'),
        (select max(extracted_at) from raw.vector_query_logs where project = $project)) as ts
),
per_table as (
    select v.table_name, quantile_cont(v.query_time_ms, 0.95) as p95, count(*) as queries
    from raw.vector_query_logs v, latest_load
    where v.project = $project and (v.extracted_at = latest_load.ts or latest_load.ts is null)
    group by v.table_name
)
select
    max(p95) as value,
    arg_max(table_name, p95) as vector_table,
    coalesce(sum(queries), 0) as queries,
    (select ts from latest_load) as loaded_at
from per_table
