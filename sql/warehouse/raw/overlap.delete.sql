-- Incremental runs re-read an overlap window before the high-water mark (late commits). Rows of
-- the batch already in the warehouse are deleted first and inserted again (the newer read wins),
-- so the overlap never doubles a row. Initial loads skip this step. {table} is raw.<log table>.
delete from raw.{table}
where project = $project
  and created_at >= $dedupe_since
  and id in (select try_cast(id as uuid) from _checked where _reason is null)
