-- Schemas the Data API (PostgREST) serves. Supabase stores PostgREST's `db-schemas` as a setting
-- of the role PostgREST logs in as (ALTER ROLE authenticator SET pgrst.db_schemas = '...'), which
-- our own session does not see, so it is read from pg_db_role_setting: a role's setting (the
-- authenticator's first; one for this database before one for every database), else a setting of
-- this database, else PostgREST's default `public`.
with settings as (
    select s.setrole, s.setdatabase,
           substr(c, strpos(c, '=') + 1) as value
    from pg_db_role_setting s
    cross join lateral unnest(s.setconfig) c
    where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
      and c like 'pgrst.db\_schemas=%'
),
chosen as (
    select st.value,
           case when st.setrole = 0 then 'database'
                else 'role:' || r.rolname || case when st.setdatabase <> 0 then '@database' else '' end
           end as setting_source
    from settings st
    left join pg_roles r on r.oid = st.setrole
    order by (r.rolname = 'authenticator') desc nulls last, (st.setrole <> 0) desc, (st.setdatabase <> 0) desc
    limit 1
),
value as (
    select coalesce((select value from chosen), 'public') as value,
           coalesce((select setting_source from chosen), 'default') as setting_source
)
select distinct btrim(s, ' "')::text as schemaname, v.setting_source::text as setting_source
from value v
cross join lateral unnest(string_to_array(v.value, ',')) s
where btrim(s, ' "') <> ''
order by 1
