-- Last manual VACUUM / ANALYZE of one table (to confirm an applied VACUUM or ANALYZE ran).
select schemaname, relname, last_vacuum, last_analyze
from pg_stat_user_tables
where relname = %(table)s
  and (schemaname = %(schema)s or (%(schema)s::text is null and schemaname = any (current_schemas(false))))
limit 1
