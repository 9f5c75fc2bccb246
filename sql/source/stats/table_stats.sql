-- User tables: activity counters, vacuum/analyze history, I/O, sizes, PK presence, reloptions.
select
    t.relid::bigint                                  as relid,
    t.schemaname::text                               as schemaname,
    t.relname::text                                  as relname,
    c.reltuples::float8                              as reltuples,
    t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze,
    t.seq_scan, t.seq_tup_read, t.idx_scan, t.idx_tup_fetch,
    t.n_tup_ins, t.n_tup_upd, t.n_tup_del, t.n_tup_hot_upd,
    t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
    t.vacuum_count, t.autovacuum_count, t.analyze_count, t.autoanalyze_count,
    io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
    pg_table_size(t.relid)::bigint                   as table_bytes,
    pg_indexes_size(t.relid)::bigint                 as indexes_bytes,
    pg_total_relation_size(t.relid)::bigint          as total_bytes,
    exists (select 1 from pg_index i where i.indrelid = t.relid and i.indisprimary) as has_primary_key,
    coalesce(c.reloptions, '{}')::text[]             as reloptions,
    age(c.relfrozenxid)::bigint                      as relfrozenxid_age,
    c.relkind::text                                  as relkind
from pg_stat_user_tables t
join pg_class c on c.oid = t.relid
left join pg_statio_user_tables io on io.relid = t.relid
order by t.schemaname, t.relname
