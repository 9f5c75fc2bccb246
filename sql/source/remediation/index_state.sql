-- State of one index, for `apply`'s checks before and after it runs a remediation.
-- %(schema)s may be NULL (unqualified name): then the schemas on the search_path are searched.
select n.nspname, c.relname, t.relname, i.indisvalid, i.indisready, pg_get_indexdef(i.indexrelid)
from pg_index i
join pg_class c on c.oid = i.indexrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_class t on t.oid = i.indrelid
where c.relname = %(name)s
  and (n.nspname = %(schema)s or (%(schema)s::text is null and n.nspname = any (current_schemas(false))))
order by array_position(current_schemas(false), n.nspname::text) nulls first
limit 1
