-- Replace the alerts.* mirror with the state store's rows (registered as Arrow tables src_*).
delete from alerts.alert_events;
insert into alerts.alert_events by name
select id, rule_id, fingerprint, title, message, severity, status, fired_at, resolved_at, resolved_by,
       resolve_notes, metrics::json as metrics, project, check_key, partition_key, kind, detected_at,
       notified, channels, updated_at
from src_events;
delete from alerts.alert_event_history;
insert into alerts.alert_event_history by name select * from src_history;
delete from alerts.notification_deliveries;
insert into alerts.notification_deliveries by name select * from src_deliveries;
