-- Is GoTrue's audit log on for this window? When it has no login/token_refreshed rows in the
-- billing cycle, MAU falls back to auth.users.last_sign_in_at and auth.sessions activity.
select exists (
    select 1
    from auth.audit_log_entries
    where created_at >= %(cycle_start)s
      and created_at < %(end_exclusive)s
      and payload ->> 'action' in ('login', 'token_refreshed')
) as available
