-- Minutes since the newest successful extraction of the project: the latest raw.database_stats
-- snapshot or incremental log load (raw.extract_state.updated_at), whichever is newer.
-- Parameters: $project. NULL (no data) before the first extraction.
with newest as (
    select max(ts) as ts from (
        select max(snapshot_at) as ts from raw.database_stats where project = $project
        union all
        select max(updated_at) from raw.extract_state where project = $project
    )
)
select
    date_diff('second', ts, now()) / 60.0 as value,
    ts as last_extracted_at
from newest
where ts is not null
