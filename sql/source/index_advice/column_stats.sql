-- How selective each column is, from the planner's statistics: the share of NULLs, the number
-- of distinct values and the frequency of the most common value. Never the values themselves.
-- pg_stats shows only columns the role may read; see column_stats_definer.sql for the opt-in.
select s.schemaname::text as schemaname, s.tablename::text as relname, s.attname::text as attname,
       s.null_frac::float8 as null_frac, s.n_distinct::float8 as n_distinct,
       (select max(f) from unnest(s.most_common_freqs) f)::float8 as max_mcv_freq,
       s.avg_width::int as avg_width
from pg_stats s
where s.schemaname not in ('pg_catalog', 'information_schema') and s.schemaname not like 'pg\_%'
