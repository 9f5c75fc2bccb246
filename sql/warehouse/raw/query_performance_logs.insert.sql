-- Loadable rows of the current batch. The text itself is not stored: text_hash (md5 of the text
-- with literals masked) joins to raw.query_texts, which holds the fingerprint and a preview.
insert into raw.query_performance_logs
select
    $project, b.id, b.query_hash,
    md5(raw.mask_literals(coalesce(decode(b.query_text), ''))),
    octet_length(b.query_text),
    b.execution_time_ms, b.rows_returned, b.rows_examined,
    try_cast(b.index_usage as json), b.user_id, b.organization_id, b.created_at, $extracted_at
from _checked b
where b._reason is null
  and not exists (
      select 1 from raw.query_performance_logs r
      where r.project = $project and r.created_at >= $dedupe_since and r.id = b.id
  )
