-- Security and exposure findings (category `security`) for one project, from the latest
-- `security` snapshot (raw.relation_security, raw.policies, raw.functions, raw.extensions,
-- raw.api_schemas). Same columns as the other findings; optimization_recommendations.sql adds
-- the id and first_seen. Parameters: $project.
--
-- Names follow Supabase's database advisors (splinter) so users recognise them; the rules are
-- reimplemented from the catalog facts the extract stores (docs/readme/analytics.md lists each
-- finding with the peer check it corresponds to). "Exposed" = a schema the Data API serves
-- (PostgREST's pgrst.db_schemas, read from the database; default public), minus the schemas the
-- platform manages. Remediation SQL quotes every name read from the database (analytics.qi);
-- comment lines never carry one. Policy expressions and function argument lists are the server's
-- own deparsed, quoted text.
with
managed(schemaname) as (
    values ('auth'), ('storage'), ('extensions'), ('realtime'), ('_realtime'), ('supabase_functions'),
           ('supabase_migrations'), ('pgsodium'), ('pgsodium_masks'), ('vault'), ('graphql'),
           ('graphql_public'), ('net'), ('cron'), ('pgbouncer'), ('_analytics'), ('pg_catalog'),
           ('information_schema'), ('pg_toast'), ('pgmq'), ('topology'), ('tiger'), ('repack'), ('pgtle'),
           ('pgroonga'), ('_timescaledb_cache'), ('_timescaledb_catalog'), ('_timescaledb_config'),
           ('_timescaledb_internal')
),
-- raw.api_schemas has at least one row per snapshot (the default), so its latest snapshot is the
-- latest security snapshot, even when a table below had no rows in it
snap as (
    select max(snapshot_at) as snap_at from raw.api_schemas where project = $project
),
api as (
    select distinct schemaname from raw.api_schemas
    where project = $project and snapshot_at = (select snap_at from snap)
      and schemaname not in (select schemaname from managed)
),
rel as (
    select *, schemaname in (select schemaname from api) as exposed,
           (anon_access and anon_schema_usage) or (authenticated_access and authenticated_schema_usage) as api_reachable
    from raw.relation_security
    where project = $project and snapshot_at = (select snap_at from snap)
      and schemaname not in (select schemaname from managed)
),
pol as (
    select * from raw.policies
    where project = $project and snapshot_at = (select snap_at from snap)
      and schemaname not in (select schemaname from managed)
),
fn as (
    select *, schemaname in (select schemaname from api) as exposed,
           analytics.qi(schemaname) || '.' || analytics.qi(name) || '(' || coalesce(identity_args, '') || ')' as signature
    from raw.functions
    where project = $project and snapshot_at = (select snap_at from snap)
      and schemaname not in (select schemaname from managed)
),
extn as (
    select * from raw.extensions
    where project = $project and snapshot_at = (select snap_at from snap)
),
server as (
    select arg_max(server_version_num, snapshot_at) as version_num
    from raw.database_stats where project = $project
),

-- rls_disabled_in_public: a table of an exposed schema without row level security that anon or
-- authenticated may read or write (table privilege and schema USAGE): anyone with the project's
-- anon key reads or changes every row. impact 10 (anon) / 8; effort 3 (policies to write).
f_rls_disabled as (
    select 'rls_disabled_in_public' as name, 'security' as category, 'critical' as level,
           'RLS disabled on exposed table ' || schemaname || '.' || relname as title,
           'Table ' || schemaname || '.' || relname || ' is served by the Data API (schema ' || schemaname
               || ' is exposed) and ' || case when anon_access and anon_schema_usage then 'anon' else 'authenticated' end
               || ' may ' || 'read or write it, but row level security is off: every row is reachable with the project''s '
               || case when anon_access and anon_schema_usage then 'public anon key.' else 'signed-in users'' tokens.' end as detail,
           'ALTER TABLE ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' ENABLE ROW LEVEL SECURITY;'
               || chr(10) || '-- then add policies for what anon and authenticated may read and write'
               || ' (until then only the owner and roles that bypass RLS see rows)' as remediation_sql,
           case when anon_access and anon_schema_usage then 10 else 8 end as impact,
           3 as effort,
           schemaname as object_schema, relname as object_name, schemaname || '.' || relname as object_key,
           json_object('anon_access', anon_access, 'authenticated_access', authenticated_access,
                       'relkind', relkind, 'policies', policies) as metadata
    from rel
    where relkind in ('r', 'p') and not rls_enabled and exposed and api_reachable
),

-- rls_enabled_no_policy: RLS on, no policy, exposed: the API returns nothing and writes fail,
-- usually a forgotten policy. The statement makes today's deny-all explicit (nothing changes for
-- users); replace `false` with the rule. impact 3; effort 3.
f_rls_no_policy as (
    select 'rls_enabled_no_policy', 'security', 'info',
           'RLS enabled but no policy on ' || schemaname || '.' || relname,
           'Table ' || schemaname || '.' || relname || ' has row level security enabled and no policy: through the Data API '
               || 'every read returns no rows and every write is refused.',
           '-- Write the policies the API needs. This one only makes today''s deny-all explicit; replace false with the rule:'
               || chr(10) || 'CREATE POLICY ' || analytics.qi('deny all until a rule is written') || ' ON '
               || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' FOR ALL USING (false) WITH CHECK (false);',
           3, 3,
           schemaname, relname, schemaname || '.' || relname,
           json_object('relkind', relkind, 'anon_access', anon_access, 'authenticated_access', authenticated_access)
    from rel
    where relkind in ('r', 'p') and rls_enabled and policies = 0 and exposed
),

