-- Monthly active users from GoTrue's audit log: distinct actors of `login` / `token_refreshed`
-- in the billing cycle (calendar month, UTC), counted on the day each one FIRST became active in
-- the cycle, so the days of a cycle add up to the cycle's MAU. Anonymous users count (Supabase
-- bills them); SSO users are those flagged in auth.users (or, for deleted users, by the entry).
-- `sign_ins` is sign_ins.view.sql or sign_ins.table.sql (cost/usage.py picks the one readable).
with sign_ins as (
    /*SIGN_INS*/
),
events as (
    select actor_id, actor_via_sso as via_sso, created_at
    from sign_ins
    where created_at >= %(cycle_start)s
      and created_at < %(end_exclusive)s
),
firsts as (
    select actor_id,
           date_trunc('month', created_at at time zone 'UTC') as cycle,
           min(created_at) as first_at,
           bool_or(coalesce(via_sso, false)) as via_sso
    from events
    where actor_id is not null and actor_id <> ''
    group by 1, 2
)
select (f.first_at at time zone 'UTC')::date as day,
       count(*) as mau,
       count(*) filter (where coalesce(u.is_sso_user, f.via_sso)) as sso_mau,
       count(*) filter (where coalesce(u.is_anonymous, false)) as anonymous_mau
from firsts f
left join auth.users u on u.id::text = f.actor_id
where f.first_at >= %(start)s
group by 1
order by 1
