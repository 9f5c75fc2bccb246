-- Every pgvector column (vector, halfvec, sparsevec) with its ANN indexes, if any. Effective
-- index parameters: reloptions, or pgvector's defaults (ivfflat lists=100; hnsw m=16,
-- ef_construction=64) when unset.
with cols as (
    select c.oid as relid, n.nspname, c.relname, a.attnum, a.attname, t.typname,
           nullif(a.atttypmod, -1) as dims, c.reltuples
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid and c.relkind in ('r', 'p', 'm')
    join pg_namespace n on n.oid = c.relnamespace
    join pg_type t on t.oid = a.atttypid
    where t.typname in ('vector', 'halfvec', 'sparsevec')
      and a.attnum > 0 and not a.attisdropped
      and n.nspname not in ('pg_catalog', 'information_schema')
),
idx as (
    select i.indrelid, i.indkey[0] as attnum, ic.relname as indexrelname, am.amname,
           ic.reloptions, i.indexrelid, i.indisvalid, i.indclass[0] as opc
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_am am on am.oid = ic.relam
    where am.amname in ('hnsw', 'ivfflat')
)
select
    cols.nspname::text                                         as schemaname,
    cols.relname::text                                         as relname,
    cols.attname::text                                         as column_name,
    cols.typname::text                                         as column_type,
    cols.dims::integer                                         as dimensions,
    cols.reltuples::float8                                     as table_rows,
    pg_total_relation_size(cols.relid)::bigint                 as table_bytes,
    idx.indexrelname::text                                     as indexrelname,
    idx.amname::text                                           as access_method,
    oc.opcname::text                                           as opclass,
    coalesce(idx.reloptions, '{}')::text[]                     as reloptions,
    case when idx.amname = 'ivfflat' then coalesce(
        (select split_part(o, '=', 2)::int from unnest(idx.reloptions) o where o like 'lists=%'), 100) end
                                                               as lists,
    case when idx.amname = 'hnsw' then coalesce(
        (select split_part(o, '=', 2)::int from unnest(idx.reloptions) o where o like 'm=%'), 16) end
                                                               as m,
    case when idx.amname = 'hnsw' then coalesce(
        (select split_part(o, '=', 2)::int from unnest(idx.reloptions) o where o like 'ef_construction=%'), 64) end
                                                               as ef_construction,
    pg_relation_size(idx.indexrelid)::bigint                   as index_bytes,
    st.idx_scan                                                as idx_scan,
    idx.indisvalid                                             as is_valid,
    pg_get_indexdef(idx.indexrelid)::text                      as indexdef,
    (select extversion::text from pg_extension where extname = 'vector') as pgvector_version,
    (select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector')                               as pgvector_schema
from cols
left join idx on idx.indrelid = cols.relid and idx.attnum = cols.attnum
left join pg_opclass oc on oc.oid = idx.opc
left join pg_stat_user_indexes st on st.indexrelid = idx.indexrelid
order by 1, 2, 3, 8
