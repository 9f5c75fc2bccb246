-- Non-idle client backends (ours excluded) with runtime and blockers; text normalised later.
select
    a.pid,
    a.usename::text                                          as usename,
    a.application_name::text                                 as application_name,
    a.backend_type::text                                     as backend_type,
    a.state::text                                            as state,
    a.wait_event_type::text                                  as wait_event_type,
    a.wait_event::text                                       as wait_event,
    a.backend_start, a.xact_start, a.query_start, a.state_change,
    extract(epoch from (clock_timestamp() - a.query_start))::float8 as query_seconds,
    extract(epoch from (clock_timestamp() - a.xact_start))::float8  as xact_seconds,
    pg_blocking_pids(a.pid)                                  as blocked_by,
    a.query::text                                            as query
from pg_stat_activity a
where a.datname = current_database()
  and a.pid <> pg_backend_pid()
  and a.backend_type = 'client backend'
  and coalesce(a.state, '') <> 'idle'
  and a.application_name is distinct from 'aimatrix_pipeline'
order by a.query_start nulls last
