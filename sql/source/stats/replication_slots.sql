-- Replication slots of the server (physical ones are cluster-wide; logical ones belong to one
-- database) with the WAL each holds back: the distance from its restart_lsn to the current WAL
-- position (on a standby, the last replayed one). A slot without restart_lsn retains nothing.
select
    s.slot_name::text                                        as slot_name,
    s.slot_type::text                                        as slot_type,
    s.plugin::text                                           as plugin,
    s.database::text                                         as database,
    s.temporary                                              as temporary,
    s.active                                                 as active,
    s.wal_status::text                                       as wal_status,
    s.restart_lsn::text                                      as restart_lsn,
    pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end,
                    s.restart_lsn)::bigint                   as retained_bytes
from pg_replication_slots s
where s.database is null or s.database = current_database()
order by 1
