-- Share of max_connections in use in the newest raw.database_stats snapshot (0..1).
-- Parameters: $project.
with latest as (
    select max(snapshot_at) as at from raw.database_stats where project = $project
)
select
    max(d.conn_total)::double / nullif(max(d.max_connections), 0) as value,
    max(d.conn_total) as connections,
    max(d.max_connections) as max_connections,
    any_value(latest.at) as snapshot_at
from raw.database_stats d, latest
where d.project = $project and d.snapshot_at = latest.at
