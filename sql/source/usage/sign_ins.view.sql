-- Sign-ins (login / token_refreshed) through the view the monitoring-role script creates
-- (sql/demo/06_monitoring_role.sql): only the time, action, actor id and SSO flag of each entry,
-- so the role never reads the rest of the audit payload (emails, IP addresses, user agents).
select created_at, action, actor_id, actor_via_sso
from aimatrix_monitoring.auth_sign_ins
