-- Snapshots of pg_stat_statements (raw.pg_stat_statements_snapshots and raw.pg_stat_statements_info
-- share snapshot_at) that retention removes. Parameters: $full_cutoff, $hourly_cutoff.
--
-- Same tiers as snapshots.drop.sql (last snapshot of each hour, then of each day), and one more
-- rule so analytics.pg_stat_statements_deltas stays exact: a snapshot that follows a restart, a
-- pg_stat_statements_reset() or evictions (dealloc changed) is kept together with the snapshot
-- just before it. Across a reset, "current - previous" becomes "current"; merging the interval
-- before the reset with the one after it would lose what was counted before the reset.
-- Statements evicted and re-created inside a bucket show up as a dealloc change, so they are
-- covered too; only a partial reset of single statements (pg_stat_statements_reset(userid, dbid,
-- queryid), which moves neither dealloc nor stats_reset) inside a bucket is not visible here.
-- A project's first snapshot (the baseline of everything after it) is always kept.
with info as (
    select project, snapshot_at,
           max(dealloc) as dealloc,
           max(stats_reset) as stats_reset,
           max(postmaster_start_time) as postmaster_start_time
    from raw.pg_stat_statements_info
    group by project, snapshot_at
),
snaps as (
    select project, snapshot_at from info
    union
    select distinct project, snapshot_at from raw.pg_stat_statements_snapshots
),
ordered as (
    select s.project, s.snapshot_at,
           i.dealloc, i.stats_reset, i.postmaster_start_time,
           lag(i.dealloc) over w as prev_dealloc,
           lag(i.stats_reset) over w as prev_stats_reset,
           lag(i.postmaster_start_time) over w as prev_postmaster_start_time,
           lag(s.snapshot_at) over w as prev_snapshot_at
    from snaps s
    left join info i using (project, snapshot_at)
    window w as (partition by s.project order by s.snapshot_at)
),
boundaries as (
    -- the snapshot that ends an interval which is not a plain "current - previous" ...
    select project, snapshot_at, prev_snapshot_at
    from ordered
    where prev_snapshot_at is not null
      and (postmaster_start_time is distinct from prev_postmaster_start_time
           or stats_reset is distinct from prev_stats_reset
           or dealloc is distinct from prev_dealloc)
),
pinned as (
    select project, snapshot_at from ordered where prev_snapshot_at is null  -- a project's first
    union
    select project, snapshot_at from boundaries
    union
    select project, prev_snapshot_at from boundaries  -- ... and the snapshot that starts it
),
bucketed as (
    select project, snapshot_at,
           raw.retention_bucket(snapshot_at, $full_cutoff, $hourly_cutoff) as bucket,
           raw.retention_tier(snapshot_at, $full_cutoff, $hourly_cutoff) as tier
    from snaps
),
ranked as (
    select *, snapshot_at = max(snapshot_at) over (partition by project, tier, bucket) as is_last
    from bucketed
)
select r.project, r.snapshot_at
from ranked r
anti join pinned p on p.project = r.project and p.snapshot_at = r.snapshot_at
where not r.is_last
