-- Functions and procedures outside the system schemas (aggregates and window functions have no
-- search_path or SECURITY DEFINER to judge): who may execute them, SECURITY DEFINER, and whether
-- their configuration pins search_path. Identity arguments are formatted (and quoted) by the server.
with api_roles as (
    select
        (select oid from pg_roles where rolname = 'anon')          as anon,
        (select oid from pg_roles where rolname = 'authenticated') as authenticated
)
select
    n.nspname::text                                          as schemaname,
    p.proname::text                                          as name,
    pg_get_function_identity_arguments(p.oid)::text          as identity_args,
    p.prokind::text                                          as kind,
    l.lanname::text                                          as language,
    p.prosecdef                                              as security_definer,
    exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search\_path=%')
                                                             as search_path_set,
    coalesce(has_function_privilege(ar.anon, p.oid, 'EXECUTE'), false)          as anon_execute,
    coalesce(has_function_privilege(ar.authenticated, p.oid, 'EXECUTE'), false) as authenticated_execute,
    exists (select 1 from pg_depend d
            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') as extension_member
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
cross join api_roles ar
where p.prokind in ('f', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast%'
order by 1, 2, 3
