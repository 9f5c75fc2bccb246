-- Late commits: ids stamped inside the overlap window (_window, read from the source) that this
-- project's raw.{table} has not loaded and raw.quarantine has not kept. Usually none.
with window_ids as (
    select id::varchar as id, try_cast(id as uuid) as uid from _window where id is not null
),
loaded as (
    select id from raw.{table} where project = $project and created_at >= $since
)
select w.id
from window_ids w
anti join loaded l on l.id = w.uid
anti join (
    select source_id from raw.quarantine where project = $project and source_table = $source_table
) q on q.source_id = w.id
