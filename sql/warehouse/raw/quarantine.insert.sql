-- Rows of the current batch that failed their checks: replace any earlier quarantine row for the
-- same source id (re-extraction never duplicates), keep the whole row: {row_json} is a
-- json_object(...) of every column but the payload, which is kept as bytes (invalid UTF-8 survives).
insert into raw.quarantine
select
    $project, $source_table, b.id::varchar, b._reason,
    {row_json}::varchar,
    b.{payload_column},
    $extracted_at
from _checked b
where b._reason is not null