-- policy_exists_rls_disabled: policies that do nothing because RLS is off (any user schema: the
-- author meant rows to be filtered). impact 8; effort 2.
f_policy_rls_off as (
    select 'policy_exists_rls_disabled', 'security', 'critical',
           'Policies ignored on ' || schemaname || '.' || relname || ' (RLS disabled)',
           'Table ' || schemaname || '.' || relname || ' has ' || policies || ' row level security polic'
               || case when policies = 1 then 'y' else 'ies' end || ', but row level security is disabled, so '
               || 'none of them is applied' || case when exposed then ' and the Data API serves every row.' else '.' end,
           '-- the policies start to apply: check they allow what the application needs' || chr(10)
               || 'ALTER TABLE ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' ENABLE ROW LEVEL SECURITY;',
           8, 2,
           schemaname, relname, schemaname || '.' || relname,
           json_object('policies', policies, 'exposed', exposed)
    from rel
    where relkind in ('r', 'p') and not rls_enabled and policies > 0
),

-- auth_rls_initplan: a policy of an RLS-enabled table calls auth.uid()/jwt()/role()/email() or
-- current_setting() directly, so it runs once per row; wrapped in a scalar subquery
-- ((select auth.uid())) PostgreSQL evaluates it once per statement (an initPlan). Counted per
-- call, so one wrapped call does not hide an unwrapped one. The rewrite wraps each bare call.
-- impact 5; effort 2.
pol_calls as (
    select *,
           len(regexp_extract_all(coalesce(using_expr, ''), '(auth\.(uid|jwt|role|email)\(\)|current_setting\()'))
             + len(regexp_extract_all(coalesce(check_expr, ''), '(auth\.(uid|jwt|role|email)\(\)|current_setting\()')) as calls,
           len(regexp_extract_all(coalesce(using_expr, ''), '(?i)select\s+(auth\.(uid|jwt|role|email)\(\)|current_setting\()'))
             + len(regexp_extract_all(coalesce(check_expr, ''), '(?i)select\s+(auth\.(uid|jwt|role|email)\(\)|current_setting\()')) as wrapped
    from pol
    where rls_enabled
),
initplan as (
    select *,
           list_transform([using_expr, check_expr], lambda e:
               case when e is null then null else
               replace(
                   regexp_replace(
                       regexp_replace(
                           regexp_replace(e, '(?i)(select\s+)(auth\.|current_setting\()', '\1' || chr(1) || '\2', 'g'),
                           '(^|[^\x01])(auth\.(uid|jwt|role|email)\(\))', '\1(SELECT \2)', 'g'),
                       '(^|[^\x01])(current_setting\([^()]*\))', '\1(SELECT \2)', 'g'),
                   chr(1), '') end) as rewritten
    from pol_calls
    where calls > wrapped
),
f_initplan as (
    select 'auth_rls_initplan', 'security', 'warning',
           'Policy ' || policyname || ' on ' || schemaname || '.' || relname || ' re-evaluates auth per row',
           'Policy ' || policyname || ' (' || command || ') on ' || schemaname || '.' || relname || ' calls auth.<function>() or '
               || 'current_setting() directly, so PostgreSQL evaluates it for every row the query reads. Wrapped in '
               || '(select ...), it is evaluated once per statement with the same result.',
           'ALTER POLICY ' || analytics.qi(policyname) || ' ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname)
               || case when using_expr is not null then ' USING (' || rewritten[1] || ')' else '' end
               || case when check_expr is not null then ' WITH CHECK (' || rewritten[2] || ')' else '' end || ';',
           5, 2,
           schemaname, relname, schemaname || '.' || relname || ':' || policyname,
           json_object('policy', policyname, 'command', command, 'using', using_expr, 'with_check', check_expr)
    from initplan
),

