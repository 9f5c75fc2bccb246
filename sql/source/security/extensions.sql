-- Installed extensions: their schema (remediation and diagnostic SQL qualify the extension's
-- objects with it) and the version `ALTER EXTENSION ... UPDATE` would install.
select
    e.extname::text                                          as extname,
    n.nspname::text                                          as schemaname,
    e.extversion::text                                       as installed_version,
    a.default_version::text                                  as default_version,
    e.extrelocatable                                         as relocatable
from pg_extension e
join pg_namespace n on n.oid = e.extnamespace
left join pg_available_extensions a on a.name = e.extname
order by 1
