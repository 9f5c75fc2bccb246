-- MAU fallback when the audit log is off: a user is active in the cycle when their
-- last_sign_in_at, or a session's creation or refresh, falls in it. Only the latest sign-in is
-- kept by GoTrue, so this under-counts users who signed in earlier and not since; the method
-- is recorded with the figure. Counted on the day of first activity in the cycle, as the audit
-- log query does.
with activity as (
    select id::text as actor_id, last_sign_in_at as at
    from auth.users
    where last_sign_in_at >= %(cycle_start)s and last_sign_in_at < %(end_exclusive)s
    union all
    select user_id::text, created_at
    from auth.sessions
    where created_at >= %(cycle_start)s and created_at < %(end_exclusive)s
    union all
    select user_id::text, refreshed_at at time zone 'UTC'
    from auth.sessions
    where refreshed_at at time zone 'UTC' >= %(cycle_start)s
      and refreshed_at at time zone 'UTC' < %(end_exclusive)s
),
firsts as (
    select actor_id, date_trunc('month', at at time zone 'UTC') as cycle, min(at) as first_at
    from activity
    group by 1, 2
)
select (f.first_at at time zone 'UTC')::date as day,
       count(*) as mau,
       count(*) filter (where coalesce(u.is_sso_user, false)) as sso_mau,
       count(*) filter (where coalesce(u.is_anonymous, false)) as anonymous_mau
from firsts f
left join auth.users u on u.id::text = f.actor_id
where f.first_at >= %(start)s
group by 1
order by 1
