-- One row per project the warehouse has ever seen (also projects removed from the projects file:
-- their history stays): last statistics snapshot, snapshots kept, statements tracked, app-log rows.
select project,
       max(snapshot_at) as last_snapshot_at,
       count(distinct snapshot_at) as snapshots_kept,
       count(distinct queryid) as statements_tracked,
       (select count(*) from raw.query_performance_logs l where l.project = s.project) as app_log_rows
from raw.pg_stat_statements_snapshots s
group by project
order by project
