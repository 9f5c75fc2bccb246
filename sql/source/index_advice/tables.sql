-- Tables, partitioned tables and materialized views outside the system schemas: estimated rows,
-- pages and column names (catalogs every role may read; no table data).
select n.nspname::text as schemaname, c.relname::text as relname, greatest(c.reltuples, 0)::float8 as reltuples,
       c.relpages::bigint as relpages,
       array(select a.attname::text from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\_%'
