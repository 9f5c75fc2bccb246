-- Estimated bloat of tables, materialized views and btree indexes, without an extension: the
-- pages a relation would need for its rows (from reltuples and the planner statistics' average
-- column widths and null fractions in pg_stats) against the pages it has. Rough by nature
-- (alignment is approximated per tuple, TOAST is not counted), as the estimates of PgHero and
-- `supabase inspect db bloat` are. pg_stats shows only columns the role may SELECT, so for
-- relations the monitoring role cannot read no row is returned (stats_complete stays honest:
-- a relation with a column lacking statistics is left out).
with const as (
    select current_setting('block_size')::numeric as bs
),
rels as (
    select c.oid, n.nspname, c.relname, c.relpages, c.reltuples,
           coalesce((select split_part(o, '=', 2)::int from unnest(c.reloptions) o where o like 'fillfactor=%'), 100)
               as fillfactor
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'm')
      and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_toast%'
      and c.reltuples > 0 and c.relpages > 0
),
cols as (
    select r.oid, a.attnum, s.avg_width, s.null_frac
    from rels r
    join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    left join pg_stats s on s.schemaname = r.nspname and s.tablename = r.relname and s.attname = a.attname
                        and not s.inherited
),
widths as (
    select oid, count(*) as ncols, count(avg_width) as ncols_with_stats,
           sum((1 - null_frac) * avg_width) as data_width, bool_or(null_frac > 0) as has_nulls
    from cols
    group by oid
),
tables as (
    select r.*, w.ncols, w.ncols_with_stats, w.data_width, w.has_nulls,
           -- tuple header (23 bytes + null bitmap) and data, each padded to 8 bytes, + a 4-byte line pointer
           ceil((23 + case when w.has_nulls then ceil(w.ncols / 8.0) else 0 end) / 8.0) * 8
               + ceil(w.data_width / 8.0) * 8 + 4 as tuple_bytes
    from rels r join widths w using (oid)
    where w.ncols_with_stats = w.ncols
),
indexes as (
    select t.nspname, t.relname, ic.relname as indexrelname, ic.relpages, ic.reltuples,
           coalesce((select split_part(o, '=', 2)::int from unnest(ic.reloptions) o where o like 'fillfactor=%'), 90)
               as fillfactor,
           -- index tuple header (8 bytes) and the key columns, padded to 8, + a 4-byte line pointer
           8 + ceil((select sum(c.avg_width) from unnest(i.indkey::int2[]) k
                     join cols c on c.oid = i.indrelid and c.attnum = k) / 8.0) * 8 + 4 as entry_bytes
    from tables t
    join pg_index i on i.indrelid = t.oid
    join pg_class ic on ic.oid = i.indexrelid
    join pg_am am on am.oid = ic.relam
    where am.amname = 'btree' and i.indexprs is null and i.indisvalid
      and ic.relpages > 1 and ic.reltuples >= 0
)
select 'table'::text as kind, nspname::text as schemaname, relname::text as relname, null::text as indexrelname,
       relpages::bigint as relpages,
       greatest(ceil(reltuples * tuple_bytes / ((const.bs - 24) * fillfactor / 100.0)), 1)::bigint as expected_pages,
       const.bs::integer as block_size
from tables, const
union all
select 'index', nspname::text, relname::text, indexrelname::text,
       relpages::bigint,
       -- + 1 for the metapage; 16 bytes of btree special space per page
       (ceil(reltuples * entry_bytes / ((const.bs - 24 - 16) * fillfactor / 100.0)) + 1)::bigint,
       const.bs::integer
from indexes, const
where entry_bytes is not null
order by 2, 3, 4 nulls first
