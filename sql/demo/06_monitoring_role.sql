-- The least-privileged monitoring role the pipeline is designed for, on any PostgreSQL: a plain
-- one (no app log tables, no Supabase schemas) or a Supabase project. Run it as the database owner
-- (or postgres). It grants pg_monitor (statistics views, other roles' statement texts) and SELECT
-- on exactly the columns the pipeline reads, only on schemas and tables that exist here; nothing
-- else. No password hashes, emails, phone numbers, session IPs or user agents are readable.
-- The role is created WITHOUT a password (it cannot log in with password authentication until
-- one is set): set it as the owner with psql's `\password aimatrix_monitor` (sent hashed) or
-- `ALTER ROLE aimatrix_monitor PASSWORD '...'`, then `aimatrix-pipeline config check --connect`
-- (docs/getting-started.md). The password is never stored here. Safe to re-run: what the
-- role may read is reset to this list each time (a table created later is covered by re-running).
--
-- What each grant serves (the files under sql/source/ that read it):
--   pg_stat_statements' schema   stats/pg_stat_statements*.sql (usage on the schema only)
--   app log tables               app_logs/*.sql (the columns they select; absent columns skipped)
--   auth.users                   usage/mau_*.sql: id, last_sign_in_at, is_sso_user, is_anonymous
--   auth.sessions                usage/mau_last_sign_in.sql: user_id, created_at, refreshed_at
--   auth.audit_log_entries       nothing directly: usage/sign_ins.view.sql reads the view
--                                aimatrix_monitoring.auth_sign_ins this script creates (owned by
--                                whoever runs it): time, action, actor id and SSO flag of each
--                                login/token_refreshed entry, never the rest of the payload
--   storage.buckets / objects    usage/storage_by_bucket.sql: id / bucket_id, created_at, metadata
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'aimatrix_monitor') then
        create role aimatrix_monitor login;
    end if;
end
$$;
grant pg_monitor to aimatrix_monitor;

do $$
declare
    -- schema.table -> the columns the pipeline reads from it
    wanted constant jsonb := jsonb_build_object(
        'public.query_performance_logs', jsonb_build_array(
            'id', 'query_hash', 'query_text', 'execution_time_ms', 'rows_returned', 'rows_examined',
            'index_usage', 'user_id', 'organization_id', 'created_at'),
        'public.vector_query_logs', jsonb_build_array(
            'id', 'query_type', 'table_name', 'similarity_threshold', 'vector_dimension',
            'query_time_ms', 'result_count', 'index_used', 'created_at'),
        'public.embedding_generation_logs', jsonb_build_array(
            'id', 'model', 'token_count', 'generation_time_ms', 'error', 'created_at'),
        'public.error_events', jsonb_build_array(
            'id', 'name', 'message', 'stack', 'severity', 'context', 'user_agent', 'url', 'created_at'),
        'auth.users', jsonb_build_array('id', 'last_sign_in_at', 'is_sso_user', 'is_anonymous'),
        'auth.sessions', jsonb_build_array('user_id', 'created_at', 'refreshed_at'),
        'storage.buckets', jsonb_build_array('id'),
        'storage.objects', jsonb_build_array('bucket_id', 'created_at', 'metadata'));
    qualified text;
    rel regclass;
    cols text;
    ext_schema name;
begin
    for qualified in select jsonb_object_keys(wanted) loop
        rel := to_regclass(qualified);
        if rel is null then
            continue;  -- not on this database: nothing to grant (the pipeline records it as absent)
        end if;
        execute format('grant usage on schema %I to aimatrix_monitor', split_part(qualified, '.', 1));
        -- start from nothing: an earlier version of this script granted whole tables
        execute format('revoke all on %s from aimatrix_monitor', rel);
        select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into cols
        from pg_attribute a
        where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
          and a.attname in (select jsonb_array_elements_text(wanted -> qualified));
        if cols is not null then
            execute format('grant select (%s) on %s to aimatrix_monitor', cols, rel);
        end if;
    end loop;

    select n.nspname into ext_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pg_stat_statements';
    if ext_schema is not null then
        execute format('grant usage on schema %I to aimatrix_monitor', ext_schema);
    end if;
end
$$;

-- Sign-ins for MAU, through a view: a column grant cannot narrow the audit log's JSON payload
-- (which carries emails and IP addresses), so the role reads four derived columns instead.
do $$
begin
    if to_regclass('auth.audit_log_entries') is null then
        return;
    end if;
    execute 'revoke all on auth.audit_log_entries from aimatrix_monitor';
    create schema if not exists aimatrix_monitoring;
    revoke all on schema aimatrix_monitoring from public;
    create or replace view aimatrix_monitoring.auth_sign_ins as
        select created_at,
               payload ->> 'action' as action,
               payload ->> 'actor_id' as actor_id,
               (payload ->> 'actor_via_sso') = 'true' as actor_via_sso
        from auth.audit_log_entries
        where payload ->> 'action' in ('login', 'token_refreshed');
    revoke all on aimatrix_monitoring.auth_sign_ins from public;
    grant usage on schema aimatrix_monitoring to aimatrix_monitor;
    grant select on aimatrix_monitoring.auth_sign_ins to aimatrix_monitor;
end
$$;

-- OPT-IN: index advice. EXPLAIN needs SELECT on every table a statement reads, and pg_stats shows
-- only columns the role may read, so the role above gets no index advice (everything else works;
-- the advice records an `index_advice_unavailable` finding saying so). Run this script with
--   set aimatrix.grant_explain = 'on';      (or PGOPTIONS='-c aimatrix.grant_explain=on' psql ...)
-- to grant two SECURITY DEFINER functions instead of table access:
--   aimatrix_monitoring.explain_generic_plan(query text) -> json: the generic plan of ONE SELECT
--     (no ';' anywhere, so no second statement; must start with SELECT or WITH), never ANALYZE, in a
--     read-only transaction with 2 s statement and lock timeouts.
--   aimatrix_monitoring.column_stats() -> null_frac, n_distinct, the largest most-common-value
--     frequency and avg_width per column: never the values themselves.
-- The risk, accepted by opting in: the role learns plans of queries it may not run (row estimates
-- derived from the data's statistics, table and index names, the shape of filters), and planning
-- folds IMMUTABLE functions on constants as the function's owner; a function wrongly marked
-- IMMUTABLE with side effects would run with the owner's rights (writes still fail: read-only).
-- Without the setting, re-running the script revokes the grant.
do $$
declare
    opted_in constant boolean := coalesce(current_setting('aimatrix.grant_explain', true), '') in ('on', 'true', '1');
begin
    create schema if not exists aimatrix_monitoring;
    revoke all on schema aimatrix_monitoring from public;
    grant usage on schema aimatrix_monitoring to aimatrix_monitor;

    -- search_path: the default's `public` so the application's unqualified names resolve, pg_temp
    -- last so a temporary table of the caller cannot stand in for one of them.
    create or replace function aimatrix_monitoring.explain_generic_plan(query text) returns json
    language plpgsql security definer set search_path = public, pg_catalog, pg_temp as $fn$
    declare
        result json;
        n integer;
    begin
        if query is null or length(query) > 100000 or position(';' in query) > 0
           or query !~* '^\s*(select|with)\s' then
            raise exception 'explain_generic_plan explains one SELECT statement (no '';'')' using errcode = '22023';
        end if;
        perform set_config('transaction_read_only', 'on', true);
        perform set_config('statement_timeout', '2000', true);
        perform set_config('lock_timeout', '2000', true);
        if current_setting('server_version_num')::int >= 160000 then
            execute 'explain (generic_plan, format json) ' || query into result;
        else
            if exists (select 1 from pg_prepared_statements where name = 'aimatrix_explain_definer') then
                deallocate aimatrix_explain_definer;
            end if;
            execute 'prepare aimatrix_explain_definer as ' || query;
            select coalesce(cardinality(parameter_types), 0) into n
            from pg_prepared_statements where name = 'aimatrix_explain_definer';
            perform set_config('plan_cache_mode', 'force_generic_plan', true);
            execute 'explain (format json) execute aimatrix_explain_definer'
                || case when n > 0 then '(' || array_to_string(array_fill('null'::text, array[n]), ', ') || ')' else '' end
                into result;
            deallocate aimatrix_explain_definer;
        end if;
        return result;
    end
    $fn$;

    create or replace function aimatrix_monitoring.column_stats()
    returns table (schemaname text, relname text, attname text, null_frac float8, n_distinct float8,
                   max_mcv_freq float8, avg_width int)
    language sql security definer set search_path = pg_catalog, pg_temp as $fn$
        select s.schemaname::text, s.tablename::text, s.attname::text, s.null_frac::float8, s.n_distinct::float8,
               (select max(f) from unnest(s.most_common_freqs) f)::float8, s.avg_width::int
        from pg_stats s
        where s.schemaname not in ('pg_catalog', 'information_schema') and s.schemaname not like 'pg\_%'
    $fn$;

    revoke all on function aimatrix_monitoring.explain_generic_plan(text) from public;
    revoke all on function aimatrix_monitoring.column_stats() from public;
    if opted_in then
        grant execute on function aimatrix_monitoring.explain_generic_plan(text) to aimatrix_monitor;
        grant execute on function aimatrix_monitoring.column_stats() to aimatrix_monitor;
    else
        revoke all on function aimatrix_monitoring.explain_generic_plan(text) from aimatrix_monitor;
        revoke all on function aimatrix_monitoring.column_stats() from aimatrix_monitor;
    end if;
end
$$;
