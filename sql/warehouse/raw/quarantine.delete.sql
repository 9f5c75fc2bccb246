delete from raw.quarantine
where project = $project and source_table = $source_table
  and source_id in (select id::varchar from _checked where _reason is not null)
