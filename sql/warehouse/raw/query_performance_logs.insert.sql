-- Loadable rows of the current batch. The text itself is not stored: text_hash (the hash of the
-- literal-masked text the extract appended as _masked) joins to raw.query_texts, which holds the
-- fingerprint and a literal-free preview.
insert into raw.query_performance_logs
select
    $project, b.id::uuid, b.query_hash, raw.text_hash(b._masked), octet_length(b.query_text),
    b.execution_time_ms, b.rows_returned, b.rows_examined,
    try_cast(b.index_usage as json), try_cast(b.user_id as uuid), try_cast(b.organization_id as uuid), b.created_at, $extracted_at
from _checked b
where b._reason is null
