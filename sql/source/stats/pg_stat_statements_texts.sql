-- Query text for statements we have not seen before (normalised again before it is stored).
select s.queryid::bigint as queryid, s.query
from {schema}.pg_stat_statements(true) s
where s.dbid = (select oid from pg_database where datname = current_database())
  and s.queryid = any(%(queryids)s)