-- multiple_permissive_policies: two or more permissive policies for one role and action on a
-- table; every one is evaluated for every row (OR-ed). Steps only: merging them needs the
-- author's intent. Roles that bypass RLS and pg_* roles are left out by the extract.
-- impact 4; effort 4.
pol_actions as (
    select p.schemaname, p.relname, p.policyname, r.role, a.action
    from pol p
    cross join lateral (select unnest(p.applies_to) as role) r
    cross join lateral (select unnest(case when p.command = 'ALL' then ['SELECT', 'INSERT', 'UPDATE', 'DELETE']
                                           else [p.command] end) as action) a
    where p.permissive
),
multi as (
    select schemaname, relname, role, action, list_sort(list(policyname)) as policies
    from pol_actions
    group by schemaname, relname, role, action
    having count(*) > 1
),
f_multi as (
    select 'multiple_permissive_policies', 'security', 'warning',
           'Several permissive ' || action || ' policies for ' || role || ' on ' || schemaname || '.' || relname,
           'Table ' || schemaname || '.' || relname || ' has ' || len(policies) || ' permissive policies for role ' || role
               || ' and ' || action || ' (' || array_to_string(policies, ', ') || '): each is evaluated for every row. '
               || 'One policy whose condition is the OR of theirs gives the same access for less work.',
           '-- Merge the permissive policies listed in the evidence into one whose USING / WITH CHECK is the OR of theirs'
               || chr(10) || '-- (CREATE POLICY ... then DROP POLICY for each old one, in one transaction),'
               || chr(10) || '-- or make the ones meant to narrow access AS RESTRICTIVE.',
           4, 4,
           schemaname, relname, schemaname || '.' || relname || ':' || role || ':' || action,
           json_object('role', role, 'action', action, 'policies', policies)
    from multi
),

-- auth_users_exposed: a view or materialized view of an exposed schema reads auth.users and anon
-- or authenticated may select from it: a materialized view has no RLS, a view runs as its owner
-- unless security_invoker is set (and even then auth.users without RLS is open). impact 10; effort 2.
f_auth_users as (
    select 'auth_users_exposed', 'security', 'critical',
           'auth.users exposed through ' || schemaname || '.' || relname,
           case when relkind = 'm' then 'Materialized view ' else 'View ' end || schemaname || '.' || relname
               || ' reads auth.users and is served by the Data API to '
               || case when anon_access and authenticated_access then 'anon and authenticated'
                       when anon_access then 'anon' else 'authenticated' end
               || ': user e-mails, phone numbers and metadata may be readable by anyone with an API key.',
           '-- take it away from the API roles (or move it to a schema the API does not serve):' || chr(10)
               || 'REVOKE ALL ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' FROM PUBLIC, anon, authenticated;',
           10, 2,
           schemaname, relname, schemaname || '.' || relname,
           json_object('relkind', relkind, 'anon_access', anon_access, 'authenticated_access', authenticated_access,
                       'security_invoker', security_invoker, 'auth_users_rls_enabled', auth_users_rls_enabled)
    from rel
    where relkind in ('v', 'm') and reads_auth_users and exposed and api_reachable
      and (relkind = 'm' or not security_invoker or not coalesce(auth_users_rls_enabled, false))
),

