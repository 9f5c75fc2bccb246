-- The least-privileged monitoring role the pipeline is designed for: pg_monitor plus SELECT on the
-- application's log tables (and read access to the auth/storage columns billing needs).
-- The password is set by the caller (a parameter), never stored here.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'aimatrix_monitor') then
        create role aimatrix_monitor login;
    end if;
end
$$;
grant pg_monitor to aimatrix_monitor;
grant usage on schema public, app, auth, storage, extensions to aimatrix_monitor;
grant select on public.query_performance_logs, public.vector_query_logs,
    public.embedding_generation_logs, public.error_events to aimatrix_monitor;
grant select on auth.users, auth.audit_log_entries, auth.sessions to aimatrix_monitor;
grant select on storage.buckets, storage.objects to aimatrix_monitor;
