-- Foreign keys with the valid index (if any) whose leading columns are exactly the FK's columns,
-- in any order. A composite primary key or unique index that starts with them counts.
with fk as (
    select
        con.oid, con.conname, con.conrelid, con.confrelid,
        con.conkey::int4[] as attnums,
        con.confkey::int4[] as ref_attnums
    from pg_constraint con
    join pg_namespace n on n.oid = con.connamespace
    where con.contype = 'f'
      and n.nspname not in ('pg_catalog', 'information_schema')
)
select
    fk.conname::text                                         as constraint_name,
    ns.nspname::text                                         as schemaname,
    rel.relname::text                                        as relname,
    array(select a.attname::text from unnest(fk.attnums) with ordinality k(n, o)
          join pg_attribute a on a.attrelid = fk.conrelid and a.attnum = k.n order by k.o) as column_names,
    fk.attnums                                               as attnums,
    rns.nspname::text                                        as ref_schemaname,
    ref.relname::text                                        as ref_relname,
    array(select a.attname::text from unnest(fk.ref_attnums) with ordinality k(n, o)
          join pg_attribute a on a.attrelid = fk.confrelid and a.attnum = k.n order by k.o) as ref_column_names,
    (
        select ic.relname::text
        from pg_index i
        join pg_class ic on ic.oid = i.indexrelid
        where i.indrelid = fk.conrelid
          and i.indisvalid
          and i.indpred is null
          and array_length(fk.attnums, 1) <= i.indnkeyatts
          and (select array_agg(x::int4 order by x) from unnest((i.indkey::int2[])[0:array_length(fk.attnums, 1) - 1]) x)
              = (select array_agg(y order by y) from unnest(fk.attnums) y)
        order by i.indisprimary desc, ic.relname
        limit 1
    )                                                        as covering_index,
    rel.reltuples::float8                                    as table_rows,
    pg_total_relation_size(fk.conrelid)::bigint              as table_bytes
from fk
join pg_class rel on rel.oid = fk.conrelid
join pg_namespace ns on ns.oid = rel.relnamespace
join pg_class ref on ref.oid = fk.confrelid
join pg_namespace rns on rns.oid = ref.relnamespace
order by ns.nspname, rel.relname, fk.conname
