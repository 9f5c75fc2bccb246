-- Share (0..1) of embedding generations that failed over the last hour of
-- raw.embedding_generation_logs that has data. Parameters: $project.
with latest as (
    select max(created_at) as at from raw.embedding_generation_logs where project = $project
)
select
    count(*) filter (where e.error is not null and e.error <> '')::double / nullif(count(*), 0) as value,
    count(*) filter (where e.error is not null and e.error <> '') as errors,
    count(*) as generations
from raw.embedding_generation_logs e, latest
where e.project = $project and e.created_at > latest.at - interval 1 hour
