insert into raw.vector_query_logs
select
    $project, b.id, b.query_type, b.table_name, b.similarity_threshold, b.vector_dimension,
    b.query_time_ms, b.result_count, b.index_used, b.created_at, $extracted_at
from _checked b
where b._reason is null
  and not exists (
      select 1 from raw.vector_query_logs r
      where r.project = $project and r.created_at >= $dedupe_since and r.id = b.id
  )
