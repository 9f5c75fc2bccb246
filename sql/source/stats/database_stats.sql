-- The monitored database as a whole: size, transactions, cache, deadlocks, connections by state.
with conns as (
    select
        count(*)                                                    as total,
        count(*) filter (where state = 'active')                    as active,
        count(*) filter (where state = 'idle')                      as idle,
        count(*) filter (where state in ('idle in transaction', 'idle in transaction (aborted)'))
                                                                    as idle_in_transaction,
        count(*) filter (where wait_event_type = 'Lock')            as waiting
    from pg_stat_activity
    where backend_type = 'client backend'
),
io as (
    select
        coalesce(sum(heap_blks_read), 0)::bigint as heap_blks_read,
        coalesce(sum(heap_blks_hit), 0)::bigint  as heap_blks_hit,
        coalesce(sum(idx_blks_read), 0)::bigint  as idx_blks_read,
        coalesce(sum(idx_blks_hit), 0)::bigint   as idx_blks_hit
    from pg_statio_user_tables
)
select
    d.datid::bigint                                          as datid,
    d.datname::text                                          as datname,
    pg_database_size(d.datid)::bigint                        as database_bytes,
    d.numbackends,
    d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit,
    d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted,
    d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks,
    d.stats_reset,
    io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
    current_setting('max_connections')::integer              as max_connections,
    current_setting('superuser_reserved_connections')::integer as superuser_reserved_connections,
    conns.total::integer                                     as conn_total,
    conns.active::integer                                    as conn_active,
    conns.idle::integer                                      as conn_idle,
    conns.idle_in_transaction::integer                       as conn_idle_in_transaction,
    conns.waiting::integer                                   as conn_waiting,
    age(db.datfrozenxid)::bigint                             as datfrozenxid_age,
    pg_postmaster_start_time()                               as postmaster_start_time,
    current_setting('server_version_num')::integer           as server_version_num
from pg_stat_database d
join pg_database db on db.oid = d.datid
cross join conns
cross join io
where d.datname = current_database()
