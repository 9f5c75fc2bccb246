-- Snapshots of raw.__TABLE__ that retention removes (project, snapshot_at), for every project in
-- the warehouse (also projects no longer in the projects file: their history is thinned, not lost).
-- Parameters: $full_cutoff (keep every snapshot at or after it), $hourly_cutoff (between the two
-- cutoffs keep the last snapshot of each UTC hour; before it, the last of each UTC day).
--
-- Keeping the LAST snapshot of each bucket keeps cumulative counters exact: the difference between
-- two kept snapshots is the sum of the differences of the snapshots removed between them, and it
-- still ends in the same hour (or day) it did before. Buckets nest (the last of a day is the last
-- of its hour), so re-running retention, or a snapshot moving from the hourly to the daily tier,
-- never changes which snapshot represents a bucket.
with snaps as (
    select distinct project, snapshot_at from raw.__TABLE__
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
select project, snapshot_at
from ranked
where not is_last