-- security_definer_view: a view of an exposed schema without security_invoker (PostgreSQL 15+),
-- readable by anon/authenticated: it applies its owner's privileges and RLS, not the caller's.
-- Views an extension owns are left out. impact 8; effort 2.
f_definer_view as (
    select 'security_definer_view', 'security', 'critical',
           'SECURITY DEFINER view ' || schemaname || '.' || relname,
           'View ' || schemaname || '.' || relname || ' runs with the privileges and row level security of its owner, '
               || 'not of the API user who queries it, so it can return rows the user''s policies would hide.',
           'ALTER VIEW ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' SET (security_invoker = true);',
           8, 2,
           schemaname, relname, schemaname || '.' || relname,
           json_object('anon_access', anon_access, 'authenticated_access', authenticated_access)
    from rel
    where relkind = 'v' and not security_invoker and exposed and api_reachable and not extension_member
      and coalesce((select version_num from server), 150000) >= 150000
),

-- anon_/authenticated_security_definer_function_executable: a SECURITY DEFINER function of an
-- exposed schema that the role may execute is callable over the API (rpc) with its owner's
-- rights. The revoke includes PUBLIC (functions are executable by PUBLIC by default). anon's
-- remediation grants authenticated back what it had; authenticated's does not grant anon back
-- (anon reaching it is a finding of its own), so the two can run in any order. impact 8 (anon) / 6;
-- effort 2.
definer_fn as (
    select f.*, r.role
    from fn f
    join (values ('anon'), ('authenticated')) r(role)
      on (r.role = 'anon' and f.anon_execute) or (r.role = 'authenticated' and f.authenticated_execute)
    where f.security_definer and f.exposed
),
f_definer_fn as (
    select role || '_security_definer_function_executable', 'security', 'warning',
           'SECURITY DEFINER function ' || schemaname || '.' || name || ' executable by ' || role,
           'Function ' || schemaname || '.' || name || '(' || coalesce(identity_args, '') || ') runs with its owner''s '
               || 'privileges and role ' || role || ' may execute it, so it can be called through the Data API (/rpc) '
               || case when role = 'anon' then 'by anyone with the public anon key.' else 'by any signed-in user.' end,
           '-- grant EXECUTE back to the other roles that need it' || chr(10)
               || 'REVOKE EXECUTE ON ROUTINE ' || signature || ' FROM PUBLIC, ' || role || ';'
               || case when role = 'anon' and authenticated_execute
                       then chr(10) || 'GRANT EXECUTE ON ROUTINE ' || signature || ' TO authenticated;'
                       else '' end,
           case when role = 'anon' then 8 else 6 end, 2,
           schemaname, name, schemaname || '.' || name || '(' || coalesce(identity_args, '') || ')',
           json_object('arguments', identity_args, 'language', language, 'anon_execute', anon_execute,
                       'authenticated_execute', authenticated_execute)
    from definer_fn
),

