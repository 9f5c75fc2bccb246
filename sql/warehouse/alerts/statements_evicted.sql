-- Statements pg_stat_statements evicted because pg_stat_statements.max was full
-- (pg_stat_statements_info.dealloc, reset-aware: analytics.pg_stat_statements_intervals), summed
-- over the project's newest three snapshot intervals. An evicted statement's counters are lost:
-- its calls in that interval are missing from every delta, so the slow-query figures under-count.
--
-- Why three and not the newest one: an eviction is an event, not a state. When the check runs
-- late (the analytics run queued behind others while two more snapshots landed), the newest
-- interval alone would no longer hold the burst and the alert would never fire. Three intervals
-- tolerate two snapshots of lag, and the alert resolves three snapshots after the last eviction.
-- Parameters: $project. NULL (no data) when none of the three is a normal interval (baseline,
-- restart or reset only).
with newest as (
    select *
    from analytics.pg_stat_statements_intervals
    where project = $project
    order by snapshot_at desc
    limit 3
)
select
    sum(dealloc_delta) as value,
    arg_max(statements_count, snapshot_at) as statements_count,
    arg_max(statements_max, snapshot_at) as statements_max,
    arg_max(interval_kind, snapshot_at) as interval_kind,
    max(snapshot_at) as snapshot_at,
    count(dealloc_delta) as intervals_judged
from newest
having count(*) > 0
