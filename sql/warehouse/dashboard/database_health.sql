-- Dashboard: cache hit ratio and connections per project and snapshot, last 7 days of data.
with bounds as (select max(snapshot_at) as last_at from analytics.database_health)
select project, snapshot_at,
       round(heap_cache_hit_ratio, 4) as heap_cache_hit_ratio,
       round(index_cache_hit_ratio, 4) as index_cache_hit_ratio,
       conn_total, conn_active, conn_idle_in_transaction, usable_connections,
       round(connection_utilisation, 4) as connection_utilisation
from analytics.database_health, bounds
where snapshot_at > bounds.last_at - interval 7 day
order by project, snapshot_at
