insert into raw.embedding_generation_logs
select
    $project, b.id::uuid, b.model, b.token_count, b.generation_time_ms, decode(b.error), b.created_at, $extracted_at
from _checked b
where b._reason is null
