-- Is GoTrue's audit log on for this window? When it has no login/token_refreshed rows in the
-- billing cycle, MAU falls back to auth.users.last_sign_in_at and auth.sessions activity.
-- `sign_ins` is sign_ins.view.sql or sign_ins.table.sql (cost/usage.py picks the one readable).
with sign_ins as (
    /*SIGN_INS*/
)
select exists (
    select 1
    from sign_ins
    where created_at >= %(cycle_start)s
      and created_at < %(end_exclusive)s
) as available
