-- Markdown preview: the verified saving of each new index and statement, newest index first.
select schemaname || '.' || indexrelname as index, created_by, status, left(query_preview, 70) as query,
       round(mean_time_ms_before, 2) as mean_ms_before, round(mean_time_ms_after, 2) as mean_ms_after,
       round(saved_ms, 1) as saved_ms, index_scans
from analytics.index_impact
where project = $project
order by created_at desc, saved_ms desc nulls last
limit 20
