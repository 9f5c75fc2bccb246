-- Context for reset-aware deltas: eviction count, last reset, server start, version, capacity.
-- {schema} is the (quoted) schema pg_stat_statements is installed in (Supabase: extensions).
select
    d.oid::bigint                                         as dbid,
    current_database()::text                              as datname,
    i.dealloc::bigint                                     as dealloc,
    i.stats_reset                                         as stats_reset,
    pg_postmaster_start_time()                            as postmaster_start_time,
    current_setting('server_version_num')::integer        as server_version_num,
    current_setting('pg_stat_statements.max')::integer    as statements_max
from {schema}.pg_stat_statements_info i
cross join pg_database d
where d.datname = current_database()
