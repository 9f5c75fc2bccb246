-- Series for the demo's local metrics endpoint (aimatrix_pipeline/appsignals/local_metrics.py),
-- named like Supabase's endpoint (postgres_exporter / Realtime names). One row per sample:
-- metric, type, help, labels (json object), value. Read-only catalog and statistics views only.
with db as (
    select datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit
    from pg_stat_database where datname = current_database()
),
realtime_subs as (
    select coalesce((select c.reltuples from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where n.nspname = 'realtime' and c.relname = 'subscription'), 0) as subs
)
select 'pg_stat_database_numbackends', 'gauge', 'Backends connected to the database.',
       json_build_object('datname', datname), numbackends::float8 from db
union all
select 'pg_stat_database_xact_commit_total', 'counter', 'Transactions committed.',
       json_build_object('datname', datname), xact_commit::float8 from db
union all
select 'pg_stat_database_xact_rollback_total', 'counter', 'Transactions rolled back.',
       json_build_object('datname', datname), xact_rollback::float8 from db
union all
select 'pg_stat_database_blks_hit_total', 'counter', 'Buffer cache hits.',
       json_build_object('datname', datname), blks_hit::float8 from db
union all
select 'pg_stat_database_blks_read_total', 'counter', 'Blocks read from disk.',
       json_build_object('datname', datname), blks_read::float8 from db
union all
select 'pg_database_size_bytes', 'gauge', 'Database size.',
       json_build_object('datname', current_database()), pg_database_size(current_database())::float8
union all
select 'pg_stat_activity_count', 'gauge', 'Sessions by state.',
       json_build_object('state', coalesce(state, 'unknown')), count(*)::float8
from pg_stat_activity where backend_type = 'client backend' group by state
union all
select 'realtime_connections_connected', 'gauge',
       'Local stand-in: database sessions whose application_name starts with realtime (0 without a Realtime service).',
       null, count(*)::float8
from pg_stat_activity where application_name ilike 'realtime%'
union all
select 'realtime_subscriptions_manager_subscribers', 'gauge',
       'Local stand-in: estimated rows of realtime.subscription (0 when the schema does not exist).',
       null, greatest(subs, 0)::float8 from realtime_subs
