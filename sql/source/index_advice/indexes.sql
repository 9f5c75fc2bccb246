-- Every index with its key columns in order (NULL for an expression), whether it is a valid,
-- ready btree without predicate: only those can serve a candidate by prefix.
select n.nspname::text as schemaname, t.relname::text as relname, ic.relname::text as indexname,
       array(select a.attname::text
             from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum and k.attnum > 0
             where k.ord <= i.indnkeyatts
             order by k.ord) as columns,
       am.amname::text as access_method,
       i.indisvalid and i.indisready and i.indislive as usable,
       i.indpred is not null as partial,
       i.indexprs is not null as expressions
from pg_index i
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_class ic on ic.oid = i.indexrelid
join pg_am am on am.oid = ic.relam
where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
