-- Markdown preview: the project's 10 latest plan changes, with the indexes that came and went.
select strftime(changed_at at time zone 'UTC', '%Y-%m-%d %H:%M') as changed_utc, left(query_preview, 80) as query,
       plan_hash_before || ' -> ' || plan_hash_after as plan,
       array_to_string(indexes_removed, ', ') as no_longer_uses, array_to_string(indexes_added, ', ') as now_uses,
       round(mean_time_ms_before, 2) as mean_ms_before, round(mean_time_ms_after, 2) as mean_ms_after
from analytics.plan_changes
where project = $project
order by changed_at desc, fingerprint
limit 10
