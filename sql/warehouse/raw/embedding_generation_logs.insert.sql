insert into raw.embedding_generation_logs
select
    $project, b.id, b.model, b.token_count, b.generation_time_ms, decode(b.error), b.created_at, $extracted_at
from _checked b
where b._reason is null
  and not exists (
      select 1 from raw.embedding_generation_logs r
      where r.project = $project and r.created_at >= $dedupe_since and r.id = b.id
  )
