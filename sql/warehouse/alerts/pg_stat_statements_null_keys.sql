-- Data quality: rows of the newest raw.pg_stat_statements_snapshots snapshot without their key
-- (queryid, dbid, userid). Parameters: $project. value = number of bad rows.
-- The newest snapshot taken (raw.snapshot_runs, which records empty snapshots too), so an empty
-- latest snapshot clears the rule instead of the last non-empty one being judged forever.
with latest as (
    select greatest(
        (select max(snapshot_at) from raw.snapshot_runs
         where project = $project and name = 'pg_stat_statements'),
        (select max(snapshot_at) from raw.pg_stat_statements_snapshots where project = $project)) as ts
)
select
    count(*) filter (where s.queryid is null or s.dbid is null or s.userid is null) as value,
    count(*) as rows_checked
from raw.pg_stat_statements_snapshots s, latest
where s.project = $project and s.snapshot_at = latest.ts
