-- Sign-ins (login / token_refreshed) read from GoTrue's audit log itself: for a role that may read
-- auth.audit_log_entries (e.g. postgres) on a database where the monitoring-role view is absent.
select created_at,
       payload ->> 'action' as action,
       payload ->> 'actor_id' as actor_id,
       (payload ->> 'actor_via_sso') = 'true' as actor_via_sso
from auth.audit_log_entries
where payload ->> 'action' in ('login', 'token_refreshed')
