-- Share of usable connections in use, from the project's newest analytics.database_health row.
-- Parameters: $project.
select
    connection_utilisation as value,
    conn_total as connections,
    max_connections,
    usable_connections,
    snapshot_at
from analytics.database_health
where project = $project
order by snapshot_at desc
limit 1
