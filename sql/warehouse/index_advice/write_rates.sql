-- Index entries written per day per table over the window: inserts plus non-HOT updates between
-- the first and last statistics snapshot (a HOT update writes no index entry). NULL when the
-- window holds fewer than two snapshots or a counter went down (a statistics reset).
-- Parameters: $project, $since, $until.
with s as (
    select schemaname, relname,
           arg_min(n_tup_ins, snapshot_at) as i0, arg_max(n_tup_ins, snapshot_at) as i1,
           arg_min(n_tup_upd - coalesce(n_tup_hot_upd, 0), snapshot_at) as u0,
           arg_max(n_tup_upd - coalesce(n_tup_hot_upd, 0), snapshot_at) as u1,
           min(snapshot_at) as t0, max(snapshot_at) as t1
    from raw.table_stats
    where project = $project and snapshot_at > $since and snapshot_at <= $until
    group by schemaname, relname
)
select schemaname, relname,
       case when t1 > t0 and i1 >= i0 and u1 >= u0
            then ((i1 - i0) + (u1 - u0)) * 86400.0 / (epoch(t1) - epoch(t0)) end as index_writes_per_day
from s
