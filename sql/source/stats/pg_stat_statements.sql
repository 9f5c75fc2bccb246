-- Counters of every statement of the monitored database, without the query text (showtext =>
-- false avoids reading the whole query-text file on each snapshot; texts are fetched only for new
-- queryids, see pg_stat_statements_texts.sql). {columns} is built from the server's actual column
-- list, so PG 15-18 names map onto one canonical set.
select {columns}
from {schema}.pg_stat_statements(false) s
where s.dbid = (select oid from pg_database where datname = current_database())
