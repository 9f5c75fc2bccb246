-- Context for reset-aware deltas: eviction count, last reset, server start, version, capacity.
-- {schema} is the (quoted) schema pg_stat_statements is installed in (Supabase: extensions).
select
    d.oid::bigint                                         as dbid,
    current_database()::text                              as datname,
    i.dealloc::bigint                                     as dealloc,
    i.stats_reset                                         as stats_reset,
    pg_postmaster_start_time()                            as postmaster_start_time,
    current_setting('server_version_num')::integer        as server_version_num,
    current_setting('pg_stat_statements.max')::integer    as statements_max,
    -- the role this session reads as: pg_stat_statements' userid of the pipeline's own
    -- statements; only a dedicated role (not a superuser, not the database's owner), because a
    -- shared role's statements cannot be told from the app's
    (select r.oid::bigint from pg_roles r
     where r.rolname = current_user and not r.rolsuper and r.oid <> d.datdba) as monitor_userid
from {schema}.pg_stat_statements_info i
cross join pg_database d
where d.datname = current_database()
