-- Tables, views, materialized views and foreign tables outside the system schemas, with what the
-- security advisors judge: row level security and its policies, what the Data API roles (anon,
-- authenticated; absent roles count as no access) may do, view options, extension membership,
-- and whether a view reads auth.users. Privileges are checked with has_*_privilege, which needs
-- no access to the objects themselves.
with api_roles as (
    select
        (select oid from pg_roles where rolname = 'anon')          as anon,
        (select oid from pg_roles where rolname = 'authenticated') as authenticated
),
auth_users as (
    select c.oid, c.relrowsecurity
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'auth' and c.relname = 'users' and c.relkind in ('r', 'p')
)
select
    c.oid::bigint                                            as relid,
    n.nspname::text                                          as schemaname,
    c.relname::text                                          as relname,
    c.relkind::text                                          as relkind,
    c.relrowsecurity                                         as rls_enabled,
    c.relforcerowsecurity                                    as rls_forced,
    (select count(*) from pg_policy p where p.polrelid = c.oid)::integer as policies,
    coalesce(has_table_privilege(ar.anon, c.oid, 'SELECT, INSERT, UPDATE, DELETE'), false) as anon_access,
    coalesce(has_table_privilege(ar.authenticated, c.oid, 'SELECT, INSERT, UPDATE, DELETE'), false)
                                                             as authenticated_access,
    coalesce(has_schema_privilege(ar.anon, n.oid, 'USAGE'), false)          as anon_schema_usage,
    coalesce(has_schema_privilege(ar.authenticated, n.oid, 'USAGE'), false) as authenticated_schema_usage,
    coalesce(lower(coalesce(c.reloptions, '{}')::text)::text[]
             && array['security_invoker=1', 'security_invoker=true', 'security_invoker=yes',
                      'security_invoker=on'], false)        as security_invoker,
    exists (select 1 from pg_depend d
            where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e') as extension_member,
    exists (select 1 from pg_rewrite rw
            join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid
            where rw.ev_class = c.oid and d.refclassid = 'pg_class'::regclass
              and d.refobjid = (select oid from auth_users))   as reads_auth_users,
    (select relrowsecurity from auth_users)                  as auth_users_rls_enabled
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join api_roles ar
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
  and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast\_temp\_%'
order by n.nspname, c.relname
