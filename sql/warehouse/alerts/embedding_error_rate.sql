-- Share (0..1) of embedding generations that failed on the project's newest day in
-- analytics.embedding_stats (all models). Parameters: $project.
with latest as (
    select max(day) as day from analytics.embedding_stats where project = $project
)
select
    sum(e.error_count)::double / nullif(sum(e.total_generations), 0) as value,
    sum(e.error_count) as errors,
    sum(e.total_generations) as generations,
    any_value(latest.day) as day
from analytics.embedding_stats e, latest
where e.project = $project and e.day = latest.day
