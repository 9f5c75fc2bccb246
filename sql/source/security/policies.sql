-- Row level security policies outside the system schemas. `applies_to` expands PUBLIC (polroles
-- = {0}) to every role it reaches that does not bypass RLS, leaving out the pg_* roles, so two
-- permissive policies for one role and action can be found. Expressions are deparsed by the
-- server (pg_get_expr).
select
    n.nspname::text                                          as schemaname,
    c.relname::text                                          as relname,
    p.polname::text                                          as policyname,
    p.polpermissive                                          as permissive,
    case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE'
                  when 'd' then 'DELETE' else 'ALL' end      as command,
    case when p.polroles = array[0::oid] then array['public']
         else array(select r.rolname::text from pg_roles r where r.oid = any (p.polroles) order by 1) end
                                                             as roles,
    array(select r.rolname::text from pg_roles r
          where (r.oid = any (p.polroles) or p.polroles = array[0::oid])
            and r.rolname not like 'pg\_%' and not r.rolbypassrls
          order by 1)                                        as applies_to,
    pg_get_expr(p.polqual, p.polrelid)::text                 as using_expr,
    pg_get_expr(p.polwithcheck, p.polrelid)::text            as check_expr,
    c.relrowsecurity                                         as rls_enabled
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname not in ('pg_catalog', 'information_schema')
order by 1, 2, 3
