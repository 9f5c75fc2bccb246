-- Table constraints added NOT VALID and never validated: existing rows were not checked, and the
-- planner cannot rely on them (e.g. a CHECK for partition pruning or join removal).
select
    n.nspname::text                                          as schemaname,
    c.relname::text                                          as relname,
    con.conname::text                                        as constraint_name,
    case con.contype when 'c' then 'check' when 'f' then 'foreign key' when 'n' then 'not null'
                     else con.contype::text end              as constraint_type,
    pg_get_constraintdef(con.oid)::text                      as definition,
    c.reltuples::float8                                      as table_rows
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
where not con.convalidated
  and con.conrelid <> 0
  and n.nspname not in ('pg_catalog', 'information_schema')
order by 1, 2, 3
