-- User indexes: usage, size, uniqueness, validity, constraint backing, columns and definition.
select
    s.indexrelid::bigint                             as indexrelid,
    s.relid::bigint                                  as relid,
    s.schemaname::text                               as schemaname,
    s.relname::text                                  as relname,
    s.indexrelname::text                             as indexrelname,
    am.amname::text                                  as access_method,
    s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
    io.idx_blks_read, io.idx_blks_hit,
    pg_relation_size(s.indexrelid)::bigint           as index_bytes,
    i.indisunique                                    as is_unique,
    i.indisprimary                                   as is_primary,
    i.indisvalid                                     as is_valid,
    i.indisready                                     as is_ready,
    i.indislive                                      as is_live,
    exists (select 1 from pg_constraint k where k.conindid = s.indexrelid) as backs_constraint,
    array(
        select a.attname::text
        from unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
        left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        order by k.ord
    )                                                as column_names,
    i.indkey::int2[]::int4[]                         as indkey,
    array(
        select oc.opcname::text
        from unnest(i.indclass::oid[]) with ordinality as k(opc, ord)
        join pg_opclass oc on oc.oid = k.opc
        order by k.ord
    )                                                as opclasses,
    i.indexprs is not null                           as has_expressions,
    i.indpred is not null                            as has_predicate,
    pg_get_indexdef(s.indexrelid)::text              as indexdef,
    -- could become the primary key as it is (ALTER TABLE ... ADD PRIMARY KEY USING INDEX): a valid
    -- unique btree over plain ascending key columns that are all NOT NULL, no predicate, not
    -- already the index of a primary key, unique or exclusion constraint
    (i.indisunique and i.indisvalid and not i.indisprimary and am.amname = 'btree'
     and i.indexprs is null and i.indpred is null and i.indnkeyatts = i.indnatts
     and pg_get_indexdef(s.indexrelid) not like '% NULLS NOT DISTINCT%'
     and not exists (select 1 from unnest(i.indoption::int2[]) o where o <> 0)
     and not exists (select 1 from unnest(i.indkey::int2[]) k
                     left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k
                     where a.attnotnull is not true)
     and not exists (select 1 from pg_constraint k where k.conindid = s.indexrelid
                     and k.contype in ('p', 'u', 'x')))    as pk_candidate,
    null::timestamptz                                as stats_reset
from pg_stat_user_indexes s
join pg_index i on i.indexrelid = s.indexrelid
join pg_class ic on ic.oid = s.indexrelid
join pg_am am on am.oid = ic.relam
left join pg_statio_user_indexes io on io.indexrelid = s.indexrelid
order by s.schemaname, s.relname, s.indexrelname
