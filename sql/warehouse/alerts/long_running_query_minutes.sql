-- Longest-running active statement (minutes) in the newest raw.activity snapshot. Our own
-- monitoring sessions (application_name aimatrix_pipeline) are excluded.
-- Parameters: $project. Returns value = 0 when the snapshot has no active statement.
with latest as (
    select max(snapshot_at) as ts from raw.activity where project = $project
)
select
    coalesce(max(a.query_seconds) filter (where a.state = 'active'
        and coalesce(a.application_name, '') <> 'aimatrix_pipeline'), 0) / 60.0 as value,
    arg_max(a.pid, a.query_seconds) filter (where a.state = 'active'
        and coalesce(a.application_name, '') <> 'aimatrix_pipeline') as pid,
    arg_max(a.query_preview, a.query_seconds) filter (where a.state = 'active'
        and coalesce(a.application_name, '') <> 'aimatrix_pipeline') as query_preview,
    any_value(latest.ts) as snapshot_at
from latest left join raw.activity a on a.project = $project and a.snapshot_at = latest.ts
where latest.ts is not null
