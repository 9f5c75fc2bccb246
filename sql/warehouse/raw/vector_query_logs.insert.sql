insert into raw.vector_query_logs
select
    $project, b.id::uuid, b.query_type, b.table_name, b.similarity_threshold, b.vector_dimension,
    b.query_time_ms, b.result_count, b.index_used, b.created_at, $extracted_at
from _checked b
where b._reason is null
