-- Share (0..1) of embedding generations that failed on the project's newest day in
-- analytics.embedding_stats (all models). Parameters: $project.
-- Judged on the newest raw.embedding_generation_logs load TAKEN (raw.extract_state.updated_at,
-- written by every load, also an empty one): when that load brought no generation, nothing is
-- being generated any more and the value is NULL (no data: the rule passes). Otherwise the
-- failures of the last busy day would keep the alert firing until the day ended.
-- Rows carry their load's time as extracted_at.
with latest as (
    select max(day) as day from analytics.embedding_stats where project = $project
),
latest_load as (
    select greatest(
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'embedding_generation_logs'),
        (select max(extracted_at) from raw.embedding_generation_logs where project = $project)) as ts
),
load_rows as (
    select count(*) as n
    from raw.embedding_generation_logs g, latest_load
    where g.project = $project and g.extracted_at = latest_load.ts
)
select
    case when (select n from load_rows) > 0 or (select ts from latest_load) is null
         then sum(e.error_count)::double / nullif(sum(e.total_generations), 0) end as value,
    sum(e.error_count) as errors,
    sum(e.total_generations) as generations,
    any_value(latest.day) as day,
    any_value((select n from load_rows)) as generations_in_latest_load
from analytics.embedding_stats e, latest
where e.project = $project and e.day = latest.day
