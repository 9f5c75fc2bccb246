-- Settings the health rules depend on.
select name::text, setting::text, unit::text, source::text
from pg_settings
where name in (
    'max_connections', 'superuser_reserved_connections', 'shared_preload_libraries',
    'track_io_timing', 'track_activity_query_size', 'server_version', 'server_version_num',
    'autovacuum', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor',
    'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor',
    'autovacuum_freeze_max_age', 'shared_buffers', 'work_mem', 'maintenance_work_mem',
    'effective_cache_size', 'statement_timeout', 'idle_in_transaction_session_timeout',
    'pg_stat_statements.max', 'pg_stat_statements.track', 'random_page_cost'
)
order by name
