-- Longest-running active statement (minutes) in the newest raw.activity snapshot TAKEN. Our own
-- monitoring sessions (application_name aimatrix_pipeline) are excluded.
-- Parameters: $project. Returns value = 0 when the snapshot has no active statement.
-- "Newest taken" comes from raw.snapshot_runs, which records every snapshot, also one that found
-- no session: raw.activity alone has no row for a quiet snapshot, so its max(snapshot_at) would
-- judge the last busy snapshot forever and the alert would never resolve.
with latest as (
    select greatest(
        (select max(snapshot_at) from raw.snapshot_runs where project = $project and name = 'activity'),
        (select max(snapshot_at) from raw.activity where project = $project)) as ts
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
