-- How each pg_stat_statements snapshot interval of one project is to be read.
-- Parameters: $project.
--
-- interval_kind:
--   baseline     the project's first snapshot: nothing to subtract from.
--   restart      pg_postmaster_start_time() changed: counters may or may not have survived
--                (pg_stat_statements.save, crash), so the interval is dropped and this snapshot
--                is the new baseline.
--   stats_reset  pg_stat_statements_info.stats_reset changed or dealloc went down: a full
--                pg_stat_statements_reset() happened inside the interval, so every counter now
--                counts from that reset (delta = current value, never current - previous).
--   normal       subtract the previous snapshot, statement by statement.
-- dealloc_delta: statements evicted in the interval because pg_stat_statements.max was full.
with info as (
    select snapshot_at,
           max(dbid) as dbid,
           max(dealloc) as dealloc,
           max(stats_reset) as stats_reset,
           max(postmaster_start_time) as postmaster_start_time,
           max(statements_count) as statements_count,
           max(statements_max) as statements_max
    from raw.pg_stat_statements_info
    where project = $project
    group by snapshot_at
),
stmt_counts as (
    select snapshot_at, count(*) as statements_in_snapshot
    from raw.pg_stat_statements_snapshots
    where project = $project
    group by snapshot_at
),
snaps as (
    select snapshot_at from info
    union
    select snapshot_at from stmt_counts
),
ordered as (
    select s.snapshot_at,
           lag(s.snapshot_at) over w as prev_snapshot_at,
           i.dealloc, lag(i.dealloc) over w as prev_dealloc,
           i.stats_reset, lag(i.stats_reset) over w as prev_stats_reset,
           i.postmaster_start_time, lag(i.postmaster_start_time) over w as prev_postmaster_start_time,
           i.statements_count, i.statements_max,
           coalesce(c.statements_in_snapshot, 0) as statements_in_snapshot
    from snaps s
    left join info i using (snapshot_at)
    left join stmt_counts c using (snapshot_at)
    window w as (order by s.snapshot_at)
),
kinds as (
    select *,
           case
               when prev_snapshot_at is null then 'baseline'
               when postmaster_start_time <> prev_postmaster_start_time then 'restart'
               when stats_reset <> prev_stats_reset then 'stats_reset'
               when dealloc < prev_dealloc then 'stats_reset'
               else 'normal'
           end as interval_kind
    from ordered
)
select $project as project,
       snapshot_at,
       prev_snapshot_at,
       interval_kind,
       case
           when interval_kind = 'baseline' then null
           when interval_kind = 'stats_reset' or dealloc < prev_dealloc then dealloc
           else dealloc - prev_dealloc
       end as dealloc_delta,
       statements_count,
       statements_max,
       statements_in_snapshot
from kinds
