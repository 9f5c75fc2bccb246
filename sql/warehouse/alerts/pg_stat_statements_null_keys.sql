-- Data quality: rows of the newest raw.pg_stat_statements_snapshots snapshot without their key
-- (queryid, dbid, userid). Parameters: $project. value = number of bad rows.
with latest as (
    select max(snapshot_at) as ts from raw.pg_stat_statements_snapshots where project = $project
)
select
    count(*) filter (where s.queryid is null or s.dbid is null or s.userid is null) as value,
    count(*) as rows_checked
from raw.pg_stat_statements_snapshots s, latest
where s.project = $project and s.snapshot_at = latest.ts
