-- Dashboard: alerts that are not resolved, most severe and newest first.
select coalesce(project, '*') as project, id, severity, status, title, message, rule_id,
       fired_at, detected_at
from alerts.alert_events
where status not in ('resolved', 'normal') and resolved_at is null
order by case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 else 3 end,
         coalesce(fired_at, detected_at) desc
limit 200