-- function_search_path_mutable: a function whose search_path is whatever the caller's is, so an
-- object of the same name earlier on the caller's path can take over what it calls (any user
-- schema; functions of extensions are left out). impact 6 if SECURITY DEFINER, else 4; effort 2.
f_search_path as (
    select 'function_search_path_mutable', 'security', 'warning',
           'Function ' || schemaname || '.' || name || ' has a mutable search_path',
           'Function ' || schemaname || '.' || name || '(' || coalesce(identity_args, '') || ') does not set search_path'
               || case when security_definer then ' and is SECURITY DEFINER' else '' end
               || ': the names it uses resolve through the caller''s search_path.',
           '-- then qualify every name the body uses with its schema (or list the schemas it needs instead of '''')' || chr(10)
               || 'ALTER ROUTINE ' || signature || ' SET search_path = '''';',
           case when security_definer then 6 else 4 end, 2,
           schemaname, name, schemaname || '.' || name || '(' || coalesce(identity_args, '') || ')',
           json_object('arguments', identity_args, 'language', language, 'security_definer', security_definer)
    from fn
    where not search_path_set and not extension_member
),

-- extension_in_public: an extension's objects in public (plpgsql aside) are exposed with the
-- schema and clutter it. impact 3; effort 3.
f_ext_public as (
    select 'extension_in_public', 'security', 'warning',
           'Extension ' || extname || ' is installed in public',
           'Extension ' || extname || ' ' || installed_version || ' has its objects in schema public'
               || case when relocatable then '.' else '; it cannot be moved (not relocatable), only re-created.' end,
           case when relocatable
                then 'CREATE SCHEMA IF NOT EXISTS extensions;' || chr(10)
                     || 'ALTER EXTENSION ' || analytics.qi(extname) || ' SET SCHEMA extensions;'
                else '-- not relocatable: check what depends on it, then drop it and create it again WITH SCHEMA extensions' end,
           3, 3,
           schemaname, extname, extname,
           json_object('version', installed_version, 'relocatable', relocatable)
    from extn
    where schemaname = 'public' and extname <> 'plpgsql'
),

-- materialized_view_in_api / foreign_table_in_api: neither has row level security, so anything
-- anon/authenticated may select from in an exposed schema is served whole. impact 6; effort 2.
f_unprotected as (
    select case when relkind = 'm' then 'materialized_view_in_api' else 'foreign_table_in_api' end, 'security', 'warning',
           case when relkind = 'm' then 'Materialized view ' else 'Foreign table ' end || schemaname || '.' || relname
               || ' is served by the Data API',
           case when relkind = 'm' then 'Materialized view ' else 'Foreign table ' end || schemaname || '.' || relname
               || ' is in an exposed schema and readable by '
               || case when anon_access and authenticated_access then 'anon and authenticated'
                       when anon_access then 'anon' else 'authenticated' end
               || '; it cannot have row level security, so every row is served.',
           '-- take it away from the API roles (or move it to a schema the API does not serve):' || chr(10)
               || 'REVOKE ALL ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' FROM PUBLIC, anon, authenticated;',
           6, 2,
           schemaname, relname, schemaname || '.' || relname,
           json_object('relkind', relkind, 'anon_access', anon_access, 'authenticated_access', authenticated_access)
    from rel
    where relkind in ('m', 'f') and exposed and api_reachable and not extension_member
),

-- extension_versions_outdated: the installed version is not the one ALTER EXTENSION ... UPDATE
-- installs (the server's default_version). impact 3; effort 3. Category maintenance.
f_ext_outdated as (
    select 'extension_versions_outdated', 'maintenance', 'info',
           'Extension ' || extname || ' ' || installed_version || ' can be updated to ' || default_version,
           'Extension ' || extname || ' is at version ' || installed_version || ' while the server ships '
               || default_version || ' (fixes and features of the newer scripts are missing).',
           'ALTER EXTENSION ' || analytics.qi(extname) || ' UPDATE;',
           3, 3,
           schemaname, extname, extname,
           json_object('installed_version', installed_version, 'default_version', default_version)
    from extn
    where default_version is not null and installed_version is distinct from default_version
)

select * from f_rls_disabled
union all select * from f_rls_no_policy
union all select * from f_policy_rls_off
union all select * from f_initplan
union all select * from f_multi
union all select * from f_auth_users
union all select * from f_definer_view
union all select * from f_definer_fn
union all select * from f_search_path
union all select * from f_ext_public
union all select * from f_unprotected
union all select * from f_ext_outdated
